import DeviceLink
import Foundation
import LocalFeatures

@testable import VectorIndex

/// The seeds that vsearch's own writers make (index files, device payloads) and the small text
/// ones, written as `DIRECTORY/<target>/<name>`. The image and ONNX seeds come from
/// scripts/fuzz-seeds.py, which has Pillow and onnx.
enum Seeds {
    static func write(to root: String) throws {
        try save(root, "index", try indexSeeds())
        try save(root, "payload", payloadSeeds())
        try save(root, "multipart", multipartSeeds())
        try save(root, "sources", sourceSeeds())
    }

    private static func save(_ root: String, _ target: String, _ seeds: [(String, [UInt8])]) throws {
        let directory = root + "/" + target
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, bytes) in seeds {
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
    }

    private static func indexSeeds() throws -> [(String, [UInt8])] {
        let dimension = 4
        let vectors: [Float] = (0..<(6 * dimension)).map { Float($0 % 7) / 7 + 0.1 }
        var seeds: [(String, [UInt8])] = []
        let indexes: [(String, () throws -> any VectorIndex)] = [
            ("flat-f32", { try FlatIndex(dimension: dimension, storage: .f32) }),
            ("flat-f16", { try FlatIndex(dimension: dimension, metric: .l2, storage: .f16) }),
            ("flat-i8", { try FlatIndex(dimension: dimension, storage: .i8) }),
            ("hnsw", { try HNSWIndex(dimension: dimension, parameters: HNSWParameters(m: 4, efConstruction: 8)) }),
        ]
        for (name, make) in indexes {
            let directory = NSTemporaryDirectory() + "/vsearch-fuzz-seed-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try IndexStore.create(directory: directory, index: try make())
            try store.add(ids: Array(1...4), vectors: Array(vectors[0..<(4 * dimension)]))
            try store.checkpoint()
            let snapshot = try bytes(directory + "/" + IndexStore.snapshotName)
            try store.add(ids: [5, 6], vectors: Array(vectors[(4 * dimension)...]))
            _ = try store.remove(id: 2)
            let log = try bytes(directory + "/" + IndexStore.logName)
            seeds.append((name, IndexInput(snapshot: snapshot, log: nil).bytes))
            seeds.append((name + "-log", IndexInput(snapshot: snapshot, log: log).bytes))
        }
        return seeds
    }

    private static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private static func payloadSeeds() -> [(String, [UInt8])] {
        let features: [Float] = [0.5, -0.25, 0.125, 1]
        let full = FeatureMessage(
            model: "efficientnet-lite0", device: "cam-1", capturedAt: Date(timeIntervalSince1970: 1_800_000_000),
            features: features, thumbnailJPEG: [0xFF, 0xD8, 0xFF, 0xD9])
        return [
            ("original", PayloadCodec.encode(FeatureMessage(features: features), as: .original)),
            ("compact", PayloadCodec.encode(FeatureMessage(features: features), as: .compact)),
            ("compact-full", PayloadCodec.encode(full, as: .compact)),
            // Version 2, several vectors; version 3, their first two values shared up to a scale.
            (
                "compact-vectors",
                PayloadCodec.encode(FeatureMessage(features: features, regions: [features]), as: .compact)
            ),
            (
                "compact-shared",
                PayloadCodec.encode(
                    FeatureMessage(features: features, regions: [[1, -0.5, 0, 2], [0.25, -0.125, 3, 0]]), as: .compact,
                    sharedPrefix: 2)
            ),
            // Version 4: version 3 with two keypoints of local features.
            (
                "compact-local",
                PayloadCodec.encode(
                    FeatureMessage(
                        features: features, regions: [[1, -0.5, 0, 2]],
                        localFeatures: LocalFeatures(
                            points: [SIMD2(1, 2), SIMD2(30, 40)], angles: [0, 1], descriptors: [1, 2, 3, 4, 5, 6, 7, 8])
                    ),
                    as: .compact, sharedPrefix: 2)
            ),
        ]
    }

    private static func multipartSeeds() -> [(String, [UInt8])] {
        let body = [
            "--XyZ", "Content-Disposition: form-data; name=\"k\"", "", "3",
            "--XyZ", "Content-Disposition: form-data; name=\"where\"", "", "collection=space",
            "--XyZ", "Content-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"", "Content-Type: image/jpeg",
            "",
            "\u{FF}\u{D8}jpeg bytes", "--XyZ--", "",
        ].joined(separator: "\r\n")
        return [
            ("form", Array("multipart/form-data; boundary=XyZ\n\(body)".utf8)),
            ("quoted", Array("multipart/form-data; boundary=\"XyZ\"\n\(body)".utf8)),
        ]
    }

    private static func sourceSeeds() -> [(String, [UInt8])] {
        let texts: [(String, UInt8, String)] = [
            ("seed", 0, "A red chair, https://images.example.test/chair.jpg\nBlue lamp, lamp.png\n"),
            (
                "metadata-json", 1,
                #"[{"id": "1", "title": "Chair", "url": "chair.jpg", "colour": "red"}, {"id": 2, "title": "Lamp", "url": "/a/lamp.png"}]"#
            ),
            (
                "jsonl", 2,
                "{\"id\": \"a\", \"title\": \"A\", \"url\": \"a.jpg\", \"n\": 3}\n{\"id\": \"b\", \"url\": \"b.webp\"}\n"
            ),
            ("csv", 3, "id,title,url,collection\n1,\"Chair, red\",chair.jpg,home\n2,Lamp,\"l\"\"amp.png\",home\n"),
            ("csv-remote", 7, "id,title,url\n1,Chair,../img/chair.jpg\n"),
        ]
        return texts.map { ($0.0, [$0.1] + Array($0.2.utf8)) }
    }
}
