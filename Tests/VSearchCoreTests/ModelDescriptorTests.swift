import Foundation
import Testing

@testable import VSearchCore

@Suite struct ModelDescriptorTests {
    @Test func decodesTheDocumentedExample() throws {
        let json = """
            {"id": "efficientnet-lite0/1", "name": "EfficientNet-Lite0", "onnx": "model.onnx",
             "input": {"name": "input", "width": 224, "height": 224, "resizeShortSide": 256,
                       "resample": "bilinear", "crop": "center", "mean": [127,127,127],
                       "std": [128,128,128], "colorOrder": "RGB", "layout": "NCHW"},
             "feature": {"output": "features", "dimension": 1280, "normalize": true},
             "logits": {"output": "logits", "labels": "labels.txt"}}
            """
        let model = try JSONDecoder().decode(ModelDescriptor.self, from: Data(json.utf8))
        #expect(model.input.resizeShortSide == 256)
        #expect(model.input.layout == .nchw)
        #expect(model.feature.dimension == 1280)
        #expect(model.logits?.labels == "labels.txt")
    }

    @Test func aMissingDirectoryNamesThePath() {
        #expect(throws: ModelDirectoryError.self) {
            try ModelDirectory(url: URL(fileURLWithPath: "/nonexistent/model-dir"))
        }
        do {
            _ = try ModelDirectory(url: URL(fileURLWithPath: "/nonexistent/model-dir"))
        } catch {
            #expect(error.description.contains("/nonexistent/model-dir/model.json"))
        }
    }
}
