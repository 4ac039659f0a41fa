import CVectorKernels
import VSearchCore

/// One half of a blend's whitening (`DescriptorSpec.whitening`): a vector v becomes
/// (v − mean) + Σᵢ gainᵢ · ⟨v − mean, dᵢ⟩ · dᵢ, normalised.
///
/// The directions dᵢ are the learning photos' first principal directions, and gainᵢ is
/// √(f / (λᵢ + f)) − 1 for the direction's variance λᵢ and a floor f: the directions every photo
/// shares are scaled down and the rest keep their length. With every direction the photos span,
/// this is a shrunk PCA whitening up to a turn; a few directions hold nearly all of its gain and
/// cost 2 · C · k operations per vector (Round 9 of docs/retrieval.md).
struct WhiteningMap: Sendable, Equatable {
    /// Subtracted first: the learning photos' mean vector.
    let mean: [Float]
    /// The k unit directions, one after another, each `mean.count` values long.
    let directions: [Float]
    /// What each direction's component gains (its scale less one), from −1 to 0 for a whitening.
    let gains: [Float]

    /// The map applied to one unit vector of `mean.count` values; a vector of another length (a model
    /// whose `descriptor.map` has other channels than its `feature` output) is refused, not mapped.
    func apply(_ vector: [Float]) throws(FeaturizerError) -> [Float] {
        guard vector.count == mean.count else {
            throw .inference(
                reason: "a whitening map of \(mean.count) values cannot map a vector of \(vector.count)")
        }
        let width = mean.count
        let centred = zip(vector, mean).map { $0 - $1 }
        var mapped = centred
        directions.withUnsafeBufferPointer { directions in
            centred.withUnsafeBufferPointer { centred in
                mapped.withUnsafeMutableBufferPointer { mapped in
                    for (i, gain) in gains.enumerated() {
                        let direction = directions.baseAddress! + i * width
                        let step = vsk_dot(centred.baseAddress!, direction, width) * gain
                        for j in 0..<width { mapped[j] += step * direction[j] }
                    }
                }
            }
        }
        FeatureMapPooling.normalize(&mapped)
        return mapped
    }

    /// The two maps in the file at `path` (plain half first), for halves of `channels` values;
    /// a file of another shape, or with values no whitening has, is refused with what is wrong.
    static func pair(path: String, channels: Int) throws(FeaturizerError) -> (plain: WhiteningMap, view: WhiteningMap) {
        let array: NumpyArray
        do {
            array = try NumpyArray.read(path: path)
        } catch {
            throw .model(path: path, reason: "the whitening map: \(error.reason)")
        }
        let shape = array.shape
        guard shape.count == 3, shape[0] == 2, shape[1] >= 1, shape[2] == channels + 1,
            array.values.count == shape.reduce(1, *)
        else {
            throw .model(
                path: path,
                reason: "the whitening map has shape \(shape), expected [2, 1 + directions, \(channels + 1)]")
        }
        let rows = shape[1]
        let maps = try (0..<2).map { (half: Int) throws(FeaturizerError) -> WhiteningMap in
            func row(_ index: Int) -> ArraySlice<Float> {
                let start = ((half * rows) + index) * (channels + 1)
                return array.values[start..<(start + channels + 1)]
            }
            let mean = Array(row(0).dropLast())
            var directions: [Float] = []
            var gains: [Float] = []
            for index in 1..<rows {
                let values = row(index)
                let direction = Array(values.dropLast())
                let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard abs(length - 1) < 1e-3 else {
                    throw .model(
                        path: path, reason: "whitening direction \(index) of half \(half) is not a unit vector")
                }
                guard let gain = values.last, gain >= -1, gain <= 0 else {
                    throw .model(
                        path: path, reason: "whitening direction \(index) of half \(half) has a gain outside -1...0")
                }
                directions += direction
                gains.append(gain)
            }
            guard mean.allSatisfy(\.isFinite) else {
                throw .model(path: path, reason: "the whitening map's mean of half \(half) is not finite")
            }
            return WhiteningMap(mean: mean, directions: directions, gains: gains)
        }
        return (maps[0], maps[1])
    }
}
