/// A bounded first-in, first-out queue for messages published while the
/// broker is unreachable.
///
/// A device that loses its network must not run out of memory, and the newest
/// frames matter most, so when the buffer is full the oldest message goes and
/// `dropped` counts it.
public struct OfflineBuffer<Element>: Sendable where Element: Sendable {
    /// The most messages held at once; 0 keeps nothing.
    public let capacity: Int
    /// Messages discarded because the buffer was full, since it was made.
    public private(set) var dropped = 0
    private var storage: [Element?]
    private var head = 0
    public private(set) var count = 0

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
        storage = Array(repeating: nil, count: self.capacity)
    }

    public var isEmpty: Bool { count == 0 }

    /// Adds `element` at the back; returns false when that dropped the oldest (or, with no capacity, `element`).
    @discardableResult
    public mutating func append(_ element: Element) -> Bool {
        guard capacity > 0 else {
            dropped += 1
            return false
        }
        if count == capacity {
            storage[head] = element
            head = (head + 1) % capacity
            dropped += 1
            return false
        }
        storage[(head + count) % capacity] = element
        count += 1
        return true
    }

    /// Removes and returns every element, oldest first.
    public mutating func removeAll() -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(count)
        while let element = popFirst() { out.append(element) }
        return out
    }

    /// Removes and returns the oldest element.
    public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return element
    }
}
