/// Cuts a byte stream of concatenated JPEG images (ffmpeg's `image2pipe`
/// MJPEG output, or `cat *.jpg`) into single images.
///
/// It follows the JPEG marker structure instead of searching for the end
/// marker, because the bytes FF D9 may also occur inside an embedded EXIF
/// thumbnail. Bytes between images that are not a JPEG start are skipped.
struct JPEGStreamSplitter {
    /// The largest image accepted; a longer run of bytes without an end is discarded.
    let maxImageBytes: Int
    private var buffer: [UInt8] = []
    /// Where the parser stopped in `buffer`, so each byte is examined once.
    private var scan = 0
    private var inScanData = false
    private(set) var discardedBytes = 0

    init(maxImageBytes: Int = 32 << 20) {
        self.maxImageBytes = maxImageBytes
    }

    /// Adds bytes and returns the images they completed.
    mutating func append(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var images: [[UInt8]] = []
        while let image = nextImage() { images.append(image) }
        if buffer.count > maxImageBytes {
            discardedBytes += buffer.count
            buffer.removeAll()
            resetParser()
        }
        return images
    }

    private mutating func resetParser() {
        scan = 0
        inScanData = false
    }

    private mutating func nextImage() -> [UInt8]? {
        while true {
            switch step() {
            case .image(let image): return image
            case .needMoreBytes: return nil
            case .broken:
                // Skip this start marker and resynchronise on the next one.
                discardedBytes += 2
                buffer.removeFirst(2)
                resetParser()
            }
        }
    }

    private enum Step {
        case image([UInt8])
        case needMoreBytes
        case broken
    }

    private mutating func step() -> Step {
        // Find the start of an image (FF D8).
        if scan == 0 {
            var start = 0
            while start + 1 < buffer.count, !(buffer[start] == 0xFF && buffer[start + 1] == 0xD8) { start += 1 }
            if start > 0 {
                discardedBytes += start
                buffer.removeFirst(start)
            }
            guard buffer.count >= 2 else { return .needMoreBytes }
            scan = 2
        }
        while scan + 1 < buffer.count {
            guard buffer[scan] == 0xFF else {
                // Only entropy-coded data may hold bytes other than markers.
                guard inScanData else { return .broken }
                scan += 1
                continue
            }
            let marker = buffer[scan + 1]
            switch marker {
            case 0xD9:  // end of image
                let image = Array(buffer[0..<(scan + 2)])
                buffer.removeFirst(scan + 2)
                resetParser()
                return .image(image)
            case 0xFF:  // fill byte
                scan += 1
            case 0x00, 0x01, 0xD0...0xD7:
                // A stuffed zero or a restart marker inside the scan data.
                scan += 2
            case 0xD8:
                return .broken
            default:
                // A segment with a two-byte length.
                guard scan + 3 < buffer.count else { return .needMoreBytes }
                let length = Int(buffer[scan + 2]) << 8 | Int(buffer[scan + 3])
                guard length >= 2 else { return .broken }
                guard scan + 2 + length <= buffer.count else { return .needMoreBytes }
                scan += 2 + length
                inScanData = marker == 0xDA
            }
        }
        return .needMoreBytes
    }
}
