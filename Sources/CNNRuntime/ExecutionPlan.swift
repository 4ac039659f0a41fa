import CDNNL
import Foundation
import VSearchCore

/// Everything needed to run the graph on inputs of one shape: primitives in
/// order, reordered weights, and an arena layout in which values whose
/// lifetimes do not overlap share memory. Immutable; each concurrent run
/// borrows an `ExecutionContext` (arena, stream, scratchpad) from a pool.
// @unchecked: holds oneDNN primitive handles; nothing changes after init, and the context pool is Locked.
final class ExecutionPlan: @unchecked Sendable {
    let backend: Backend
    let values: [PlanValue]
    let steps: [PlanStep]
    let constants: [AlignedBuffer]
    /// Arena byte offset of each value's root (nil for inputs, constants).
    let offsets: [Int?]
    let arenaBytes: Int
    let scratchpadBytes: Int
    let inputValue: Int
    let outputs: [(name: String, value: Int, reorder: Primitive)]
    private let pool = Locked<[ExecutionContext]>([])

    init(
        backend: Backend, layers: [Layer], constants: [String: ConstantTensor], inputName: String, inputDims: [Int],
        outputs names: [String], weightCache: WeightCache = WeightCache()
    ) throws(CNNRuntimeError) {
        var builder = try PlanBuilder(
            backend: backend, layers: layers, constants: constants, exposed: names, weightCache: weightCache)
        defer { builder.finish() }
        inputValue = try builder.build(inputName: inputName, inputDims: inputDims)
        var outputs: [(String, Int, Primitive)] = []
        for name in names {
            guard
                let id = builder.ids[name]
                    ?? (constants[name] != nil
                        ? try? builder.value(name, for: Layer(name: name, kind: .identity, inputs: [], output: name))
                        : nil)
            else { throw .unknownTensor(path: backend.path, name: name) }
            let md = builder.values[id].md
            let plain = MemoryDesc.plain(PlanBuilder.mdDims(builder.values[id].dims))
            outputs.append((name, id, try backend.reorder(from: md, to: plain, what: "output '\(name)'")))
        }
        self.backend = backend
        self.outputs = outputs
        values = builder.values
        steps = builder.steps
        self.constants = builder.constantBuffers
        var scratchpad = 0
        for step in steps {
            if case .primitive(let p) = step.kind { scratchpad = max(scratchpad, p.scratchpadBytes) }
        }
        for output in outputs { scratchpad = max(scratchpad, output.2.scratchpadBytes) }
        scratchpadBytes = scratchpad
        let layout = ArenaLayout(values: values, steps: steps, pinned: outputs.map(\.1))
        offsets = layout.offsets
        arenaBytes = layout.bytes
    }

    /// Runs on one input array; returns the requested outputs in row-major order.
    func run(input: UnsafeRawPointer, threads: Int?) throws(CNNRuntimeError) -> [String: [Float]] {
        let pooled = pool.withLock { $0.popLast() }
        let context: ExecutionContext
        if let pooled { context = pooled } else { context = try ExecutionContext(plan: self) }
        defer { pool.withLock { $0.append(context) } }
        OpenMP.setThreads(threads)
        return try context.run(plan: self, input: input)
    }
}

/// Assigns arena offsets: a value reuses a slot whose previous tenant's last use came before its first.
struct ArenaLayout {
    var offsets: [Int?]
    var bytes: Int

    init(values: [PlanValue], steps: [PlanStep], pinned: [Int]) {
        func root(_ id: Int) -> Int {
            var id = id
            while case .alias(let of) = values[id].storage { id = of }
            return id
        }
        var size = [Int](repeating: 0, count: values.count)
        for id in values.indices { size[root(id)] = max(size[root(id)], MemoryDesc.bytes(values[id].md)) }
        var first = [Int](repeating: Int.max, count: values.count)
        var last = [Int](repeating: -1, count: values.count)
        for (index, step) in steps.enumerated() {
            for (_, id) in step.args {
                let r = root(id)
                first[r] = min(first[r], index)
                last[r] = max(last[r], index)
            }
        }
        for id in pinned { last[root(id)] = Int.max }
        let roots = values.indices.filter {
            if case .arena = values[$0].storage { return first[$0] != Int.max }
            return false
        }.sorted { first[$0] < first[$1] }
        var slotSize: [Int] = []
        var slotFree: [Int] = []
        var slotOf = [Int: Int]()
        for r in roots {
            let need = (size[r] + 63) / 64 * 64
            let free = slotSize.indices.filter { slotFree[$0] < first[r] }
            let fitting = free.filter { slotSize[$0] >= need }.min { slotSize[$0] < slotSize[$1] }
            let slot: Int
            if let fitting {
                slot = fitting
            } else if let largest = free.max(by: { slotSize[$0] < slotSize[$1] }) {
                slot = largest
                slotSize[slot] = need
            } else {
                slotSize.append(need)
                slotFree.append(0)
                slot = slotSize.count - 1
            }
            slotFree[slot] = last[r]
            slotOf[r] = slot
        }
        var slotOffset: [Int] = []
        var total = 0
        for s in slotSize {
            slotOffset.append(total)
            total += s
        }
        offsets = values.indices.map { id in slotOf[root(id)].map { slotOffset[$0] } }
        bytes = total
    }
}

/// One run's mutable state: the arena, oneDNN memory objects bound into it, a stream and a scratchpad.
// @unchecked: oneDNN memory and stream handles; one run at a time has it, borrowed from the plan's Locked pool.
final class ExecutionContext: @unchecked Sendable {
    private let arena: AlignedBuffer
    private let scratch: AlignedBuffer
    private var memories: [dnnl_memory_t?]
    private var arguments: [[dnnl_exec_arg_t]]
    private let stream: dnnl_stream_t
    private let scratchpad: dnnl_memory_t?
    private var outputMemories: [dnnl_memory_t?] = []

    init(plan: ExecutionPlan) throws(CNNRuntimeError) {
        let backend = plan.backend
        arena = AlignedBuffer(bytes: plan.arenaBytes)
        scratch = AlignedBuffer(bytes: plan.scratchpadBytes)
        var stream: dnnl_stream_t?
        try backend.check(
            dnnl_stream_create(&stream, backend.engine, UInt32(dnnl_stream_default_flags.rawValue)), "creating a stream"
        )
        guard let stream else { throw .backend(path: backend.path, operation: "stream", status: -1) }
        self.stream = stream
        memories = []
        arguments = []
        var scratchMD = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_tag(&scratchMD, 1, [Int64(max(plan.scratchpadBytes, 1))], dnnl_u8, dnnl_a)
        var scratchMemory: dnnl_memory_t?
        try backend.check(
            dnnl_memory_create(&scratchMemory, &scratchMD, backend.engine, scratch.pointer), "scratchpad memory")
        scratchpad = scratchMemory
        for (id, value) in plan.values.enumerated() {
            var md = value.md
            var memory: dnnl_memory_t?
            var handle: UnsafeMutableRawPointer?
            var root = id
            while case .alias(let of) = plan.values[root].storage { root = of }
            switch plan.values[root].storage {
            case .arena, .alias: handle = plan.offsets[id].map { arena.pointer + $0 }
            case .constant(let index): handle = plan.constants[index].pointer
            case .input: handle = nil
            }
            try backend.check(dnnl_memory_create(&memory, &md, backend.engine, handle), "binding memory")
            memories.append(memory)
        }
        for step in plan.steps {
            var args = step.args.map { dnnl_exec_arg_t(arg: $0.0, memory: memories[$0.1]) }
            if case .primitive(let p) = step.kind, p.scratchpadBytes > 0 {
                args.append(dnnl_exec_arg_t(arg: DNNLArg.scratchpad, memory: scratchpad))
            }
            arguments.append(args)
        }
        for output in plan.outputs {
            var md = MemoryDesc.plain(PlanBuilder.mdDims(plan.values[output.value].dims))
            var memory: dnnl_memory_t?
            try backend.check(dnnl_memory_create(&memory, &md, backend.engine, nil), "output memory")
            outputMemories.append(memory)
        }
    }

    deinit {
        for memory in memories { dnnl_memory_destroy(memory) }
        for memory in outputMemories { dnnl_memory_destroy(memory) }
        dnnl_memory_destroy(scratchpad)
        dnnl_stream_destroy(stream)
    }

    func run(plan: ExecutionPlan, input: UnsafeRawPointer) throws(CNNRuntimeError) -> [String: [Float]] {
        let backend = plan.backend
        let inputMemory = memories[plan.inputValue]
        try backend.check(dnnl_memory_set_data_handle(inputMemory, UnsafeMutableRawPointer(mutating: input)), "input")
        for (index, step) in plan.steps.enumerated() {
            switch step.kind {
            case .primitive(let primitive):
                let status = arguments[index].withUnsafeBufferPointer {
                    dnnl_primitive_execute(primitive.primitive, stream, Int32($0.count), $0.baseAddress)
                }
                try backend.check(status, "step \(index)")
            case .pad(let params, let inputDims, let outputDims):
                try backend.check(dnnl_stream_wait(stream), "step \(index)")
                PadKernel.run(
                    params, input: pointer(arguments[index][0].memory), inputDims: inputDims,
                    output: pointer(arguments[index][1].memory), outputDims: outputDims)
            }
        }
        var results: [String: [Float]] = [:]
        for (k, output) in plan.outputs.enumerated() {
            let count = plan.values[output.value].dims.reduce(1, *)
            var data = [Float](repeating: 0, count: count)
            var status = dnnl_success
            data.withUnsafeMutableBytes { buffer in
                status = dnnl_memory_set_data_handle(outputMemories[k], buffer.baseAddress)
                guard status == dnnl_success else { return }
                var args = [
                    dnnl_exec_arg_t(arg: DNNLArg.from, memory: memories[output.value]),
                    dnnl_exec_arg_t(arg: DNNLArg.to, memory: outputMemories[k]),
                ]
                if output.reorder.scratchpadBytes > 0 {
                    args.append(dnnl_exec_arg_t(arg: DNNLArg.scratchpad, memory: scratchpad))
                }
                status = dnnl_primitive_execute(output.reorder.primitive, stream, Int32(args.count), &args)
                if status == dnnl_success { status = dnnl_stream_wait(stream) }
            }
            try backend.check(status, "copying output '\(output.name)'")
            results[output.name] = data
        }
        try backend.check(dnnl_memory_set_data_handle(inputMemory, nil), "input")
        return results
    }

    private func pointer(_ memory: dnnl_memory_t?) -> UnsafeMutablePointer<Float> {
        var handle: UnsafeMutableRawPointer?
        _ = dnnl_memory_get_data_handle(memory, &handle)
        return handle!.assumingMemoryBound(to: Float.self)
    }
}

/// OpenMP's thread count for the calling thread (oneDNN in Debian is OpenMP-threaded).
enum OpenMP {
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private static let setter: SetThreads? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "omp_set_num_threads") else { return nil }
        return unsafeBitCast(symbol, to: SetThreads.self)
    }()

    /// OMP_WAIT_POLICY as libgomp read it; empty means libgomp's default (spinning for a while). vsearch's
    /// executables set "PASSIVE" before libgomp starts (COpenMPEnvironment) unless the user chose otherwise.
    static var waitPolicy: String { getenv("OMP_WAIT_POLICY").map { String(cString: $0) } ?? "" }

    static func setThreads(_ count: Int?) {
        guard let count, count > 0 else { return }
        setter?(Int32(count))
    }
}
