// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "muflow",
    products: [
        .library(name: "muflow", type: .dynamic, targets: ["muflow"]),
        .library(name: "MuflowCore", targets: ["MuflowCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // The engine: plain Swift, no C or Python concerns.
        .target(
            name: "MuflowCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // Exposes include/muflow.h to Swift so `@c @implementation` checks every entry point.
        .target(name: "CMuflowHeader"),
        // The C ABI layer: implements muflow.h over MuflowCore.
        .target(name: "muflow", dependencies: ["MuflowCore", "CMuflowHeader"]),
        .testTarget(name: "MuflowCoreTests", dependencies: ["MuflowCore"], exclude: ["Generators"]),
        .testTarget(name: "CABITests", dependencies: ["muflow", "CMuflowHeader"]),
    ],
    swiftLanguageModes: [.v5]
)
