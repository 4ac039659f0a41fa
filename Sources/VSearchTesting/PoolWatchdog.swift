import Foundation

/// Reports when Swift's cooperative pool runs nothing for a while, with every thread's stack, so
/// that a test which holds the pool can be found.
///
/// Set `VSEARCH_POOL_WATCHDOG` to a number of seconds to turn it on for a test run. A thread of its
/// own hands the pool a tiny task every tenth of a second, and writes to standard error how long
/// each one waited past the limit. With `VSEARCH_POOL_WATCHDOG_STACKS=1` as well, a wait past the
/// limit also writes every thread's stack (from gdb, which stops the process for some seconds) to a
/// file in the temporary folder; the pool's threads in those stacks show which test computes on them.
/// Tests that compute for seconds run off the pool (``OffThePool``), and a run with the watchdog
/// on is how they were found.
public enum PoolWatchdog {
    private static let started: Void = {
        guard let text = ProcessInfo.processInfo.environment["VSEARCH_POOL_WATCHDOG"],
            let seconds = Double(text), seconds > 0
        else { return }
        let stacks = ProcessInfo.processInfo.environment["VSEARCH_POOL_WATCHDOG_STACKS"] == "1"
        let watch = Watch(limit: .milliseconds(Int(seconds * 1000)), stacks: stacks)
        Thread.detachNewThread { watch.run() }
    }()

    /// Starts the watchdog once per process, if `VSEARCH_POOL_WATCHDOG` asks for it.
    public static func start() { _ = started }

    private final class Watch: @unchecked Sendable {
        let limit: Duration
        let stacks: Bool
        /// When the probe still waiting for the pool was handed to it; guarded by `lock`.
        private var probeSent: ContinuousClock.Instant?
        private let lock = NSLock()
        private var dumps = 0

        init(limit: Duration, stacks: Bool) {
            self.limit = limit
            self.stacks = stacks
        }

        func run() {
            var reported: ContinuousClock.Instant?
            while true {
                Thread.sleep(forTimeInterval: 0.1)
                let now = ContinuousClock.now
                guard let sent = lock.withLock({ probeSent }) else {
                    lock.withLock { probeSent = now }
                    Task.detached { self.probeRan() }
                    continue
                }
                // One report per stall, however long it lasts.
                if stacks, now - sent > limit, reported != sent {
                    reported = sent
                    report(waited: now - sent)
                }
            }
        }

        private func probeRan() {
            let waited = lock.withLock {
                defer { probeSent = nil }
                return probeSent.map { ContinuousClock.now - $0 }
            }
            if let waited, waited > limit { write("the pool ran again after \(waited)") }
        }

        private func report(waited: Duration) {
            dumps += 1
            let pid = ProcessInfo.processInfo.processIdentifier
            let file = NSTemporaryDirectory() + "vsearch-pool-\(pid)-\(dumps).txt"
            write("the cooperative pool has run nothing for \(waited); every thread's stack is in \(file)")
            let gdb = Process()
            gdb.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
            gdb.arguments = ["-p", "\(pid)", "-batch", "-ex", "thread apply all bt 40"]
            _ = FileManager.default.createFile(atPath: file, contents: nil)
            gdb.standardOutput = FileHandle(forWritingAtPath: file)
            gdb.standardError = FileHandle.nullDevice
            do {
                try gdb.run()
                gdb.waitUntilExit()
            } catch {
                write("cannot run gdb for the stacks: \(error)")
            }
        }

        private func write(_ line: String) {
            FileHandle.standardError.write(Data(("vsearch pool watchdog: " + line + "\n").utf8))
        }
    }
}
