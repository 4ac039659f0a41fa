import ArgumentParser
import Foundation
import VSearchCore
import VectorIndex

/// Times the index part of a search as the catalogue grows: the plain model's one 1,280-d vector
/// against the blend recipe's windows (2,560-d rows, each window sharing the picture's plain half).
///
/// The check by local features costs the same at any catalogue size (it reads a fixed number of
/// candidates); the windows' scan grows with the rows, so this is where the two models part as a
/// catalogue grows.
struct WindowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "windows",
        abstract: "Time the plain model's index search beside the blend recipe's windows at several catalogue sizes.",
        discussion: """
            Rows and queries are random non-negative unit vectors shaped like the models' (the blend's rows \
            [a ; s] / √2, its queries one row per window [0.4 q ; 0.6 w] normalised, all sharing q). Each size \
            is searched --repeat times, flat below 20,000 rows and HNSW (the store's default choice) from there; \
            prints one JSON line per size with the median milliseconds of each and their ratio.
            """
    )

    @Option(parsing: .upToNextOption, help: "Catalogue sizes.")
    var sizes: [Int] = [500, 2_000, 5_000, 20_000]

    @Option(help: "Windows per query picture (the blend's 48 plus the whole picture).")
    var windows = 49

    @Option(help: "Hits kept per window (the check's 20 candidates).")
    var hits = 20

    @Option(help: "Searches timed per size.")
    var `repeat` = 30

    @Option(help: "From this many rows the index is HNSW, as the store's auto choice.")
    var hnswFrom = 20_000

    @Option(
        help:
            "Draw rows and queries around this many centres (noise 0.08), as scripts/bench/index.py does; 0: no centres."
    )
    var clusters = 0

    @Option(
        help:
            "Before each timed search, write this many KiB from one thread per core, as a server's featurize empties the caches (0: warm)."
    )
    var evictKib = 0

    func run() throws {
        var generator = SeededGenerator(seed: 7)
        let plainDimension = 1_280
        // Centres as scripts/bench/index.py makes them: uniform values cubed, not normalised, so the noise is small beside them.
        let plainCentres = (0..<(clusters * plainDimension)).map { _ in
            pow(Float.random(in: 0..<1, using: &generator), 3)
        }
        let windowCentres = (0..<(clusters * plainDimension)).map { _ in
            pow(Float.random(in: 0..<1, using: &generator), 3)
        }
        func rows(_ count: Int, _ centres: [Float]) -> [Float] {
            clusters > 0
                ? Self.around(centres, count, plainDimension, &generator)
                : Self.unitRows(count, plainDimension, &generator)
        }
        for size in sizes {
            let plainRows = rows(size, plainCentres)
            let windowRows = rows(size, windowCentres)
            var blendRows = [Float]()
            blendRows.reserveCapacity(size * 2 * plainDimension)
            let half = 1 / (2 as Float).squareRoot()
            for row in 0..<size {
                blendRows += plainRows[(row * plainDimension)..<((row + 1) * plainDimension)].map { $0 * half }
                blendRows += windowRows[(row * plainDimension)..<((row + 1) * plainDimension)].map { $0 * half }
            }
            let ids = (0..<size).map { UInt64($0) }
            let useHNSW = size >= hnswFrom
            let plain: any VectorIndex = try Self.index(dimension: plainDimension, hnsw: useHNSW)
            let blend: any VectorIndex = try Self.index(dimension: 2 * plainDimension, hnsw: useHNSW)
            try plain.add(ids: ids, vectors: plainRows)
            try blend.add(ids: ids, vectors: blendRows)

            var plainTimes: [Double] = []
            var blendTimes: [Double] = []
            var floatTimes: [Double] = []
            var differing = 0
            var largestShortfall: Float = 0
            for _ in 0..<max(1, self.repeat) {
                let q = rows(1, plainCentres)
                let w = rows(windows, windowCentres)
                var queries = [Float]()
                let norm = (0.4 * 0.4 + 0.6 * 0.6 as Float).squareRoot()
                for i in 0..<windows {
                    queries += q.map { 0.4 * $0 / norm }
                    queries += w[(i * plainDimension)..<((i + 1) * plainDimension)].map { 0.6 * $0 / norm }
                }
                evictCaches()
                var start = ContinuousClock.now
                _ = try plain.search(q, k: 5, filter: nil)
                plainTimes.append(VerifyCommand.milliseconds(ContinuousClock.now - start))
                evictCaches()
                start = ContinuousClock.now
                guard let flat = blend as? FlatIndex else {
                    _ = try blend.search(batch: queries, k: hits, filter: nil)
                    blendTimes.append(VerifyCommand.milliseconds(ContinuousClock.now - start))
                    continue
                }
                let found = try flat.search(batch: queries, k: hits, filter: nil, sharedPrefix: plainDimension)
                blendTimes.append(VerifyCommand.milliseconds(ContinuousClock.now - start))
                // The same windows with float products: the 8-bit scan should find the same hits.
                flat.exactBatchProducts = true
                evictCaches()
                start = ContinuousClock.now
                let exact = try flat.search(batch: queries, k: hits, filter: nil, sharedPrefix: plainDimension)
                floatTimes.append(VerifyCommand.milliseconds(ContinuousClock.now - start))
                flat.exactBatchProducts = false
                for (a, b) in zip(found, exact) where a.map(\.id) != b.map(\.id) {
                    differing += 1
                    // How far the 8-bit scan's last hit falls below the float scan's: a near tie, or a miss.
                    largestShortfall = max(largestShortfall, (b.last?.score ?? 0) - (a.last?.score ?? 0))
                }
            }
            let (p, b) = (VerifyCommand.median(plainTimes), VerifyCommand.median(blendTimes))
            var line: [String: Any] = [
                "rows": size, "hnsw": useHNSW, "plainMs": p, "windowsMs": b, "ratio": b / max(p, 1e-9),
            ]
            if !floatTimes.isEmpty {
                line["floatWindowsMs"] = VerifyCommand.median(floatTimes)
                line["windowListsDiffering"] = differing
                line["largestShortfall"] = Double(largestShortfall)
                line["windowLists"] = windows * max(1, self.repeat)
            }
            printJSONLine(line)
        }
    }

    /// Writes `evictKib` KiB from each of as many threads as there are cores (which the scheduler spreads over
    /// them, though nothing pins them), so the next search finds its rows in a shared cache or memory.
    private func evictCaches() {
        guard evictKib > 0 else { return }
        let floats = evictKib * 256
        WorkerThreads.forEach(WorkerThreads.coreCount) { part in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: floats)
            defer { buffer.deallocate() }
            for i in stride(from: 0, to: floats, by: 16) { buffer[i] = Float(i + part) }
        }
    }

    private static func index(dimension: Int, hnsw: Bool) throws -> any VectorIndex {
        hnsw ? try HNSWIndex(dimension: dimension) : try FlatIndex(dimension: dimension)
    }

    /// `count` unit rows, each a random one of `centres` plus Gaussian noise of 0.08, kept non-negative.
    private static func around(
        _ centres: [Float], _ count: Int, _ dimension: Int, _ generator: inout SeededGenerator
    ) -> [Float] {
        let centreCount = centres.count / dimension
        var rows = [Float](repeating: 0, count: count * dimension)
        for r in 0..<count {
            let c = Int.random(in: 0..<centreCount, using: &generator)
            var sum: Float = 0
            for i in 0..<dimension {
                // Box–Muller: one normal value from two uniform ones.
                let u = Float.random(in: Float.ulpOfOne..<1, using: &generator)
                let v = Float.random(in: 0..<1, using: &generator)
                let noise = (-2 * log(u)).squareRoot() * cos(2 * Float.pi * v) * 0.08
                let value = max(0, centres[c * dimension + i] + noise)
                rows[r * dimension + i] = value
                sum += value * value
            }
            let scale = 1 / max(sum.squareRoot(), 1e-12)
            for i in 0..<dimension { rows[r * dimension + i] *= scale }
        }
        return rows
    }

    /// `count` random unit rows with sparse, non-negative values, as pooled CNN features are.
    private static func unitRows(_ count: Int, _ dimension: Int, _ generator: inout SeededGenerator) -> [Float] {
        var rows = [Float](repeating: 0, count: count * dimension)
        for r in 0..<count {
            var sum: Float = 0
            for i in 0..<dimension {
                let u = Float.random(in: 0..<1, using: &generator)
                let value = u * u * u
                rows[r * dimension + i] = value
                sum += value * value
            }
            let scale = 1 / max(sum.squareRoot(), 1e-12)
            for i in 0..<dimension { rows[r * dimension + i] *= scale }
        }
        return rows
    }
}
