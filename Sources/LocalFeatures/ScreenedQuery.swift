/// A query picture prepared for a check in two steps
/// (``GeometricVerifier/consistentMatches(query:candidate:minimum:)``): its sample, every `every`-th keypoint,
/// is matched first, and the other keypoints only for a candidate the sample passes, so that a full check
/// repeats none of the sample's work.
public struct ScreenedQuery: Sendable {
    /// The whole query picture.
    public let picture: LocalFeatures
    /// The sample's stride.
    public let every: Int
    /// Keypoints 0, `every`, 2·`every`, … of the picture (``LocalFeatures/sample(every:)``).
    public let sample: LocalFeatures
    /// The descriptors of the keypoints not in the sample, in the picture's order.
    let rest: [UInt64]

    public init(_ picture: LocalFeatures, every: Int) {
        let every = max(1, every)
        self.picture = picture
        self.every = every
        sample = picture.sample(every: every)
        var rest: [UInt64] = []
        rest.reserveCapacity(4 * (picture.count - sample.count))
        for i in 0..<picture.count where i % every != 0 { rest += picture.descriptors[(4 * i)..<(4 * i + 4)] }
        self.rest = rest
    }

    /// How many keypoints the sample leaves out (the length of ``rest`` in keypoints).
    var restCount: Int { picture.count - sample.count }

    /// Where keypoint `i` of the picture is: in the sample, or in ``rest``, at that index.
    func position(of i: Int) -> (inSample: Bool, index: Int) {
        i % every == 0 ? (true, i / every) : (false, i - i / every - 1)
    }
}
