/// `acc + a·b`, fused when the build targets FMA (Package.swift defines
/// `VECTORINDEX_FMA` with `-march=x86-64-v3`); without FMA hardware a fused
/// multiply-add would be a slow library call per lane.
@inline(__always)
func multiplyAdd(_ acc: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    #if VECTORINDEX_FMA
        return acc.addingProduct(a, b)
    #else
        return acc + a * b
    #endif
}

/// Distance kernels on raw rows.
///
/// Written with 16-lane SIMD and several accumulators so that a scan is
/// limited by memory bandwidth rather than by the dependency chain of adds.
enum Kernels {
    @inline(__always)
    static func lanes(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD16<Float>()
        var s1 = SIMD16<Float>()
        var s2 = SIMD16<Float>()
        var s3 = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        while i &+ 64 <= n {
            s0 = multiplyAdd(s0, lanes(ra, i), lanes(rb, i))
            s1 = multiplyAdd(s1, lanes(ra, i &+ 16), lanes(rb, i &+ 16))
            s2 = multiplyAdd(s2, lanes(ra, i &+ 32), lanes(rb, i &+ 32))
            s3 = multiplyAdd(s3, lanes(ra, i &+ 48), lanes(rb, i &+ 48))
            i &+= 64
        }
        while i &+ 16 <= n {
            s0 = multiplyAdd(s0, lanes(ra, i), lanes(rb, i))
            i &+= 16
        }
        var total = ((s0 + s1) + (s2 + s3)).sum()
        while i < n {
            total += a[i] * b[i]
            i &+= 1
        }
        return total
    }

    /// Σ (a[i] − b[i])².
    @inline(__always)
    static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD16<Float>()
        var s1 = SIMD16<Float>()
        var s2 = SIMD16<Float>()
        var s3 = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        while i &+ 64 <= n {
            let d0 = lanes(ra, i) - lanes(rb, i)
            let d1 = lanes(ra, i &+ 16) - lanes(rb, i &+ 16)
            let d2 = lanes(ra, i &+ 32) - lanes(rb, i &+ 32)
            let d3 = lanes(ra, i &+ 48) - lanes(rb, i &+ 48)
            s0 = multiplyAdd(s0, d0, d0)
            s1 = multiplyAdd(s1, d1, d1)
            s2 = multiplyAdd(s2, d2, d2)
            s3 = multiplyAdd(s3, d3, d3)
            i &+= 64
        }
        while i &+ 16 <= n {
            let d0 = lanes(ra, i) - lanes(rb, i)
            s0 = multiplyAdd(s0, d0, d0)
            i &+= 16
        }
        var total = ((s0 + s1) + (s2 + s3)).sum()
        while i < n {
            let d = a[i] - b[i]
            total += d * d
            i &+= 1
        }
        return total
    }

    /// The internal score (higher is better) of `row` for `query` under `metric`.
    @inline(__always)
    static func score(_ metric: Metric, _ query: UnsafePointer<Float>, _ row: UnsafePointer<Float>, _ n: Int)
        -> Float
    {
        metric == .l2 ? -l2Squared(query, row, n) : dot(query, row, n)
    }

    /// Σ a[i]·Float(b[i]) for half-precision rows.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, _ n: Int) -> Float {
        var s0 = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            let h = rb.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<Float16>.self)
            s0 = multiplyAdd(s0, ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), SIMD16<Float>(h))
            i += 16
        }
        var total = s0.sum()
        while i < n {
            total += a[i] * Float(b[i])
            i += 1
        }
        return total
    }

    /// Σ a[i]·Float(b[i]) for byte codes.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Float {
        var s0 = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            let c = rb.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
            s0 = multiplyAdd(s0, ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), SIMD16<Float>(c))
            i += 16
        }
        var total = s0.sum()
        while i < n {
            total += a[i] * Float(b[i])
            i += 1
        }
        return total
    }

    /// Scales `v` to unit length in place; a zero vector stays zero.
    static func normalize(_ v: UnsafeMutablePointer<Float>, _ n: Int) {
        let norm = dot(v, v, n).squareRoot()
        guard norm > 0 else { return }
        let inverse = 1 / norm
        for i in 0..<n { v[i] *= inverse }
    }
}
