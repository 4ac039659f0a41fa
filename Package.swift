// swift-tools-version:6.0
// vsearch: visual search in Swift.
//
// The targets follow the data path, and dependencies point one way, towards
// the core:
//
//   image (ImageDecoding, ImageOps, ImageFetching) → tensor (ImageTensor) →
//   features (CNNRuntime, Featurizer) → index (VectorIndex) → matches
//   (Catalogue, RetrievalEval) → people and devices (DeviceLink, EdgeAgent,
//   SearchServer, vsearch)
import PackageDescription

let package = Package(
    name: "vsearch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vsearch", targets: ["vsearch"]),
        .library(name: "VSearchCore", targets: ["VSearchCore"]),
        .library(name: "ImageDecoding", targets: ["ImageDecoding"]),
        .library(name: "ImageOps", targets: ["ImageOps"]),
        .library(name: "ImageFetching", targets: ["ImageFetching"]),
        .library(name: "ImageTensor", targets: ["ImageTensor"]),
        .library(name: "CNNRuntime", targets: ["CNNRuntime"]),
        .library(name: "Featurizer", targets: ["Featurizer"]),
        .library(name: "LocalFeatures", targets: ["LocalFeatures"]),
        .library(name: "VectorIndex", targets: ["VectorIndex"]),
        .library(name: "Catalogue", targets: ["Catalogue"]),
        // The catalogue on PostgreSQL with pgvector; a program that keeps its catalogue embedded does not link it.
        .library(name: "CataloguePostgres", targets: ["CataloguePostgres"]),
        .library(name: "RetrievalEval", targets: ["RetrievalEval"]),
        .library(name: "SearchServer", targets: ["SearchServer"]),
        // What the tests share, as HummingbirdTesting is for Hummingbird's: real processes, brokers and photos.
        .library(name: "VSearchTesting", targets: ["VSearchTesting"]),
        // For programs of your own that run the network: link it into the executable to get the passive OpenMP
        // waiting that vsearch's own programs have (see COpenMPEnvironment below).
        .library(name: "OpenMPPassiveWait", targets: ["COpenMPEnvironment"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Already in the graph through AsyncHTTPClient; image downloads gather their bodies on its event loops.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through AsyncHTTPClient's TLS stack; the catalogue uses its SHA-256.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Only the browser test uses it: a WebSocket client for Chromium's DevTools protocol.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        // Only for `swift package generate-documentation` (scripts/docs.sh): the DocC catalogues in Sources/*/*.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The PostgreSQL client of the catalogue's second backend (CataloguePostgres only).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CWebP", path: "Sources/CWebP"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CMosquitto", path: "Sources/CMosquitto"),
        // Our own C: setjmp guards around libjpeg and libpng calls, which Swift cannot make safely,
        // and resampling kernels built for several CPU levels.
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]
        ),
        // The vector index's distance kernels: AVX2 + FMA + F16C and portable variants in one binary, chosen at
        // run time by the CPU, so no target needs CPU flags (SwiftPM calls those unsafe and refuses them in a
        // versioned dependency).
        .target(name: "CVectorKernels"),
        // Which CPU a thread runs on, and keeping a helper thread off one: calls glibc declares only for GNU
        // sources.
        .target(name: "CThreadPlacement"),

        // Shared vocabulary: errors, tensors, the model descriptor, progress, the threads work runs on.
        .target(name: "VSearchCore", dependencies: ["CThreadPlacement"]),

        // image: bytes → RGB pixels.
        .target(
            name: "ImageDecoding",
            dependencies: ["VSearchCore", "CImageCodecs", "CWebP"]
        ),
        // image: the toolbox on decoded pixels: JPEG encoding, downscaling, blur (thumbnails, eval queries).
        .target(name: "ImageOps", dependencies: ["VSearchCore", "ImageDecoding", "CImageCodecs"]),
        // image: bytes from paths, file URLs and http(s), with a download cache, limits, retries and the
        // address guard for URLs that a server's clients give.
        .target(
            name: "ImageFetching",
            dependencies: [
                "VSearchCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // tensor: RGB pixels → the model's input tensor, as model.json says.
        .target(name: "ImageTensor", dependencies: ["VSearchCore", "ImageDecoding", "CImageCodecs"]),
        // Sets OMP_WAIT_POLICY=PASSIVE before libgomp starts, by re-executing the program once from a
        // .preinit_array entry. Only executables (and the test binary) depend on it: linked into a library it
        // would restart every program that uses the library.
        .target(name: "COpenMPEnvironment"),
        // features: an ONNX CNN runtime on oneDNN kernels.
        .target(
            name: "CNNRuntime",
            dependencies: [
                "VSearchCore", "CDNNL",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // features: image files → feature vectors, loaded once, safe to share.
        .target(
            name: "Featurizer",
            dependencies: [
                "VSearchCore", "ImageDecoding", "ImageTensor", "CNNRuntime", "LocalFeatures", "CVectorKernels",
            ]
        ),
        // features: local features (corners with binary descriptors) and the check that two pictures show one
        // object in one placement, which verifies a search's best candidates.
        .target(name: "CLocalFeatureKernels"),
        .target(name: "LocalFeatures", dependencies: ["ImageDecoding", "ImageOps", "CLocalFeatureKernels"]),
        // index: exact and HNSW vector search, persistent.
        .target(name: "VectorIndex", dependencies: ["VSearchCore", "CDNNL", "CVectorKernels"]),

        // matches: the catalogue store (SQLite metadata + vectors), ingestion and search.
        .target(
            name: "Catalogue",
            dependencies: [
                "VSearchCore", "ImageDecoding", "ImageFetching", "Featurizer", "LocalFeatures", "VectorIndex",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // matches: the catalogue on PostgreSQL + pgvector, for several servers and ingest workers sharing one.
        .target(
            name: "CataloguePostgres",
            dependencies: [
                "VSearchCore", "Catalogue", "ImageFetching", "LocalFeatures", "VectorIndex",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // matches: how well a catalogue finds its own photos under camera-like distortions (`vsearch eval`).
        .target(
            name: "RetrievalEval",
            dependencies: [
                "VSearchCore", "ImageDecoding", "ImageOps", "ImageFetching", "Featurizer", "Catalogue", "LocalFeatures",
            ]
        ),

        // devices: MQTT through libmosquitto, and the feature payloads devices publish.
        .target(name: "DeviceLink", dependencies: ["VSearchCore", "LocalFeatures", "CMosquitto"]),
        // devices: the edge agent (frames from ffmpeg, a folder or stdin → features → MQTT).
        .target(
            name: "EdgeAgent",
            dependencies: ["VSearchCore", "ImageDecoding", "ImageOps", "Featurizer", "DeviceLink"]
        ),
        // people and devices: the HTTP API, the live match stream and the web UI.
        .target(
            name: "SearchServer",
            dependencies: [
                "VSearchCore", "ImageDecoding", "ImageOps", "ImageFetching", "Featurizer", "LocalFeatures", "Catalogue",
                "DeviceLink",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Web"), .copy("openapi.yaml")]
        ),

        // people and devices: the command-line tool.
        .executableTarget(
            name: "vsearch",
            dependencies: [
                "VSearchCore", "ImageDecoding", "ImageTensor", "CNNRuntime", "Featurizer", "VectorIndex", "Catalogue",
                "CataloguePostgres", "ImageFetching", "RetrievalEval", "DeviceLink", "EdgeAgent",
                "COpenMPEnvironment",  // passive OpenMP waiting for this program
                "SearchServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmarks' Swift side; scripts/bench/ runs them beside the competing tools.
        .executableTarget(
            name: "vsearch-bench",
            dependencies: [
                "VSearchCore", "ImageDecoding", "ImageTensor", "CNNRuntime", "Featurizer", "VectorIndex",
                "LocalFeatures", "Catalogue",
                "COpenMPEnvironment",  // passive OpenMP waiting for this program
                "COpenBLAS",  // only for the measurement that chose oneDNN over OpenBLAS
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Shared by every test target: the repository's model, photos and binary, temporary directories,
        // child processes run off Swift's cooperative pool, a real Mosquitto broker and ffmpeg test videos.
        .target(name: "VSearchTesting", dependencies: ["VSearchCore"]),

        .testTarget(name: "VSearchCoreTests", dependencies: ["VSearchCore", "CThreadPlacement"]),
        .testTarget(
            name: "ImageDecodingTests", dependencies: ["ImageDecoding", "ImageTensor", "VSearchCore", "VSearchTesting"]
        ),
        // The test targets that run the network link COpenMPEnvironment as the executables do, so the test
        // binary does not spin either.
        .testTarget(
            name: "CNNRuntimeTests", dependencies: ["CNNRuntime", "Featurizer", "COpenMPEnvironment", "VSearchTesting"]),
        .testTarget(
            name: "FeaturizerTests",
            dependencies: ["Featurizer", "VSearchCore", "VSearchTesting", "COpenMPEnvironment"]
        ),
        .testTarget(
            name: "LocalFeaturesTests",
            dependencies: ["LocalFeatures", "CLocalFeatureKernels", "ImageDecoding", "ImageOps", "VSearchTesting"]
        ),
        .testTarget(
            name: "VectorIndexTests", dependencies: ["VectorIndex", "CVectorKernels", "VSearchCore", "VSearchTesting"]
        ),
        .testTarget(name: "ImageFetchingTests", dependencies: ["ImageFetching"]),
        .testTarget(
            name: "CatalogueTests",
            // RetrievalEval for its camera-like query distortions, which the HNSW-against-flat test searches with.
            dependencies: [
                "Catalogue", "VSearchCore", "RetrievalEval", "VSearchTesting", "COpenMPEnvironment",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Against a real PostgreSQL that each suite starts with scripts/postgres.sh.
        .testTarget(
            name: "CataloguePostgresTests",
            dependencies: [
                "CataloguePostgres", "Catalogue", "VSearchCore", "VSearchTesting", "LocalFeatures", "ImageDecoding",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RetrievalEvalTests",
            dependencies: [
                "RetrievalEval", "Catalogue", "ImageDecoding", "ImageOps", "VSearchCore", "VSearchTesting",
                "COpenMPEnvironment",
            ]
        ),
        .testTarget(name: "DeviceLinkTests", dependencies: ["DeviceLink", "VSearchTesting"]),
        .testTarget(
            name: "EdgeAgentTests",
            dependencies: [
                "EdgeAgent", "DeviceLink", "Featurizer", "VSearchCore", "VSearchTesting", "COpenMPEnvironment",
            ]
        ),
        .testTarget(
            name: "SearchServerTests",
            dependencies: [
                "SearchServer", "Catalogue", "CataloguePostgres", "Featurizer", "ImageDecoding", "ImageFetching",
                "VSearchCore", "VSearchTesting", "COpenMPEnvironment",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Drives headless Chromium over the DevTools protocol against the built `vsearch serve`.
        .testTarget(
            name: "BrowserTests",
            dependencies: [
                "VSearchTesting", .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                // The static site that serves the original page from another origin.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)

// libFuzzer targets (Tests/Fuzz, run by scripts/fuzz.sh): declared only when VSEARCH_FUZZ is set, because they
// link only with `-sanitize=fuzzer` (libFuzzer's driver runs them) and so would break a plain `swift build`.
// FuzzedSources builds the multipart and catalogue-source parsers alone, through links to their files, so
// the fuzz build needs neither the HTTP server nor the store's SQLite and HTTP client.
if Context.environment["VSEARCH_FUZZ"] != nil {
    package.targets += [
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/CFuzzDriver"),
        .target(name: "FuzzedSources", dependencies: ["VSearchCore"], path: "Tests/Fuzz/FuzzedSources"),
        .executableTarget(
            name: "vsearch-fuzz",
            dependencies: [
                "CFuzzDriver", "FuzzedSources", "VSearchCore", "ImageDecoding", "CImageCodecs", "CNNRuntime",
                "VectorIndex", "DeviceLink", "LocalFeatures",
            ],
            path: "Tests/Fuzz/vsearch-fuzz"
        ),
    ]
    package.products.append(.executable(name: "vsearch-fuzz", targets: ["vsearch-fuzz"]))
}
