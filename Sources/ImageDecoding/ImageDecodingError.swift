import VSearchCore

/// Why a picture could not be decoded. Every case names the input.
public enum ImageDecodingError: VSearchError, Equatable {
    /// The file could not be read at all.
    case unreadable(name: String, reason: String)
    /// Zero bytes.
    case empty(name: String)
    /// The data ends before the picture does.
    case truncated(name: String, format: ImageFormat)
    /// The data is damaged or not what its header says.
    case corrupt(name: String, format: ImageFormat, reason: String)
    /// A format we recognise but do not decode, or none we know.
    case unsupportedFormat(name: String, format: String)
    /// A file larger than `ImageDecodingOptions.maxFileBytes`: refused before reading.
    case fileTooLarge(name: String, bytes: Int, limit: Int)
    /// More pixels than `ImageDecodingOptions.maxPixels`: refused before decoding.
    case tooManyPixels(name: String, width: Int, height: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreadable(let name, let reason):
            return "\(name): cannot read the file: \(reason)"
        case .empty(let name):
            return "\(name): the file is empty"
        case .truncated(let name, let format):
            return "\(name): truncated \(format) (the data ends before the image does)"
        case .corrupt(let name, let format, let reason):
            return "\(name): corrupt \(format): \(reason)"
        case .unsupportedFormat(let name, let format):
            return "\(name): unsupported image format \(format) (JPEG, PNG and WebP are supported)"
        case .fileTooLarge(let name, let bytes, let limit):
            return "\(name): the file has \(bytes) bytes, over the limit of \(limit)"
        case .tooManyPixels(let name, let width, let height, let limit):
            let megapixels = Double(width) * Double(height) / 1e6
            let rounded = (megapixels * 10).rounded() / 10
            return
                "\(name): \(width)×\(height) is \(rounded) megapixels, over the limit of \(limit) pixels "
                + "(a possible decompression bomb)"
        }
    }
}
