import Foundation

/// A counting semaphore for tasks: `acquire` suspends (without blocking a thread) until a permit
/// is free. It bounds how far downloading and decoding may run ahead of the network, lets one
/// task at a time bring the PostgreSQL catalogue's vector mirror up to date, and gives the tests
/// that compute their turns.
///
/// `release` is synchronous, so a plain thread (the batch writer's queue) can return a permit
/// at once, without starting a task that would outlive its caller.
package final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Locked<State>

    package init(permits: Int) { state = Locked(State(available: max(1, permits))) }

    package func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                guard state.available > 0 else {
                    state.waiters.append(continuation)
                    return false
                }
                state.available -= 1
                return true
            }
            if granted { continuation.resume() }
        }
    }

    package func release(_ count: Int = 1) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let woken = Array(state.waiters.prefix(count))
            state.waiters.removeFirst(woken.count)
            state.available += count - woken.count
            return woken
        }
        for continuation in woken { continuation.resume() }
    }
}
