import VSearchCore

/// Everything that can go wrong in the vector index, as one readable line.
///
/// `context` names the input (a file, "query 3", "add") so that a person can
/// tell which of many inputs was at fault.
public enum IndexError: VSearchError, Equatable {
    /// A vector's length differs from the index's dimension.
    case wrongDimension(context: String, expected: Int, got: Int)
    /// A vector holds NaN or ±infinity at `position`.
    case nonFinite(context: String, position: Int)
    /// A parameter is out of range (k ≤ 0, M < 2, an empty batch shape, ...).
    case invalidArgument(String)
    /// Two items in one batch, or an item and the index, share an id where that is not allowed.
    case duplicateID(UInt64)
    /// A file is not in the expected format; `reason` says what was checked.
    case corrupt(path: String, reason: String)
    /// A file's version is newer than this program understands.
    case unsupportedVersion(path: String, version: UInt32)
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .wrongDimension(let context, let expected, let got):
            return "\(context): vector has \(got) dimensions, the index has \(expected)"
        case .nonFinite(let context, let position):
            return "\(context): vector component \(position) is NaN or infinite"
        case .invalidArgument(let message):
            return message
        case .duplicateID(let id):
            return "id \(id) appears more than once in the batch"
        case .corrupt(let path, let reason):
            return "\(path): not a valid file: \(reason)"
        case .unsupportedVersion(let path, let version):
            return "\(path): format version \(version) is newer than this program supports"
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code)))"
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
