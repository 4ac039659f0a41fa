// vsearch-fuzz: libFuzzer targets for every parser of untrusted input (scripts/fuzz.sh builds and runs it).
//
//   VSEARCH_FUZZ_TARGET=image vsearch-fuzz [libFuzzer options] [corpus directories]
//   vsearch-fuzz make-seeds DIRECTORY     (writes the seeds that need vsearch's own writers)
import CFuzzDriver
import Foundation

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "make-seeds" {
    do {
        try Seeds.write(to: CommandLine.arguments[2])
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("vsearch-fuzz: \(error)\n".utf8))
        exit(1)
    }
}
guard selectedTarget != nil else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("vsearch-fuzz: set VSEARCH_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
}
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in testOneInput(data, size) })
