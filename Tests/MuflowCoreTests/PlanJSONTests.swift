import XCTest
@testable import MuflowCore

/// TaskPlan.fromJSON against what muflow's TaskPlan.from_json accepts and refuses.
final class PlanJSONTests: XCTestCase {
    typealias F = PlanFixture

    private func read(_ json: String) throws -> TaskPlan {
        try TaskPlan.fromJSON(Array(json.utf8))
    }

    private func failure(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> MuflowError? {
        F.error({ try self.read(json) }, file: file, line: line)
    }

    /// A one-node plan whose node has `fields` after the required ones.
    private func single(_ fields: String = "", key: String = "k", root: String = #""k""#) -> String {
        #"{"nodes": {"\#(key)": {"key": "k", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"\#(fields)}}, "root_key": \#(root)}"#
    }

    func testMuflowPlansRoundTripByteForByte() throws {
        for expected in [PlanExpected.ml3, PlanExpected.dupForEach, PlanExpected.emptyMiddle,
                         PlanExpected.emptyLast, PlanExpected.overrides, PlanExpected.reordered] {
            XCTAssertEqual(F.text(try read(expected).toJSON()), expected)
        }
    }

    func testPrettyPrintedAndReorderedInputIsAccepted() throws {
        let pretty = #"""
        {
          "root_key": "b",
          "nodes": {
            "a": {"storage_prefix": "pa", "kwargs": {"x": [1, 2.5]}, "subject_key": "s", "function": "f", "key": "a",
                  "analysis_id": 7},
            "b": {
              "dependency_access_map": {"a": "pa"},
              "depends_on": ["a"], "key": "b", "function": "g", "subject_key": "s", "kwargs": {}, "storage_prefix": "pb"
            }
          }
        }
        """#
        let plan = try read(pretty)
        XCTAssertEqual(F.text(try plan.toJSON()), #"{"nodes":{"a":{"key":"a","function":"f","subject_key":"s","kwargs":{"x":[1,2.5]},"storage_prefix":"pa","depends_on":[],"depended_on_by":[],"output_files":[],"analysis_id":7,"dependency_access_map":{}},"b":{"key":"b","function":"g","subject_key":"s","kwargs":{},"storage_prefix":"pb","depends_on":["a"],"depended_on_by":[],"output_files":[],"analysis_id":null,"dependency_access_map":{"a":"pa"}}},"root_key":"b"}"#)
    }

    func testUnknownFieldsAreRefused() {
        XCTAssertEqual(failure(single(#", "extra": 1"#))?.message, "invalid plan JSON: nodes.k.extra: extra inputs are not permitted")
        XCTAssertEqual(failure(#"{"nodes": {}, "root_key": "k", "version": 2}"#)?.message,
                       "invalid plan JSON: version: extra inputs are not permitted")
    }

    func testMissingRequiredFieldsAreNamed() {
        for field in ["key", "function", "subject_key", "kwargs", "storage_prefix"] {
            let fields = ["key": #""k""#, "function": #""f""#, "subject_key": #""s""#, "kwargs": "{}", "storage_prefix": #""p""#]
                .filter { $0.key != field }.map { #""\#($0.key)": \#($0.value)"# }.joined(separator: ", ")
            let error = failure(#"{"nodes": {"k": {\#(fields)}}, "root_key": "k"}"#)
            XCTAssertEqual(error?.message, "invalid plan JSON: nodes.k.\(field): field required")
        }
        XCTAssertEqual(failure(#"{"root_key": "k"}"#)?.message, "invalid plan JSON: nodes: field required")
        XCTAssertEqual(failure(#"{"nodes": {}}"#)?.message, "invalid plan JSON: root_key: field required")
    }

    func testWrongTypesAreNamedByPath() {
        XCTAssertEqual(failure(single(#", "depends_on": null"#))?.message,
                       "invalid plan JSON: nodes.k.depends_on: expected an array, got null")
        XCTAssertEqual(failure(single(#", "depended_on_by": ["x", 1]"#))?.message,
                       "invalid plan JSON: nodes.k.depended_on_by.1: expected a string, got an integer")
        XCTAssertEqual(failure(single(#", "dependency_access_map": {"a": 1}"#))?.message,
                       "invalid plan JSON: nodes.k.dependency_access_map.a: expected a string, got an integer")
        XCTAssertEqual(failure(single(#", "output_files": "x""#))?.kind, .invalidArgument)
        XCTAssertEqual(failure(single(root: "1"))?.message, "invalid plan JSON: root_key: expected a string, got an integer")
        XCTAssertEqual(failure(#"{"nodes": [], "root_key": "k"}"#)?.message, "invalid plan JSON: nodes: expected an object, got an array")
        XCTAssertEqual(failure("[]")?.kind, .invalidArgument)
        XCTAssertEqual(failure(#"{"nodes": {"k": {"key": "k", "function": "f", "subject_key": "s", "kwargs": [], "storage_prefix": "p"}}, "root_key": "k"}"#)?.message,
                       "invalid plan JSON: nodes.k.kwargs: expected an object, got an array")
        XCTAssertEqual(failure(#"{"nodes": {"#)?.kind, .invalidArgument)
    }

    func testReferencesMustNameNodes() {
        XCTAssertEqual(failure(single(root: #""nowhere""#))?.message, "root_key 'nowhere' is not a node of the plan")
        XCTAssertEqual(failure(single(#", "depends_on": ["ghost"]"#))?.message,
                       "node 'k' depends on 'ghost', which is not a node of the plan")
    }

    func testCyclesAreRefusedNamingOne() {
        let json = #"""
        {"nodes": {
          "root": {"key": "root", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p", "depends_on": ["a"]},
          "a": {"key": "a", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p", "depends_on": ["b"]},
          "b": {"key": "b", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p", "depends_on": ["a"]}
        }, "root_key": "root"}
        """#
        XCTAssertEqual(failure(json), MuflowError(.cycle, "Circular dependency among plan nodes: a -> b -> a"))
        XCTAssertEqual(failure(PlanExpected.selfLoop)?.kind, .cycle)
        XCTAssertEqual(failure(PlanExpected.crossReplace)?.kind, .cycle)
    }

    func testAnalysisIDIsALaxInteger() throws {
        let cases: [(String, String)] = [
            ("12345678901234567890123", "12345678901234567890123"), (#"" 5 ""#, "5"), (#""5_0""#, "50"),
            (#""+5""#, "5"), (#""-0""#, "0"), (#""5.00""#, "5"), (#""-1_000.0""#, "-1000"), ("5.0", "5"),
            ("1e3", "1000"), ("-0.0", "0"), ("true", "1"), ("false", "0"), ("null", "null"), ("9.2e18", "9200000000000000000"),
            (#""123456789012345678901234567890""#, "123456789012345678901234567890"), (#""007""#, "7"),
        ]
        for (input, expected) in cases {
            let plan = try read(single(#", "analysis_id": \#(input)"#))
            XCTAssertEqual(F.text(try plan.nodeJSON(at: 0)).components(separatedBy: #""analysis_id":"#)[1].components(separatedBy: ",")[0],
                           expected, input)
        }
        for refused in ["5.5", "1e20", "9223372036854775807.0", "-9223372036854775808.0", #""0x10""#, #""1e3""#, #""5.""#,
                        #"".0""#, #""1__0""#, #""_1""#, #""1_""#, #""""#, #"" ""#, #""-""#, "[]", "{}"] {
            XCTAssertEqual(failure(single(#", "analysis_id": \#(refused)"#))?.kind, .invalidArgument, refused)
        }
    }

    func testEntryKeyMayDifferFromTheNodesKeyAsInMuflow() throws {
        let plan = try read(single(key: "X", root: #""X""#))
        XCTAssertEqual(plan.entryKeys, ["X"])
        XCTAssertEqual(plan.nodes[0].key, "k")
        XCTAssertEqual(F.text(try plan.toJSON()).prefix(20), #"{"nodes":{"X":{"key""#)
        // muflow's ready_nodes tests node.key against the completed keys.
        XCTAssertEqual(plan.readyNodes(completed: ["X"]), [0])
        XCTAssertEqual(plan.readyNodes(completed: ["k"]), [])
    }

    func testRepeatedNodeKeysKeepFirstPositionAndLastValue() throws {
        let json = #"""
        {"nodes": {
          "a": {"key": "a", "function": "first", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"},
          "b": {"key": "b", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"},
          "a": {"key": "a", "function": "last", "subject_key": "s", "kwargs": {}, "storage_prefix": "p"}
        }, "root_key": "b"}
        """#
        let plan = try read(json)
        XCTAssertEqual(plan.entryKeys, ["a", "b"])
        XCTAssertEqual(plan.nodes[0].function, "last")
    }

    func testBigPlanRoundTrips() throws {
        let plan = try F.mlPlan(60)
        let json = try plan.toJSON()
        let again = try TaskPlan.fromJSON(json)
        XCTAssertEqual(try again.toJSON(), json)
        XCTAssertEqual(again.count, 125)
        XCTAssertEqual(try again.levels().map(\.count), [60, 61, 3, 1])
    }
}
