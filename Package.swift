// swift-tools-version:6.1
import PackageDescription

// The engine's code is inlined into the modules above it (MuflowPickle writes a node's
// pickle with the core's JSON values, per value), as it was when they were one module.
let crossModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "muflow",
    products: [
        .library(name: "muflow", type: .dynamic, targets: ["muflow"]),
        .library(name: "MuflowCore", targets: ["MuflowCore"]),
    ],
    targets: [
        // The engine: plain Swift, no C or Python concerns (CoreNeutralityTests checks
        // that no file of it names pickles, PyObject or ctypes).
        .target(name: "MuflowCore", dependencies: ["CSHA256"], swiftSettings: crossModule),
        // Python's data shapes over the engine's values, for the binding tier
        // (include/muflow_binding.h): pickle readers and writers, the node pickler.
        .target(name: "MuflowPickle", dependencies: ["MuflowCore"], swiftSettings: crossModule),
        // SHA-256 in C, for the CPU's SHA instructions, which Swift cannot name.
        .target(name: "CSHA256"),
        // Exposes include/muflow.h and include/muflow_binding.h to Swift so that
        // `@c @implementation` checks every entry point of both tiers.
        .target(name: "CMuflowHeader"),
        // The C ABI layer: implements both headers over MuflowCore and MuflowPickle.
        .target(name: "muflow", dependencies: ["MuflowCore", "MuflowPickle", "CMuflowHeader"]),
        // Helpers the test targets share (temporary directories).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "MuflowCoreTests", dependencies: ["MuflowCore", "MuflowPickle", "TestSupport"], exclude: ["Generators"]),
        .testTarget(name: "CABITests", dependencies: ["muflow", "CMuflowHeader", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
