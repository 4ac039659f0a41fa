/// How two vectors are compared.
///
/// Results are always returned best first. For ``innerProduct`` and
/// ``cosine`` the score is a similarity (higher is better); for ``l2`` it
/// is the squared Euclidean distance (lower is better), as FAISS reports it.
public enum Metric: String, Sendable, CaseIterable, Codable {
    /// The dot product, as SageMaker k-NN's `INNER_PRODUCT`.
    case innerProduct = "ip"
    /// The dot product of L2-normalised vectors; vectors are normalised when added.
    case cosine
    /// Squared Euclidean distance.
    case l2

    /// Whether a larger reported score means a closer match.
    public var higherIsBetter: Bool { self != .l2 }

    var code: UInt32 {
        switch self {
        case .innerProduct: return 0
        case .cosine: return 1
        case .l2: return 2
        }
    }

    init?(code: UInt32) {
        switch code {
        case 0: self = .innerProduct
        case 1: self = .cosine
        case 2: self = .l2
        default: return nil
        }
    }

    /// Turns the internal "higher is better" score into the reported one.
    @inline(__always) func reported(_ internalScore: Float) -> Float {
        self == .l2 ? -internalScore : internalScore
    }
}

/// How a flat index keeps its vectors in memory for the scan.
///
/// `f16` and `i8` scan compact codes, then re-rank the best candidates with
/// the exact float32 vectors, which live in the memory-mapped file once the
/// index has been saved and reopened, so only re-ranked rows are paged in.
public enum VectorStorage: String, Sendable, CaseIterable, Codable {
    case f32
    /// IEEE half precision.
    case f16
    /// One byte per component, scaled between each dimension's minimum and maximum.
    case i8

    var code: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .i8: return 2
        }
    }

    init?(code: UInt32) {
        switch code {
        case 0: self = .f32
        case 1: self = .f16
        case 2: self = .i8
        default: return nil
        }
    }
}

/// One search result.
public struct SearchHit: Sendable, Equatable, CustomStringConvertible {
    /// The item's id, as given to `add`.
    public var id: UInt64
    /// See ``Metric`` for its meaning and direction.
    public var score: Float

    public init(id: UInt64, score: Float) {
        self.id = id
        self.score = score
    }

    public var description: String { "\(id):\(score)" }
}

/// Restricts a search to some items.
///
/// When the allowed set is known, pass it with ``allowing(_:)``: the index
/// then knows exactly how selective the filter is. A predicate's
/// selectivity is estimated by sampling.
public struct SearchFilter: Sendable {
    /// Whether an item may be returned.
    public let isAllowed: @Sendable (UInt64) -> Bool
    /// The allowed ids, when known; a narrow filter scans exactly these.
    public let allowedIDs: Set<UInt64>?

    /// A filter given by a predicate on ids.
    public init(_ isAllowed: @escaping @Sendable (UInt64) -> Bool) {
        self.isAllowed = isAllowed
        self.allowedIDs = nil
    }

    /// A filter that allows exactly `ids`.
    public static func allowing(_ ids: Set<UInt64>) -> SearchFilter {
        SearchFilter(ids: ids)
    }

    private init(ids: Set<UInt64>) {
        self.isAllowed = { ids.contains($0) }
        self.allowedIDs = ids
    }
}
