import CDNNL
import Foundation

// Thin, typed helpers over oneDNN's C API. Every call that can fail goes
// through `Backend.check`, which turns a status into a CNNRuntimeError that
// names the model and the operation.

/// Execution argument numbers (oneDNN's DNNL_ARG_* macros, which Swift does not import through aliases).
enum DNNLArg {
    static let src: Int32 = 1
    static let src1: Int32 = 2
    static let dst: Int32 = 17
    static let weights: Int32 = 33
    static let bias: Int32 = 41
    static let scratchpad: Int32 = 80
    static let multipleSrc: Int32 = 1024
    static let from: Int32 = 1
    static let to: Int32 = 17
}

/// A oneDNN CPU engine plus the model path used in error messages.
// @unchecked: a oneDNN engine handle, which oneDNN allows to be shared by threads; immutable.
final class Backend: @unchecked Sendable {
    // oneDNN engines are thread-safe for primitive creation and execution.
    let engine: dnnl_engine_t
    let path: String

    init(path: String) throws(CNNRuntimeError) {
        self.path = path
        var engine: dnnl_engine_t?
        let status = dnnl_engine_create(&engine, dnnl_cpu, 0)
        guard status == dnnl_success, let engine else {
            throw .backend(path: path, operation: "creating the CPU engine", status: Int(status.rawValue))
        }
        self.engine = engine
    }

    deinit { dnnl_engine_destroy(engine) }

    func check(_ status: dnnl_status_t, _ operation: @autoclosure () -> String) throws(CNNRuntimeError) {
        guard status == dnnl_success else {
            throw .backend(path: path, operation: operation(), status: Int(status.rawValue))
        }
    }

    /// Creates a primitive from an operation descriptor (any dnnl_*_desc_t).
    func primitive<Desc>(
        _ desc: inout Desc, attr: Attributes, what: @autoclosure () -> String
    ) throws(CNNRuntimeError) -> Primitive {
        var pd: dnnl_primitive_desc_t?
        let status = withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, $0, attr.handle, engine, nil) }
        try check(status, "creating \(what())")
        guard let pd else { throw .backend(path: path, operation: what(), status: -1) }
        return try Primitive(pd: pd, backend: self, what: what())
    }

    func reorder(from src: dnnl_memory_desc_t, to dst: dnnl_memory_desc_t, what: @autoclosure () -> String)
        throws(CNNRuntimeError) -> Primitive
    {
        var pd: dnnl_primitive_desc_t?
        var src = src
        var dst = dst
        let attr = try Attributes(backend: self)
        try check(
            dnnl_reorder_primitive_desc_create(&pd, &src, engine, &dst, engine, attr.handle), "reorder for \(what())")
        guard let pd else { throw .backend(path: path, operation: what(), status: -1) }
        return try Primitive(pd: pd, backend: self, what: what())
    }

    func concat(sources: [dnnl_memory_desc_t], axis: Int, dims: [Int], what: @autoclosure () -> String)
        throws(CNNRuntimeError) -> Primitive
    {
        var pd: dnnl_primitive_desc_t?
        var dst = MemoryDesc.any(dims)
        let attr = try Attributes(backend: self)
        let status = sources.withUnsafeBufferPointer {
            dnnl_concat_primitive_desc_create(
                &pd, &dst, Int32($0.count), Int32(axis), $0.baseAddress, attr.handle, engine)
        }
        try check(status, "creating \(what())")
        guard let pd else { throw .backend(path: path, operation: what(), status: -1) }
        return try Primitive(pd: pd, backend: self, what: what())
    }
}

/// Primitive attributes: user-managed scratchpad (so concurrent runs never share one) and post-ops.
final class Attributes {
    let handle: dnnl_primitive_attr_t

    init(backend: Backend, postOps: [PostOp] = [], outputScale: Float = 1) throws(CNNRuntimeError) {
        var attr: dnnl_primitive_attr_t?
        try backend.check(dnnl_primitive_attr_create(&attr), "creating primitive attributes")
        guard let attr else { throw .backend(path: backend.path, operation: "attributes", status: -1) }
        handle = attr
        try backend.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if outputScale != 1 {
            var scale = outputScale
            try backend.check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale), "output scale")
        }
        if !postOps.isEmpty {
            var ops: dnnl_post_ops_t?
            try backend.check(dnnl_post_ops_create(&ops), "creating post-ops")
            defer { dnnl_post_ops_destroy(ops) }
            for op in postOps {
                switch op {
                case .eltwise(let e):
                    try backend.check(
                        dnnl_post_ops_append_eltwise(ops, 1, e.algorithm, e.alpha, e.beta), "eltwise post-op")
                case .sum:
                    try backend.check(dnnl_post_ops_append_sum(ops, 1), "sum post-op")
                }
            }
            try backend.check(dnnl_primitive_attr_set_post_ops(attr, ops), "setting post-ops")
        }
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}

/// A primitive and its descriptor; immutable and safe to execute from several threads
/// because every execution brings its own scratchpad.
// @unchecked: oneDNN primitive handles; immutable, see above.
final class Primitive: @unchecked Sendable {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    init(pd: dnnl_primitive_desc_t, backend: Backend, what: String) throws(CNNRuntimeError) {
        var primitive: dnnl_primitive_t?
        let status = dnnl_primitive_create(&primitive, pd)
        guard status == dnnl_success, let primitive else {
            dnnl_primitive_desc_destroy(pd)
            throw .backend(path: backend.path, operation: "creating \(what)", status: Int(status.rawValue))
        }
        self.pd = pd
        self.primitive = primitive
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    func md(_ query: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        guard let md = dnnl_primitive_desc_query_md(pd, query, index) else { return dnnl_memory_desc_t() }
        return md.pointee
    }

    var scratchpadBytes: Int { MemoryDesc.bytes(md(dnnl_query_scratchpad_md)) }

    /// The implementation's name, e.g. "jit:avx512_core" or "ref:any".
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else {
            return ""
        }
        return String(cString: name)
    }
}

/// A fused operation applied to a primitive's result.
enum PostOp: Sendable {
    case eltwise(Eltwise)
    /// Adds the destination's previous contents (a residual connection).
    case sum
}

/// An element-wise function in oneDNN's terms.
struct Eltwise: Sendable {
    var algorithm: dnnl_alg_kind_t
    var alpha: Float
    var beta: Float
}

/// Memory descriptor helpers.
enum MemoryDesc {
    /// Dense row-major ("plain") layout.
    static func plain(_ dims: [Int]) -> dnnl_memory_desc_t {
        var strides = [Int64](repeating: 1, count: dims.count)
        var step: Int64 = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            strides[i] = step
            step *= Int64(max(dims[i], 1))
        }
        return strided(dims, strides: strides)
    }

    static func strided(_ dims: [Int], strides: [Int64]) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims64 = dims.map(Int64.init)
        _ = dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), dims64, dnnl_f32, strides)
        return md
    }

    /// Lets the primitive choose the layout.
    static func any(_ dims: [Int]) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, dnnl_format_tag_any)
        return md
    }

    static func tagged(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag)
        return md
    }

    static func bytes(_ md: dnnl_memory_desc_t) -> Int {
        var md = md
        return Int(dnnl_memory_desc_get_size(&md))
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var a = a
        var b = b
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    static func isPlain(_ md: dnnl_memory_desc_t) -> Bool {
        equal(md, plain(dims(md)))
    }

    static func dims(_ md: dnnl_memory_desc_t) -> [Int] {
        var md = md
        let count = Int(md.ndims)
        return withUnsafeBytes(of: &md.dims) { raw in
            (0..<count).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
    }
}
