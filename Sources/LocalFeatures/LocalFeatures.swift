import Foundation
import ImageDecoding
import ImageOps

/// The local features of one picture: corners at several scales, each with a 256-bit binary descriptor.
///
/// They answer a question a single image vector cannot: is *this* object, at some place, size and turn,
/// in that picture? ``GeometricVerifier`` counts the descriptor matches between two pictures that agree on
/// one such placement.
public struct LocalFeatures: Sendable, Equatable {
    /// Each keypoint's position, in the pixels of the picture as the extractor resized it.
    public var points: [SIMD2<Float>]
    /// Each keypoint's orientation, in radians.
    public var angles: [Float]
    /// Four 64-bit words per keypoint, in the order of `points`.
    public var descriptors: [UInt64]

    public var count: Int { points.count }

    public init(points: [SIMD2<Float>], angles: [Float], descriptors: [UInt64]) {
        precondition(angles.count == points.count && descriptors.count == 4 * points.count, "sizes differ")
        self.points = points
        self.angles = angles
        self.descriptors = descriptors
    }

    /// Keypoints 0, `n`, 2`n`, …: a sample spread over every pyramid level, since the extractor lists the
    /// keypoints level by level.
    public func sample(every n: Int) -> LocalFeatures {
        let kept = Array(stride(from: 0, to: count, by: max(1, n)))
        var sampled: [UInt64] = []
        sampled.reserveCapacity(4 * kept.count)
        for i in kept { sampled += descriptors[(4 * i)..<(4 * i + 4)] }
        return LocalFeatures(points: kept.map { points[$0] }, angles: kept.map { angles[$0] }, descriptors: sampled)
    }
}

/// Finds and describes the local features of pictures: FAST corners ranked by Harris's measure on an image
/// pyramid, each with an orientation and steered binary tests (the ORB construction). Safe to share.
public struct LocalFeatureExtractor: Sendable {
    /// How pictures are described.
    public struct Configuration: Sendable, Equatable, Codable {
        /// A picture is first shrunk so that its longest side is at most this.
        public var longestSide: Int = 640
        /// The most keypoints kept per picture, shared among the pyramid's levels by their size.
        public var maximumKeypoints: Int = 1_500
        /// Pyramid levels, each `scaleFactor` smaller than the last.
        public var levels: Int = 8
        public var scaleFactor: Float = 1.2
        /// FAST's brightness threshold.
        public var cornerThreshold: Int = 20

        public init() {}
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The features of `image`. With `alpha` (one byte per pixel of `image`, as `ImageWithAlpha` has it),
    /// keypoints are kept only where the picture is mostly opaque: an item's outline, not its background.
    public func features(of image: Image, alpha: [UInt8]? = nil) -> LocalFeatures {
        precondition(alpha == nil || alpha?.count == image.width * image.height, "alpha does not match the image")
        let full = GreyPlane(image)
        let shrunk = ImageResize.fit(
            grey: full.pixels, width: full.width, height: full.height, longestSide: configuration.longestSide)
        let grey = GreyPlane(width: shrunk.width, height: shrunk.height, pixels: shrunk.pixels)
        return features(of: grey, alpha: alpha, alphaWidth: image.width, alphaHeight: image.height)
    }

    /// The features of a grey plane; `alpha`, when given, covers the same picture at `alphaWidth × alphaHeight`.
    func features(of base: GreyPlane, alpha: [UInt8]?, alphaWidth: Int = 0, alphaHeight: Int = 0) -> LocalFeatures {
        let border = BinaryDescriptor.radius + 1
        let detector = CornerDetector(threshold: configuration.cornerThreshold, border: border)
        var points: [SIMD2<Float>] = []
        var angles: [Float] = []
        var descriptors: [UInt64] = []
        var plane = base
        for (level, quota) in quotas().enumerated() {
            if level > 0 {
                let scale = powf(configuration.scaleFactor, Float(level))
                let width = Int((Float(base.width) / scale).rounded())
                let height = Int((Float(base.height) / scale).rounded())
                guard width > 2 * border, height > 2 * border else { break }
                plane = plane.resampled(width: width, height: height)
            }
            // Level pixels → base pixels, and base pixels → alpha pixels.
            let toBase = (Float(base.width) / Float(plane.width), Float(base.height) / Float(plane.height))
            let toAlpha = (Float(alphaWidth) / Float(base.width), Float(alphaHeight) / Float(base.height))
            let corners = detector.corners(in: plane, limit: quota) { x, y in
                guard let alpha else { return true }
                let ax = min(Int((Float(x) + 0.5) * toBase.0 * toAlpha.0), alphaWidth - 1)
                let ay = min(Int((Float(y) + 0.5) * toBase.1 * toAlpha.1), alphaHeight - 1)
                return alpha[ay * alphaWidth + ax] >= 128
            }
            guard !corners.isEmpty else { continue }
            let smoothed = plane.smoothed()
            let describer = BinaryDescriptor(width: plane.width)
            plane.pixels.withUnsafeBufferPointer { raw in
                smoothed.pixels.withUnsafeBufferPointer { smooth in
                    for corner in corners {
                        let angle = describer.orientation(in: raw, x: corner.x, y: corner.y)
                        describer.describe(smoothed: smooth, x: corner.x, y: corner.y, angle: angle, into: &descriptors)
                        points.append(SIMD2(Float(corner.x) * toBase.0, Float(corner.y) * toBase.1))
                        angles.append(angle)
                    }
                }
            }
        }
        return LocalFeatures(points: points, angles: angles, descriptors: descriptors)
    }

    /// Keypoints per level: a geometric share of the total, each level getting 1 / scaleFactor of the one
    /// before (in proportion to its side, not its area, so the small levels still count).
    func quotas() -> [Int] {
        let levels = max(1, configuration.levels)
        guard levels > 1, configuration.scaleFactor > 1 else { return [configuration.maximumKeypoints] }
        let ratio = 1 / configuration.scaleFactor
        let first = Float(configuration.maximumKeypoints) * (1 - ratio) / (1 - powf(ratio, Float(levels)))
        var quotas = (0..<levels).map { Int((first * powf(ratio, Float($0))).rounded()) }
        quotas[levels - 1] = max(0, configuration.maximumKeypoints - quotas.dropLast().reduce(0, +))
        return quotas
    }
}
