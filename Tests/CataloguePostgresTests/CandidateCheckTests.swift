import Foundation
import GRDB
import ImageDecoding
import LocalFeatures
import Testing
import VSearchCore
import VSearchTesting

@testable import Catalogue
@testable import CataloguePostgres

/// The check of a search's best candidates by local features (`DescriptorSpec.verify`), the same on
/// both backends: each keeps an item's local features with its vector, fuses the blend's two cosines
/// (G1), and raises the candidates whose stored features agree with the query picture.
extension BackendTests {
    /// The blend layout of these tests: two plain values, then two pooled ones; the plain weight 0.4.
    static let plainWeight: Float = 0.4

    /// An item's vector [a ; s] / √2 whose halves, each `half` values long, have cosines `plain` and
    /// `window` with the query's.
    static func item(plain: Float, window: Float, half: Int = 2) -> [Float] {
        let padding = [Float](repeating: 0, count: half - 2)
        return
            ([plain, (1 - plain * plain).squareRoot()] + padding + [window, (1 - window * window).squareRoot()]
            + padding).map { $0 / (2 as Float).squareRoot() }
    }

    /// The query's one window [p·q ; (1 − p)·w] / norm, with q = w = (1, 0, …).
    static func query(half: Int = 2) -> [Float] {
        let p = plainWeight
        let norm = (p * p + (1 - p) * (1 - p)).squareRoot()
        let padding = [Float](repeating: 0, count: half - 1)
        return ([p] + padding + [1 - p] + padding).map { $0 / norm }
    }

    static func features(_ photo: String, crop: Bool = false) throws -> LocalFeatures {
        var configuration = LocalFeatureExtractor.Configuration()
        configuration.maximumKeypoints = 500
        configuration.longestSide = 480
        var image = try ImageDecoder().decode(file: try Repository.photo("skimage/\(photo).png"))
        if crop {
            // The middle 70 %, as a camera that sees the object closer.
            let (x0, y0) = (image.width * 15 / 100, image.height * 15 / 100)
            let (width, height) = (image.width * 70 / 100, image.height * 70 / 100)
            var pixels: [UInt8] = []
            for y in y0..<(y0 + height) {
                pixels += image.pixels[((y * image.width + x0) * 3)..<((y * image.width + x0 + width) * 3)]
            }
            image = Image(width: width, height: height, pixels: pixels)
        }
        return LocalFeatureExtractor(configuration: configuration).features(of: image)
    }

    /// A hit as a backend ranks it.
    struct CheckedHit: Equatable {
        var id: String
        var score: Float
    }

    /// Chelsea first by the vectors, then astronaut, then the coffee cup that the query picture shows.
    static let fusedHits = [
        CheckedHit(id: "chelsea", score: 0.9), CheckedHit(id: "astronaut", score: 0.8),
        CheckedHit(id: "coffee", score: 0.7),
    ]

    /// The local features of the three photos of ``fusedHits``, by id.
    static func threePhotos() throws -> [String: LocalFeatures] {
        Dictionary(uniqueKeysWithValues: try ["astronaut", "chelsea", "coffee"].map { ($0, try features($0)) })
    }

    /// The work a backend runs beside the check (its item reads) runs once, while the candidates are
    /// matched, and the ranking is the one without it.
    @Test func theWorkBesideACheckRunsOnceAndChangesNoRanking() throws {
        let stored = try Self.threePhotos()
        let fused = Self.fusedHits
        let check = CandidateCheck(
            spec: VerificationSpec(candidates: 2), plainWeight: nil,
            pictures: [try Self.features("coffee", crop: true)])
        let picture = try #require(check.features(ofPicture: 0))
        for candidates in [1, 2, 3] {
            var spec = check
            spec.spec.candidates = candidates
            let alone = spec.raised(
                fused, score: \.score, picture: picture, stored: { stored[$0.id] }, ordered: { $0.id < $1.id })
            let runs = Locked(0)
            let beside = spec.raised(
                fused, score: \.score, picture: picture, stored: { stored[$0.id] }, ordered: { $0.id < $1.id },
                alongside: { runs.withLock { $0 += 1 } })
            #expect(beside == alone)
            #expect(runs.withLock { $0 } == 1)
            // Only a checked coffee is raised above chelsea.
            #expect(alone.first?.id == (candidates == 3 ? "coffee" : "chelsea"), "\(candidates): \(alone)")
        }
    }

    /// A screened check gives a candidate whose sample finds enough matches exactly the full check's bonus,
    /// and one whose sample finds too few nothing.
    @Test func aScreenedCandidateGainsItsFullBonusOrNothing() throws {
        let stored = try Self.threePhotos()
        let picture = try Self.features("coffee", crop: true)
        let fused = Self.fusedHits
        func raised(_ screen: VerificationSpec.Screen?) -> [String: Float] {
            let check = CandidateCheck(spec: VerificationSpec(candidates: 3, screen: screen), plainWeight: nil)
            let hits = check.raised(
                fused, score: \.score, picture: picture, stored: { stored[$0.id] }, ordered: { $0.id < $1.id })
            return Dictionary(uniqueKeysWithValues: hits.map { ($0.id, $0.score) })
        }
        let verifier = GeometricVerifier()
        let sampled = try ["astronaut", "chelsea", "coffee"].map {
            verifier.consistentMatches(query: picture.sample(every: 4), candidate: try #require(stored[$0]))
        }
        let full = raised(nil)
        // The cup seen closer keeps tens of matches in a quarter of its keypoints; the other photos a handful.
        #expect(sampled[2] >= 10 && sampled[0] < 10 && sampled[1] < 10, "\(sampled)")
        let minimum = max(sampled[0], sampled[1]) + 1
        let screened = raised(VerificationSpec.Screen(every: 4, minimum: minimum))
        #expect(screened["coffee"] == full["coffee"])
        #expect(screened["chelsea"] == 0.9 && screened["astronaut"] == 0.8)
        #expect(full["coffee"]! > 0.9)
        // A screen nothing passes leaves every fused score as it was.
        let strict = raised(VerificationSpec.Screen(every: 4, minimum: sampled.max()! + 1))
        #expect(strict == ["chelsea": 0.9, "astronaut": 0.8, "coffee": 0.7])
    }

    /// Each half two values long, and on PostgreSQL also 1,100 (a model of 2,200 dimensions, which pgvector
    /// cannot index, searched in the catalogue's `VectorMirror`, whose features cache must follow every write).
    @Test(arguments: [(Backend.embedded, 2), (.postgres, 2), (.postgres, 1_100)])
    func theBestCandidatesAreCheckedByTheirLocalFeatures(_ kind: Backend, half: Int) async throws {
        let log = RecordedLog()
        let fixture = try await Fixture.make(kind, dimension: 2 * half, logger: log.logger)
        let catalogue = fixture.backend
        let query = Self.query(half: half)
        let prefix = half
        // By the blend's weights "coffee" leads (0.4·0.5 + 0.6·0.7 against 0.4·0.9 + 0.6·0.3); G1 takes the
        // better cosine of each item, as no second item has a window above the gate: chelsea 0.9, coffee 0.7.
        let rows: [(String, [Float])] = [
            ("chelsea", Self.item(plain: 0.9, window: 0.3, half: half)),
            ("coffee", Self.item(plain: 0.5, window: 0.7, half: half)),
            ("astronaut", Self.item(plain: 0.1, window: 0.2, half: half)),
        ]
        var staged: [StagedItem] = []
        for (id, _) in rows {
            var item = Samples.staged(id)
            item.localFeatures = try Self.features(id)
            staged.append(item)
        }
        try await catalogue.put(staged, vectors: rows.flatMap(\.1), onlyNew: false)

        let plain = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 3, sharedPrefix: prefix))
        #expect(plain[0].map(\.id) == ["coffee", "chelsea", "astronaut"])

        var check = CandidateCheck(spec: VerificationSpec(), plainWeight: Self.plainWeight)
        let fusedOnly = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 3, sharedPrefix: prefix, check: check))
        #expect(fusedOnly[0].map(\.id) == ["chelsea", "coffee", "astronaut"])
        for (match, want) in zip(fusedOnly[0], [Float(0.9), 0.7, 0.2]) {
            #expect(abs(match.score - want) < 1e-3, "\(match.id): \(match.score), G1 \(want)")
        }

        // The query picture is the coffee cup seen closer: its keypoints land on the cup's, and lift it first.
        check.pictures = [try Self.features("coffee", crop: true)]
        let checked = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 2, sharedPrefix: prefix, check: check))
        #expect(checked[0].map(\.id) == ["coffee", "chelsea"])
        let coffee = try #require(checked[0].first)
        #expect(coffee.score > 0.7 + 0.2, "coffee's consistent matches should add more than 0.2: \(coffee.score)")

        // A minimum score applies to the scores a caller sees, after the check: both vector scores are
        // about 0.5-0.6, but coffee scores above 0.9 and chelsea 0.9; astronaut, at 0.2, is left out.
        let bounded = try await catalogue.search(
            regions: [[query]], modelID: "test/1",
            query: CatalogueQuery(k: 3, minScore: 0.8, sharedPrefix: prefix, check: check))
        #expect(bounded[0].map(\.id) == ["coffee", "chelsea"])
        #expect(bounded[0].allSatisfy { $0.score >= 0.8 })

        // Only the best `candidates` are checked: with one, chelsea alone is, and coffee stays second.
        check.spec.candidates = 1
        let one = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 2, sharedPrefix: prefix, check: check))
        #expect(one[0].map(\.id) == ["chelsea", "coffee"])
        #expect(abs(one[0][1].score - 0.7) < 1e-3)

        // An item stored again without features loses them: nothing is left to raise it.
        check.spec.candidates = 20
        try await catalogue.put([Samples.staged("coffee")], vectors: rows[1].1, onlyNew: false)
        let stale = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 2, sharedPrefix: prefix, check: check))
        #expect(stale[0].map(\.id) == ["chelsea", "coffee"])

        // Stored features that do not decode leave their item unchecked; the search carries on.
        try await catalogue.put([staged[1]], vectors: rows[1].1, onlyNew: false)
        switch kind {
        case .embedded:
            let store = try #require(catalogue as? CatalogueStore)
            try store.write { db in
                try db.execute(sql: "UPDATE item_local_features SET features = x'00010203'")
            }
        case .postgres:
            // As a write of vsearch's own: the row's `updated_at` and the change token move.
            _ = try await SharedServer.require().psql(
                "UPDATE vsearch_items SET local_features = '\\x00010203', updated_at = now(); SELECT nextval('vsearch_changes')",
                database: fixture.database)
        }
        #expect(log.messages.isEmpty)
        // "Similar items" reads one item's features: it gets none, and the log says why, once.
        #expect(try await catalogue.localFeatures(ofItem: "astronaut") == nil)
        #expect(try await catalogue.localFeatures(ofItem: "astronaut") == nil)
        #expect(log.messages.count == 1 && log.messages[0].contains("item 'astronaut'"), "\(log.messages)")
        let corrupt = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 3, sharedPrefix: prefix, check: check))
        #expect(corrupt[0].map(\.id) == ["chelsea", "coffee", "astronaut"])
        // The log names each damaged item (all three were overwritten) and why, once, however often it is checked.
        _ = try await catalogue.search(
            regions: [[query]], modelID: "test/1", query: CatalogueQuery(k: 3, sharedPrefix: prefix, check: check))
        let damaged = log.messages.filter { $0.contains("do not decode") }
        #expect(damaged.count == 3, "\(log.messages)")
        #expect(damaged.contains { $0.contains("item 'coffee'") && $0.contains("no VLF1 tag") })
        await fixture.close()
    }
}
