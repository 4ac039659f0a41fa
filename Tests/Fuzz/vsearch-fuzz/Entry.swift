import Foundation

/// The target this process fuzzes, chosen once from the environment.
let selectedTarget = ProcessInfo.processInfo.environment["VSEARCH_FUZZ_TARGET"].flatMap(FuzzTarget.init(rawValue:))

/// libFuzzer's per-input callback. SwiftPM's `main` for executables means libFuzzer's own `main` is
/// never used, but its object still references this symbol, so it is defined under its C name.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget?.run(bytes)
    return 0
}
