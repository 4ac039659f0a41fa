import CImageCodecs
import ImageDecoding

/// JPEG files from decoded images, through libjpeg-turbo (jpeg_encode.c guards its calls with setjmp).
///
/// The one encoder for thumbnails (server and edge) and for the evaluation's re-encoded queries.
public enum JPEGEncoder {
    /// The JPEG bytes of `image` at `quality` (1–100); `name` says in errors which image it was.
    public static func encode(_ image: Image, quality: Int, name: String) throws(ImageEncodingError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            vs_jpeg_encode_rgb(
                pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(quality), &output, &size)
        }
        guard status == 0, let output else { throw .jpeg(name: name) }
        defer { vs_jpeg_free_encoded(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
