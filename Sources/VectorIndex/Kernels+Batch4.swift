extension Kernels {
    /// Scores of four rows against one query in one pass.
    ///
    /// Streaming four rows at once keeps four independent memory streams and
    /// accumulator chains in flight, and loads each query chunk once instead
    /// of four times, which is what a graph search's neighbour lists need.
    @inline(__always)
    static func dot4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ d: UnsafePointer<Float>, _ n: Int
    ) -> SIMD4<Float> {
        var sa = SIMD16<Float>()
        var sb = SIMD16<Float>()
        var sc = SIMD16<Float>()
        var sd = SIMD16<Float>()
        let rq = UnsafeRawPointer(q)
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        let rc = UnsafeRawPointer(c)
        let rd = UnsafeRawPointer(d)
        var i = 0
        while i &+ 16 <= n {
            let x = lanes(rq, i)
            sa = multiplyAdd(sa, x, lanes(ra, i))
            sb = multiplyAdd(sb, x, lanes(rb, i))
            sc = multiplyAdd(sc, x, lanes(rc, i))
            sd = multiplyAdd(sd, x, lanes(rd, i))
            i &+= 16
        }
        var result = SIMD4<Float>(sa.sum(), sb.sum(), sc.sum(), sd.sum())
        while i < n {
            result += SIMD4(a[i], b[i], c[i], d[i]) * q[i]
            i &+= 1
        }
        return result
    }

    /// Squared L2 distances of four rows to one query in one pass.
    @inline(__always)
    static func l2Squared4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ d: UnsafePointer<Float>, _ n: Int
    ) -> SIMD4<Float> {
        var sa = SIMD16<Float>()
        var sb = SIMD16<Float>()
        var sc = SIMD16<Float>()
        var sd = SIMD16<Float>()
        let rq = UnsafeRawPointer(q)
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        let rc = UnsafeRawPointer(c)
        let rd = UnsafeRawPointer(d)
        var i = 0
        while i &+ 16 <= n {
            let x = lanes(rq, i)
            let da = x - lanes(ra, i)
            let db = x - lanes(rb, i)
            let dc = x - lanes(rc, i)
            let dd = x - lanes(rd, i)
            sa = multiplyAdd(sa, da, da)
            sb = multiplyAdd(sb, db, db)
            sc = multiplyAdd(sc, dc, dc)
            sd = multiplyAdd(sd, dd, dd)
            i &+= 16
        }
        var result = SIMD4<Float>(sa.sum(), sb.sum(), sc.sum(), sd.sum())
        while i < n {
            let diff = SIMD4(a[i], b[i], c[i], d[i]) - q[i]
            result += diff * diff
            i &+= 1
        }
        return result
    }
}
