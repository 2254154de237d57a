import Foundation
import XCTest

/// MuflowCore is the engine alone: the binding's data shapes live in MuflowPickle and
/// the C interface in Sources/muflow. No file of the core may name them, comments
/// included.
final class CoreNeutralityTests: XCTestCase {
    static let forbidden = ["pickle", "pyobject", "ctypes"]

    func testNoCoreFileNamesPicklesPyObjectOrCtypes() throws {
        let core = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/MuflowCore")
        let files = try XCTUnwrap(FileManager.default.enumerator(at: core, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        XCTAssertGreaterThan(files.count, 40, "the core's sources were not found at \(core.path)")
        var offences: [String] = []
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() {
                let lower = line.lowercased()
                for word in Self.forbidden where lower.contains(word) {
                    offences.append("\(file.lastPathComponent):\(number + 1) names \(word): \(line)")
                }
            }
        }
        XCTAssertEqual(offences, [], "MuflowCore must hold no C or Python concerns:\n" + offences.joined(separator: "\n"))
    }
}
