import XCTest
@testable import MuflowCore

/// Plan JSON read and written with shared values: the parser's reuse of repeated
/// containers, the direct plan reader (and its hand-over to the general path), and
/// the laid-out text that copies repeated stretches.
final class PlanJSONSharingTests: XCTestCase {
    typealias F = PlanFixture

    private func parse(_ text: String, reuse: Bool) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBytes { try parseJSON($0, maxDepth: 1000, reuseRepeats: reuse) }
    }

    private static func direct(_ bytes: [UInt8]) -> (keyIndex: KeyIndex, nodes: [TaskNode], rootKey: JSONString)? {
        bytes.withUnsafeBytes { buffer in
            var reader = PlanJSONReader(buffer)
            return reader.readPlan()
        }
    }

    private func canonical(_ value: JSONValue) -> String {
        String(decoding: PythonJSON.dumps(value, sortKeys: false), as: UTF8.self)
    }

    func testReusedRepeatsParseAsWithoutReuse() throws {
        let list = "[" + (0..<40).map { "\"item \($0)\"" }.joined(separator: ",") + "]"
        let documents = [
            // The same list under the same name in consecutive objects.
            #"{"a": {"x": \#(list), "y": 1}, "b": {"x": \#(list), "y": 2}, "c": {"x": \#(list)}}"#,
            // Near misses: one more element, one element changed, other whitespace.
            #"{"a": {"x": \#(list)}, "b": {"x": \#(list.dropLast()), "extra"]}, "c": {"x": \#(list.replacingOccurrences(of: "item 7\"", with: "item 7!\""))}}"#,
            #"{"a": {"x": \#(list)}, "b": {"x": \#(list.replacingOccurrences(of: ",", with: ", "))}}"#,
            // The same text at another depth or under another name, and as a prefix of a longer value.
            #"{"a": {"x": \#(list)}, "b": {"q": {"x": \#(list)}}, "c": {"z": \#(list)}, "d": {"x": [\#(list), 1]}}"#,
            // Objects repeated, with repeated keys inside (first position, last value).
            #"{"a": {"m": {"k": 1, "j": \#(list), "k": 2}}, "b": {"m": {"k": 1, "j": \#(list), "k": 2}}}"#,
        ]
        for document in documents {
            XCTAssertEqual(canonical(try parse(document, reuse: true)), canonical(try parse(document, reuse: false)), document)
        }
    }

    func testRepeatedContainersShareStorage() throws {
        let list = "[" + (0..<40).map(String.init).joined(separator: ",") + "]"
        let value = try parse(#"{"a": {"x": \#(list)}, "b": {"x": \#(list)}, "c": {"x": \#(list.dropLast()),1]}}"#, reuse: true)
        let object = value.objectValue!
        func items(_ key: String) -> [JSONValue] { object[key]!.objectValue!["x"]!.arrayValue! }
        XCTAssertEqual(ArrayStorageID(items("a")), ArrayStorageID(items("b")))
        XCTAssertNotEqual(ArrayStorageID(items("b")), ArrayStorageID(items("c")))
        XCTAssertEqual(items("c").count, 41)
    }

    /// Documents the direct reader takes: the same plan as the general path.
    func testDirectReaderAgreesWithTheGeneralPath() throws {
        let pretty = #"""
        { "root_key" : "b" ,
          "nodes" : { "a" : { "storage_prefix" : "a", "kwargs" : {"x": [1, 2.5, "\u00e9"]}, "subject_key": "s\n",
                               "function": "f", "key": "a", "analysis_id": "7", "output_files": ["o.json"] },
                      "b" : { "dependency_access_map": {"a": "a"}, "depends_on": ["a"], "key": "b\u0301",
                               "function": "f", "subject_key": "s\n", "kwargs": {}, "storage_prefix": "pb",
                               "depended_on_by": [] } } }
        """#
        let documents = [PlanExpected.ml3, PlanExpected.dupForEach, PlanExpected.overrides, PlanExpected.reordered,
                         pretty, String(decoding: try F.mlPlan(30).toJSON(), as: UTF8.self)]
        for document in documents {
            let bytes = Array(document.utf8)
            let direct = try XCTUnwrap(Self.direct(bytes), document)
            let viaDirect = try TaskPlan(keyIndex: direct.keyIndex, nodes: direct.nodes, rootKey: direct.rootKey)
            let general = try PlanDecoder.plan(from: try parse(document, reuse: false))
            XCTAssertEqual(try viaDirect.toJSON(), try general.toJSON())
            XCTAssertEqual(try TaskPlan.fromJSON(bytes).toJSON(), try general.toJSON())
        }
    }

    /// Documents the direct reader leaves to the general path, which reads or refuses
    /// them as before.
    func testUnusualDocumentsGoToTheGeneralPath() throws {
        func node(_ extra: String = "") -> String {
            #"{"key": "k", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"\#(extra)}"#
        }
        let accepted = [
            #"{"nodes": {"k": {"k\u0065y": "k", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"}}, "root_key": "k"}"#,
            #"{"nodes": {"k": \#(node(#", "function": "g""#))}, "root_key": "k"}"#,
            #"{"nodes": {"k": \#(node()), "k": \#(node(#", "analysis_id": 3"#))}, "root_key": "k"}"#,
            #"{"nodes": {}, "nodes": {"k": \#(node())}, "root_key": "k"}"#,
            "\u{FEFF}" + #"{"nodes": {"k": \#(node())}, "root_key": "k"}"#,
        ]
        for document in accepted {
            let bytes = Array(document.utf8)
            XCTAssertNil(Self.direct(bytes), document)
            let general = try PlanDecoder.plan(from: try parse(document, reuse: false))
            XCTAssertEqual(try TaskPlan.fromJSON(bytes).toJSON(), try general.toJSON(), document)
        }
        let refused = [
            (#"{"nodes": {"k": \#(node(#", "bogus": 1"#))}, "root_key": "k"}"#, "nodes.k.bogus: extra inputs are not permitted"),
            (#"{"nodes": {"k": \#(node(#", "analysis_id": 1.5"#))}, "root_key": "k"}"#, "nodes.k.analysis_id"),
            (#"{"nodes": {"k": \#(node())}, "root_key": "k"} x"#, "extra data"),
            (#"{"nodes": {"k": \#(node(#", "depends_on": ["k"]"#))}, "root_key": "k"}"#, "Circular"),
        ]
        for (document, fragment) in refused {
            let error = F.error { try TaskPlan.fromJSON(Array(document.utf8)) }
            XCTAssertTrue(error?.message.contains(fragment) == true, "\(document): \(String(describing: error))")
        }
    }

    func testLaidOutTextCopiesRepeatsAndWritesTheSameBytes() throws {
        let plan = try F.mlPlan(30)
        let text = try plan.jsonText()
        let bytes = try plan.toJSON()
        XCTAssertEqual(text.count, bytes.count)
        XCTAssertTrue(text.isASCII)
        XCTAssertLessThan(text.literal.count, bytes.count / 4)  // the repeats are copies
        var written = [UInt8](repeating: 0, count: text.count)
        written.withUnsafeMutableBytes { text.write(to: $0.baseAddress!) }
        XCTAssertEqual(written, bytes)
        XCTAssertEqual(try TaskPlan.fromJSON(bytes).toJSON(), bytes)

        let accented = try TaskPlan.fromJSON(Array(#"{"nodes": {"é": {"key": "é", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"}}, "root_key": "é"}"#.utf8))
        XCTAssertFalse(try accented.jsonText().isASCII)
    }
}
