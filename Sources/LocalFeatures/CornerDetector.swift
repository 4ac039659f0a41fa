import CLocalFeatureKernels

/// A corner found on one pyramid level, in that level's pixels.
struct Corner: Sendable, Equatable {
    var x: Int
    var y: Int
    /// Harris's corner measure: how strongly the intensity changes in two directions at once.
    var response: Float
}

/// Finds corners with the FAST segment test and keeps the strongest by Harris's measure.
///
/// FAST is cheap enough to run on every pixel of every level (in C, `lfk_fast_row`): a pixel is a corner
/// candidate when 9 contiguous pixels of the 16 on a circle of radius 3 around it are all brighter, or all
/// darker, than it by more than `threshold`. Its own score ranks neighbours for non-maximum suppression and
/// picks twice as many survivors as are wanted; Harris's measure, computed for those alone, decides which are
/// kept, because it prefers real two-way corners to the edge points that pass the segment test.
struct CornerDetector: Sendable {
    /// How much brighter or darker than the centre a circle pixel must be.
    var threshold: Int
    /// Corners closer than this to the plane's border are dropped, so that a descriptor's patch fits.
    var border: Int

    /// The 16 pixels of the circle of radius 3, clockwise from the top.
    static let circle: [(Int, Int)] = [
        (0, -3), (1, -3), (2, -2), (3, -1), (3, 0), (3, 1), (2, 2), (1, 3),
        (0, 3), (-1, 3), (-2, 2), (-3, 1), (-3, 0), (-3, -1), (-2, -2), (-1, -3),
    ]

    /// The `limit` strongest corners of `plane`, strongest first; `allowed(x, y)` can exclude positions (an
    /// item's transparent background).
    func corners(in plane: GreyPlane, limit: Int, allowed: (Int, Int) -> Bool = { _, _ in true }) -> [Corner] {
        let (width, height) = (plane.width, plane.height)
        guard limit > 0, width > 2 * border, height > 2 * border else { return [] }
        let offsets = Self.circle.map { $0.1 * width + $0.0 }
        var scores = [Int32](repeating: 0, count: width * height)
        var candidates: [Int] = []
        plane.pixels.withUnsafeBufferPointer { p in
            scores.withUnsafeMutableBufferPointer { scores in
                for y in border..<(height - border) {
                    let start = y * width
                    let passed = lfk_fast_row(
                        p.baseAddress! + start, offsets, border, width - border, Int32(threshold),
                        scores.baseAddress! + start)
                    guard passed > 0 else { continue }
                    for x in border..<(width - border) where scores[start + x] > 0 { candidates.append(start + x) }
                }
            }
        }
        var maxima: [(index: Int, score: Int32)] = []
        scores.withUnsafeBufferPointer { s in
            for i in candidates {
                let score = s[i]
                // A 3 × 3 maximum; ties go to the pixel first in raster order, so one of two equals survives.
                let isMaximum =
                    score >= s[i - width - 1] && score >= s[i - width] && score >= s[i - width + 1]
                    && score >= s[i - 1] && score > s[i + 1]
                    && score > s[i + width - 1] && score > s[i + width] && score > s[i + width + 1]
                guard isMaximum, allowed(i % width, i / width) else { continue }
                maxima.append((i, score))
            }
        }
        // Harris's measure costs 49 gradient reads; a cluttered scene has thousands of maxima, so only the
        // best by the segment score, twice as many as are wanted, are measured.
        if maxima.count > 2 * limit {
            maxima.sort { ($0.score, $1.index) > ($1.score, $0.index) }
            maxima.removeLast(maxima.count - 2 * limit)
        }
        var corners = plane.pixels.withUnsafeBufferPointer { p in
            maxima.map { maximum in
                let (x, y) = (maximum.index % width, maximum.index / width)
                return Corner(x: x, y: y, response: harris(p, x: x, y: y, width: width))
            }
        }
        corners.sort { ($0.response, $1.y, $1.x) > ($1.response, $0.y, $0.x) }
        return Array(corners.prefix(limit))
    }

    /// Harris's measure det(M) − 0.04 trace(M)² over a 7 × 7 window of central-difference gradients.
    private func harris(_ p: UnsafeBufferPointer<UInt8>, x: Int, y: Int, width: Int) -> Float {
        var xx: Float = 0
        var yy: Float = 0
        var xy: Float = 0
        for dy in -3...3 {
            for dx in -3...3 {
                let i = (y + dy) * width + x + dx
                let gx = Float(Int(p[i + 1]) - Int(p[i - 1]))
                let gy = Float(Int(p[i + width]) - Int(p[i - width]))
                xx += gx * gx
                yy += gy * gy
                xy += gx * gy
            }
        }
        return xx * yy - xy * xy - 0.04 * (xx + yy) * (xx + yy)
    }
}
