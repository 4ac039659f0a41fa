/// A corner found on one pyramid level, in that level's pixels.
struct Corner: Sendable, Equatable {
    var x: Int
    var y: Int
    /// Harris's corner measure: how strongly the intensity changes in two directions at once.
    var response: Float
}

/// Finds corners with the FAST segment test and keeps the strongest by Harris's measure.
///
/// FAST is cheap enough to run on every pixel of every level: a pixel is a corner candidate when 9
/// contiguous pixels of the 16 on a circle of radius 3 around it are all brighter, or all darker, than it by
/// more than `threshold`. Its own score only ranks neighbours for non-maximum suppression; Harris's measure,
/// computed for the survivors alone, decides which are kept, because it prefers real two-way corners to the
/// edge points that pass the segment test.
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
            offsets.withUnsafeBufferPointer { offsets in
                scores.withUnsafeMutableBufferPointer { scores in
                    for y in border..<(height - border) {
                        for x in border..<(width - border) {
                            let i = y * width + x
                            let score = segmentScore(p, at: i, offsets: offsets)
                            if score > 0 {
                                scores[i] = score
                                candidates.append(i)
                            }
                        }
                    }
                }
            }
        }
        var corners: [Corner] = []
        plane.pixels.withUnsafeBufferPointer { p in
            scores.withUnsafeBufferPointer { s in
                for i in candidates {
                    let score = s[i]
                    // A 3 × 3 maximum; ties go to the pixel first in raster order, so one of two equals survives.
                    let isMaximum =
                        score >= s[i - width - 1] && score >= s[i - width] && score >= s[i - width + 1]
                        && score >= s[i - 1] && score > s[i + 1]
                        && score > s[i + width - 1] && score > s[i + width] && score > s[i + width + 1]
                    let (x, y) = (i % width, i / width)
                    guard isMaximum, allowed(x, y) else { continue }
                    corners.append(Corner(x: x, y: y, response: harris(p, x: x, y: y, width: width)))
                }
            }
        }
        corners.sort { ($0.response, $1.y, $1.x) > ($1.response, $0.y, $0.x) }
        return Array(corners.prefix(limit))
    }

    /// The segment test and its score: 0 when fewer than 9 contiguous circle pixels are all brighter or all
    /// darker; otherwise the summed excess over the threshold of the brighter or darker ones, whichever is more.
    @inline(__always)
    private func segmentScore(_ p: UnsafeBufferPointer<UInt8>, at i: Int, offsets: UnsafeBufferPointer<Int>) -> Int32 {
        let centre = Int32(p[i])
        let t = Int32(threshold)
        let (high, low) = (centre + t, centre - t)
        @inline(__always) func beyond(_ k: Int) -> Bool {
            let v = Int32(p[i &+ offsets[k]])
            return v > high || v < low
        }
        // Any 9 contiguous pixels of the 16 include pixel 0 or 8, and pixel 4 or 12: a quick rejection that
        // most pixels of a picture fail after two or four reads.
        guard beyond(0) || beyond(8), beyond(4) || beyond(12) else { return 0 }
        // The two masks first, without branches (a sign bit says which side of the threshold a value is);
        // the score, which needs a second pass, only for the few pixels that pass the test.
        var brighter: UInt32 = 0
        var darker: UInt32 = 0
        for k in 0..<16 {
            let v = Int32(p[i &+ offsets[k]])
            brighter |= (UInt32(bitPattern: high &- v) &>> 31) &<< UInt32(k)
            darker |= (UInt32(bitPattern: v &- low) &>> 31) &<< UInt32(k)
        }
        guard Self.hasNineContiguous(brighter) || Self.hasNineContiguous(darker) else { return 0 }
        var brightSum: Int32 = 0
        var darkSum: Int32 = 0
        for k in 0..<16 {
            let v = Int32(p[i &+ offsets[k]])
            brightSum &+= max(v &- high, 0)
            darkSum &+= max(low &- v, 0)
        }
        return max(brightSum, darkSum, 1)
    }

    /// Whether 9 circularly contiguous bits of the low 16 are set.
    @inline(__always)
    static func hasNineContiguous(_ bits: UInt32) -> Bool {
        var run = bits | (bits << 16)  // the circle twice, so a run may wrap
        for _ in 0..<8 { run &= run &>> 1 }
        return run != 0
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
