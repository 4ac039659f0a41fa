import Foundation
import ImageDecoding
import Testing
import VSearchCore
import VSearchTesting

/// Damaged files of every supported format must give a decoded picture or an
/// error naming the input, never a crash or a hang.
@Suite(.offThePool) struct RobustnessTests {
    /// Decodes `bytes` and checks the outcome is well-formed either way.
    func check(_ bytes: [UInt8], name: String) {
        do {
            let image = try ImageDecoder().decode(bytes: bytes, name: name, targetShortSide: 16)
            #expect(image.pixels.count == image.width * image.height * 3)
        } catch {
            #expect(error.description.hasPrefix(name + ": "), "\(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test(arguments: ["jpg", "png", "webp", "progressive.jpg"])
    func damagedFilesNeverCrash(kind: String) throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/small." + kind
        var arguments = [try Fixtures.photo("skimage/chelsea.png"), "-resize", "96x64!"]
        if kind == "progressive.jpg" { arguments += ["-interlace", "JPEG"] }
        try Fixtures.convert(arguments + [path])
        let original = try Fixtures.bytes(path)
        var random = SeededGenerator(seed: 42)
        var truncatedErrors = 0
        for step in 1..<48 {
            let cut = Array(original.prefix(original.count * step / 48))
            check(cut, name: "cut-\(step)")
            do {
                _ = try ImageDecoder().decode(bytes: cut, name: "cut")
            } catch {
                if case .truncated = error { truncatedErrors += 1 }
            }
        }
        // Most cuts land in the pixel data, where the error must say truncated.
        #expect(truncatedErrors > 24)
        for trial in 0..<150 {
            var damaged = original
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let offset = Int.random(in: 0..<damaged.count, using: &random)
                damaged[offset] = UInt8.random(in: 0...255, using: &random)
            }
            check(damaged, name: "flip-\(trial)")
        }
    }
}
