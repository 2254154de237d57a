// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "muflow",
    products: [
        .library(name: "muflow", type: .dynamic, targets: ["muflow"]),
        .library(name: "MuflowCore", targets: ["MuflowCore"]),
    ],
    targets: [
        // The engine: plain Swift, no C or Python concerns.
        .target(name: "MuflowCore", dependencies: ["CSHA256"]),
        // SHA-256 in C, for the CPU's SHA instructions, which Swift cannot name.
        .target(name: "CSHA256"),
        // Exposes include/muflow.h to Swift so `@c @implementation` checks every entry point.
        .target(name: "CMuflowHeader"),
        // The C ABI layer: implements muflow.h over MuflowCore.
        .target(name: "muflow", dependencies: ["MuflowCore", "CMuflowHeader"]),
        // Helpers the test targets share (temporary directories).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "MuflowCoreTests", dependencies: ["MuflowCore", "TestSupport"], exclude: ["Generators"]),
        .testTarget(name: "CABITests", dependencies: ["muflow", "CMuflowHeader", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
