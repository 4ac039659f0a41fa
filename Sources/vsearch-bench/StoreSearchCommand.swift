import ArgumentParser
import Catalogue
import Featurizer
import Foundation
import VSearchCore

/// Times a catalogue search in-process, with the local-feature check at several candidate counts, beside
/// the same candidates checked one after another on one thread.
struct StoreSearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-search",
        abstract: "Time a store's search with its local-feature check at several candidate counts.",
        discussion: """
            Describes every query once with the store's model, then searches the store for each query --repeat \
            times with the model's check at each --candidates count (0: no check; a model that verifies nothing \
            is timed at 0 only), the counts taking turns so that a slow minute falls on all of them. Prints one JSON line per count: the median milliseconds \
            of one search ("searchMs"), and of checking the same query's best candidates one after another on \
            one thread ("serialCheckMs": matching and placement only, features already in memory), and the share \
            of those checked in full ("checkedInFull": all of them, unless a screen stops some at its sample).
            """
    )

    @Option(help: "The store directory.")
    var store: String

    @Option(help: "The model directory (the store's model).")
    var model: String

    @Option(parsing: .upToNextOption, help: "Candidate counts to time; 0 searches without the check.")
    var candidates: [Int] = [0, 1, 5, 10, 20]

    @Option(help: "Screen each candidate first with every Nth query keypoint (0: the model's own setting).")
    var screen = 0

    @Option(help: "With --screen: the consistent matches a sample must find for a full check.")
    var screenMinimum = 3

    @Option(help: "Timed searches per query and count.")
    var `repeat` = 5

    @Argument(help: "Query pictures.")
    var queries: [String]

    func run() async throws {
        let featurizer = try Featurizer(model: try ModelDirectory(path: model), options: Featurizer.Options())
        let catalogue = try CatalogueStore.open(directory: store, mode: .read)
        // A model that verifies nothing (the plain model) is timed without the check, as the baseline.
        var baseCheck = CandidateCheck(model: featurizer)
        if screen > 1 { baseCheck?.spec.screen = VerificationSpec.Screen(every: screen, minimum: screenMinimum) }
        let counts = baseCheck == nil ? [0] : candidates
        var pictures: [PictureDescription] = []
        for result in await featurizer.describe(files: queries, for: .query) { pictures.append(try result.get()) }
        let base = CatalogueQuery(
            k: 5, windowPenalty: featurizer.windowPenalty, sharedPrefix: featurizer.sharedPrefix)
        var searching: [Int: [Double]] = [:]
        var serial: [Int: [Double]] = [:]
        var checked: [Int: Int] = [:]
        var inFull: [Int: Int] = [:]
        for _ in 0..<max(1, self.repeat) {
            for picture in pictures {
                for count in counts {
                    var query = base
                    if count > 0, var check = baseCheck, let features = picture.localFeatures {
                        check.spec.candidates = count
                        check.pictures = [features]
                        query.check = check
                    }
                    let start = ContinuousClock.now
                    _ = try catalogue.search(
                        regions: [picture.vectors], modelID: featurizer.descriptor.id, query: query)
                    searching[count, default: []].append(VerifyCommand.milliseconds(ContinuousClock.now - start))
                    guard count > 0, let check = baseCheck, let features = picture.localFeatures else { continue }
                    // The vectors' best items stand in for the candidates the check saw (G1 may order them
                    // a little differently).
                    var nearest = base
                    nearest.k = count
                    let items = try catalogue.search(
                        regions: [picture.vectors], modelID: featurizer.descriptor.id, query: nearest)
                    let stored = try items[0].compactMap { try catalogue.localFeatures(ofItem: $0.id) }
                    let serialStart = ContinuousClock.now
                    let prepared = check.query(features)
                    for item in stored where check.matches(prepared, candidate: item).inFull {
                        inFull[count, default: 0] += 1
                    }
                    checked[count, default: 0] += stored.count
                    serial[count, default: []].append(VerifyCommand.milliseconds(ContinuousClock.now - serialStart))
                }
            }
        }
        for count in counts {
            printJSONLine([
                "candidates": count, "searchMs": VerifyCommand.median(searching[count] ?? []),
                "serialCheckMs": VerifyCommand.median(serial[count] ?? []),
                "checkedInFull": Double(inFull[count] ?? 0) / Double(max(1, checked[count] ?? 0)),
            ])
        }
    }
}
