import CVectorKernels

/// Distance kernels on raw rows.
///
/// The loops themselves are C (`CVectorKernels`), which builds an AVX2 + FMA + F16C variant beside a
/// portable one and picks one at run time, so this module needs no CPU-specific compiler flags and the
/// package stays usable as a versioned dependency. These wrappers only keep the call sites in Swift terms.
enum Kernels {
    /// Σ a[i]·b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        vsk_dot(a, b, n)
    }

    /// Σ (a[i] − b[i])².
    @inline(__always)
    static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        vsk_l2_squared(a, b, n)
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
        vsk_dot_f16(a, UnsafeRawPointer(b), n)
    }

    /// Σ a[i]·Float(b[i]) for byte codes.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Float {
        vsk_dot_u8(a, b, n)
    }

    /// Inner products of four rows with one query, written to `out[0..<4]`.
    ///
    /// Streaming four rows at once keeps four independent memory streams and
    /// accumulator chains in flight, and loads each query chunk once instead
    /// of four times, which is what a graph search's neighbour lists need.
    @inline(__always)
    static func dot4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ d: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutablePointer<Float>
    ) {
        vsk_dot4(q, a, b, c, d, n, out)
    }

    /// Squared L2 distances of four rows to one query, written to `out[0..<4]`.
    @inline(__always)
    static func l2Squared4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ d: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutablePointer<Float>
    ) {
        vsk_l2_squared4(q, a, b, c, d, n, out)
    }

    /// Whether none of the `n` values is infinite or NaN.
    @inline(__always)
    static func allFinite(_ v: UnsafePointer<Float>, _ n: Int) -> Bool {
        vsk_all_finite(v, n) != 0
    }

    /// `out[q · outStride + r] = Σ queries[q · queryStride + i] · rows[r · rowStride + i]` over `i < length`, exact
    /// in 32-bit integers, for codes in −127…127 (``RowCodes``, ``QueryCodes``).
    @inline(__always)
    static func codeProducts(
        queries: UnsafePointer<Int8>, count nq: Int, queryStride: Int, rows: UnsafePointer<Int8>, count nr: Int,
        rowStride: Int, length: Int, into out: UnsafeMutablePointer<Int32>, outStride: Int
    ) {
        vsk_code_products(queries, nq, queryStride, rows, nr, rowStride, length, out, outStride)
    }

    /// Scales `v` to unit length in place; a zero vector stays zero.
    static func normalize(_ v: UnsafeMutablePointer<Float>, _ n: Int) {
        let norm = dot(v, v, n).squareRoot()
        guard norm > 0 else { return }
        let inverse = 1 / norm
        for i in 0..<n { v[i] *= inverse }
    }
}

/// The CPU levels the kernels are built for.
enum KernelLevel: CaseIterable, Sendable {
    /// Plain C with 4-lane vectors; runs on any CPU.
    case portable
    /// AVX2 with FMA and F16C (the x86-64-v3 level).
    case avx2
    /// The AVX2 set with AVX-512 VNNI's 8-bit multiply-adds for ``Kernels/codeProducts``.
    case avx512VNNI

    /// The level every search uses in this process: the best the CPU supports, unless the environment
    /// variable `VSEARCH_VECTOR_KERNELS` (`portable` or `avx2`) capped it.
    static var active: KernelLevel { KernelLevel(vsk_active_level()) }

    init(_ level: vsk_level) {
        switch level {
        case VSK_LEVEL_AVX512_VNNI: self = .avx512VNNI
        case VSK_LEVEL_X86_64_V3: self = .avx2
        default: self = .portable
        }
    }

    var cValue: vsk_level {
        switch self {
        case .portable: VSK_LEVEL_PORTABLE
        case .avx2: VSK_LEVEL_X86_64_V3
        case .avx512VNNI: VSK_LEVEL_AVX512_VNNI
        }
    }

    /// This level's kernels, called directly (so tests can compare levels without switching the one in use),
    /// or nil when the CPU lacks the level.
    var kernels: vsk_kernels? { vsk_kernels_at(cValue)?.pointee }
}
