import Foundation
import ImageDecoding

@testable import CNNRuntime
@testable import DeviceLink
@testable import FuzzedSources
@testable import VectorIndex

/// One fuzz target per parser of untrusted input. Each feeds the input to the parser as the
/// program would and ignores the error it throws: libFuzzer (with AddressSanitizer) reports
/// crashes, traps, leaks, hangs and memory errors, which bad input must never cause.
enum FuzzTarget: String, CaseIterable {
    /// JPEG, PNG and WebP decoding, with EXIF orientation applied (`ImageDecoder`).
    case image
    /// The EXIF orientation readers of all three formats, on their own.
    case exif
    /// The ONNX model loader: protobuf, graph checks, layer building (`CNNModel`).
    case onnx
    /// The index snapshot and its write-ahead log, opened as `IndexStore.open` does (see `IndexInput`).
    case index
    /// The `multipart/form-data` parser: the first line is the Content-Type, the rest the body.
    case multipart
    /// The device payload codecs and the message validator.
    case payload
    /// The catalogue source readers: the first byte picks seed text, metadata.json, JSON Lines or CSV.
    case sources

    func run(_ bytes: [UInt8]) {
        switch self {
        case .image: _ = try? Self.decoder.decode(bytes: bytes, name: "fuzz")
        case .exif:
            bytes.withUnsafeBytes { raw in
                _ = ExifOrientation.read(jpeg: raw)
                _ = ExifOrientation.read(png: raw)
                _ = ExifOrientation.read(webp: raw)
            }
        case .onnx: _ = try? CNNModel(data: Data(bytes), path: "fuzz.onnx", options: .init(threads: 1))
        case .index: IndexInput(bytes).open()
        case .multipart:
            let newline = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
            let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
            guard let boundary = MultipartParser.boundary(contentType: contentType) else { return }
            _ = try? MultipartParser.parse(Array(bytes[min(newline + 1, bytes.endIndex)...]), boundary: boundary)
        case .payload:
            let topic = "vsearch/devices/cam-1/features"
            _ = try? PayloadCodec.decode(bytes, topic: topic)
            _ = try? Self.validator.validate(bytes, topic: topic)
        case .sources:
            guard let selector = bytes.first else { return }
            let formats = ["txt", "json", "jsonl", "csv"]
            let base = selector & 4 == 0 ? "/catalogue" : "https://images.example.test/catalogue/"
            var listing = SourceListing()
            try? SourceReader.parse(
                String(decoding: bytes.dropFirst(), as: UTF8.self), source: "fuzz", format: formats[Int(selector & 3)],
                base: base, into: &listing)
        }
    }

    /// The server's decoder, with a pixel limit that keeps one input's memory small.
    static let decoder = ImageDecoder(options: ImageDecodingOptions(maxPixels: 4_000_000))
    static let validator = MessageValidator(modelID: "efficientnet-lite0", dimension: 4)
}
