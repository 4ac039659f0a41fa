import ImageDecoding
import Testing
import VSearchCore
import VSearchTesting

@testable import ImageTensor

@Suite(.offThePool) struct PreprocessingTests {
    static func spec(
        width: Int = 224, height: Int = 224, shortSide: Int? = 256, resample: ModelDescriptor.Resample = .bilinear,
        crop: ModelDescriptor.Crop = .center, order: ModelDescriptor.ColorOrder = .rgb,
        layout: ModelDescriptor.Layout = .nchw
    ) -> ModelDescriptor.InputSpec {
        ModelDescriptor.InputSpec(
            name: "input", width: width, height: height, resizeShortSide: shortSide, resample: resample, crop: crop,
            mean: [127, 127, 127], std: [128, 128, 128], colorOrder: order, layout: layout)
    }

    /// A picture whose every pixel is different and computable from (x, y).
    static func pattern(width: Int, height: Int) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(truncatingIfNeeded: x)
                pixels[i + 1] = UInt8(truncatingIfNeeded: y)
                pixels[i + 2] = UInt8(truncatingIfNeeded: x * 7 + y * 3)
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }

    static func normalized(_ value: UInt8) -> Float { (Float(value) - 127) / 128 }

    @Test func aConstantPictureGivesConstantChannels() throws {
        let pixels = [UInt8]((0..<(300 * 400)).flatMap { _ in [10, 200, 255] as [UInt8] })
        let image = Image(width: 300, height: 400, pixels: pixels)
        for resample in [ModelDescriptor.Resample.bilinear, .area, .bicubic] {
            let tensor = try ImagePreprocessor(spec: Self.spec(resample: resample)).tensor(image)
            #expect(tensor.shape == [1, 3, 224, 224])
            let plane = 224 * 224
            for (channel, value) in [10, 200, 255].enumerated() {
                let expected = Self.normalized(UInt8(value))
                #expect(tensor.data[(channel * plane)..<((channel + 1) * plane)].allSatisfy { $0 == expected })
            }
        }
    }

    @Test func aPictureAlreadyAtTheShortSideIsOnlyCropped() throws {
        // 256 × 512 keeps its size; torchvision's crop then starts at (16, 144).
        let image = Self.pattern(width: 256, height: 512)
        let preprocessor = try ImagePreprocessor(spec: Self.spec())
        let tensor = preprocessor.tensor(image)
        let plane = 224 * 224
        for (x, y) in [(0, 0), (223, 0), (0, 223), (100, 57), (223, 223)] {
            let source = image[x + 16, y + 144]
            #expect(tensor.data[0 * plane + y * 224 + x] == Self.normalized(source.r))
            #expect(tensor.data[1 * plane + y * 224 + x] == Self.normalized(source.g))
            #expect(tensor.data[2 * plane + y * 224 + x] == Self.normalized(source.b))
        }
    }

    @Test func bgrAndChannelsLastPutValuesWhereTheySay() throws {
        let image = Self.pattern(width: 256, height: 512)
        let tensor = try ImagePreprocessor(spec: Self.spec(order: .bgr, layout: .nhwc)).tensor(image)
        #expect(tensor.shape == [1, 224, 224, 3])
        let (x, y) = (31, 90)
        let source = image[x + 16, y + 144]
        let base = (y * 224 + x) * 3
        #expect(tensor.data[base] == Self.normalized(source.b))
        #expect(tensor.data[base + 1] == Self.normalized(source.g))
        #expect(tensor.data[base + 2] == Self.normalized(source.r))
    }

    @Test func areaHalvingAveragesTwoByTwoBlocks() throws {
        // 512 × 1024 → 256 × 512 with Pillow's BOX: each pass averages pairs, rounding half up.
        let image = Self.pattern(width: 512, height: 1024)
        let tensor = try ImagePreprocessor(spec: Self.spec(resample: .area)).tensor(image)
        for (x, y) in [(0, 0), (5, 9), (223, 223), (120, 7)] {
            let (sx, sy) = (2 * (x + 16), 2 * (y + 144))
            func pair(_ a: UInt8, _ b: UInt8) -> Int { (Int(a) + Int(b) + 1) / 2 }
            let top = pair(image[sx, sy].g, image[sx + 1, sy].g)
            let bottom = pair(image[sx, sy + 1].g, image[sx + 1, sy + 1].g)
            let expected = UInt8((top + bottom + 1) / 2)
            #expect(tensor.data[224 * 224 + y * 224 + x] == Self.normalized(expected))
        }
    }

    @Test func torchvisionRoundingOfSizesAndCrop() throws {
        let preprocessor = try ImagePreprocessor(spec: Self.spec())
        // 451 × 300: long side int(256 × 451 / 300) = 384; left = round(80.0) = 80.
        #expect(
            preprocessor.geometry(width: 451, height: 300)
                == .init(resizedWidth: 384, resizedHeight: 256, left: 80, top: 16))
        // 300 × 401 → 256 × 342; (342 − 224) / 2 = 59.
        #expect(preprocessor.geometry(width: 300, height: 401).top == 59)
        // Python rounds halves to even: 58.5 → 58 and 59.5 → 60.
        #expect(ImagePreprocessor.cropOffset(size: 341, crop: 224) == 58)
        #expect(ImagePreprocessor.cropOffset(size: 343, crop: 224) == 60)
    }

    @Test func aCropLargerThanThePictureIsPaddedWithZeroPixels() throws {
        let image = Self.pattern(width: 100, height: 100)
        let tensor = try ImagePreprocessor(spec: Self.spec(shortSide: 100)).tensor(image)
        // The 100 × 100 picture sits at offset 62 inside 224 × 224.
        #expect(tensor.data[0] == Self.normalized(0))
        #expect(tensor.data[62 * 224 + 62 + 5] == Self.normalized(image[5, 0].r))
    }

    @Test func withoutACropThePictureIsStretchedToTheInputSize() throws {
        let image = Self.pattern(width: 640, height: 100)
        let tensor = try ImagePreprocessor(spec: Self.spec(width: 32, height: 16, crop: .none)).tensor(image)
        #expect(tensor.shape == [1, 3, 16, 32])
    }

    @Test func batchesFillPreallocatedSlots() throws {
        let preprocessor = try ImagePreprocessor(spec: Self.spec())
        let a = Self.pattern(width: 256, height: 300)
        let b = Self.pattern(width: 400, height: 256)
        var batch = Tensor(zeros: [2, 3, 224, 224])
        try preprocessor.write(b, into: &batch, at: 1)
        try preprocessor.write(a, into: &batch, at: 0)
        #expect(batch == preprocessor.tensor([a, b]))
        #expect(Array(batch.data[(3 * 224 * 224)...]) == preprocessor.tensor(b).data)
        #expect(throws: PreprocessingError.indexOutOfRange(index: 2, batchSize: 2)) {
            try preprocessor.write(a, into: &batch, at: 2)
        }
        var wrong = Tensor(zeros: [2, 3, 100, 100])
        #expect(throws: PreprocessingError.self) { try preprocessor.write(a, into: &wrong, at: 0) }
    }

    @Test func invalidSpecsAreRefused() {
        var spec = Self.spec()
        spec.std = [128, 0, 128]
        #expect(throws: PreprocessingError.self) { try ImagePreprocessor(spec: spec) }
        spec = Self.spec()
        spec.mean = [1, 2]
        #expect(throws: PreprocessingError.self) { try ImagePreprocessor(spec: spec) }
        #expect(throws: PreprocessingError.self) { try ImagePreprocessor(spec: Self.spec(width: 0)) }
        #expect(throws: PreprocessingError.self) { try ImagePreprocessor(spec: Self.spec(shortSide: -1)) }
    }

    @Test func realPhotoDecodedForTheModelHasTheModelShape() throws {
        let preprocessor = try ImagePreprocessor(spec: Self.spec())
        let image = try ImageDecoder().decode(
            file: try Fixtures.photo("mate/Wood.jpg"), targetShortSide: preprocessor.decodeShortSide)
        let tensor = preprocessor.tensor(image)
        #expect(tensor.shape == [1, 3, 224, 224])
        #expect(tensor.data.allSatisfy { $0 >= -127.0 / 128 && $0 <= 1 })
    }
}
