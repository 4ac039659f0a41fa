import ImageDecoding
import Testing
import VSearchTesting

@testable import LocalFeatures

/// The plane operations the pyramid is built from.
@Suite(.offThePool) struct GreyPlaneTests {
    @Test func lumaFollowsTheBT601Weights() {
        let image = Image(width: 3, height: 1, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255])
        #expect(GreyPlane(image).pixels == [77, 149, 29])
    }

    @Test func smoothingKeepsAFlatPlaneAndSpreadsAPoint() {
        let flat = GreyPlane(width: 20, height: 9, pixels: [UInt8](repeating: 200, count: 180))
        #expect(flat.smoothed() == flat)
        var point = [UInt8](repeating: 0, count: 15 * 15)
        point[7 * 15 + 7] = 255
        let spread = GreyPlane(width: 15, height: 15, pixels: point).smoothed()
        // The centre keeps 54² / 65,536 of the peak; the weights are symmetric, so the result is too.
        #expect(spread.pixels[7 * 15 + 7] == UInt8((255 * 54 * 54 + 32_768) / 65_536))
        #expect(spread.pixels[7 * 15 + 5] == spread.pixels[7 * 15 + 9])
        #expect(spread.pixels[5 * 15 + 7] == spread.pixels[9 * 15 + 7])
        #expect(spread.pixels[0] == 0)
    }

    @Test func resamplingKeepsFlatPlanesAndRamps() {
        let flat = GreyPlane(width: 24, height: 12, pixels: [UInt8](repeating: 90, count: 288))
        #expect(flat.resampled(width: 20, height: 10).pixels.allSatisfy { $0 == 90 })
        // A horizontal ramp of 10 per pixel, shrunk by 1.2: each value is the ramp at the output's centre.
        let ramp = GreyPlane(width: 24, height: 2, pixels: (0..<48).map { UInt8(($0 % 24) * 10) })
        let shrunk = ramp.resampled(width: 20, height: 2)
        for x in 1..<19 {
            let position = (Double(x) + 0.5) * 1.2 - 0.5
            #expect(abs(Double(shrunk.pixels[x]) - position * 10) <= 1, "column \(x)")
        }
        // One row or one column of source still resamples.
        #expect(
            GreyPlane(width: 1, height: 1, pixels: [7]).resampled(width: 3, height: 2).pixels == [7, 7, 7, 7, 7, 7])
    }
}
