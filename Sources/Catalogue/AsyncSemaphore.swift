import Foundation

/// A counting semaphore for tasks: `acquire` suspends (without blocking a thread) until a permit
/// is free. It bounds how far downloading and decoding may run ahead of the network.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { available = max(1, permits) }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release(_ count: Int = 1) {
        for _ in 0..<count {
            if waiters.isEmpty {
                available += 1
            } else {
                waiters.removeFirst().resume()
            }
        }
    }
}
