// swift-tools-version:6.0
// A package that uses vsearch's libraries the way another project would, so CI proves they can be depended
// on (scripts/test.sh builds it). It depends on the repository by path because CI has no published version
// to point at; SwiftPM refuses unsafe flags only in versioned dependencies, so the same CI step also checks
// that the root Package.swift has none.
import PackageDescription

let package = Package(
    name: "Downstream",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, so the reference below does not depend on what the checkout directory is called.
        .package(name: "vsearch", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "downstream",
            dependencies: [
                .product(name: "VectorIndex", package: "vsearch"),
                .product(name: "Catalogue", package: "vsearch"),
                .product(name: "SearchServer", package: "vsearch"),
                .product(name: "Featurizer", package: "vsearch"),
                // What vsearch's own programs link for passive OpenMP waiting; an executable opts in.
                .product(name: "OpenMPPassiveWait", package: "vsearch"),
            ]
        )
    ]
)
