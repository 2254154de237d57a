import CMuflowHeader
import XCTest

/// The binding tier's rule functions through the headers only: the ready tracker and the
/// write rules.
final class RulesABITests: XCTestCase {
    private func message() -> String { String(cString: mf_last_error_message()) }

    /// a <- b <- d, a <- c <- d (a diamond), filed under their own keys.
    private func diamond() -> OpaquePointer? {
        func node(_ key: String, _ depends: [String]) -> String {
            let list = depends.map { "\"\($0)\"" }.joined(separator: ",")
            return #""\#(key)":{"key":"\#(key)","function":"f","subject_key":"s","kwargs":{},"storage_prefix":"\#(key)","depends_on":[\#(list)],"depended_on_by":[],"output_files":[],"analysis_id":null,"dependency_access_map":{}}"#
        }
        let json = #"{"nodes":{\#([node("a", []), node("b", ["a"]), node("c", ["a"]), node("d", ["b", "c"])].joined(separator: ","))},"root_key":"d"}"#
        var plan: OpaquePointer?
        XCTAssertEqual(mf_plan_from_json(&plan, json, json.utf8.count), MF_OK)
        return plan
    }

    private func list(_ pointer: UnsafePointer<Int>?, _ count: Int) -> [Int] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    func testTrackerFollowsAddedNodesAndKeyChanges() {
        let plan = diamond()
        defer { mf_plan_free(plan) }
        var tracker: OpaquePointer?
        XCTAssertEqual(mf_ready_tracker_new(&tracker, plan), MF_OK)
        defer { mf_ready_tracker_free(tracker) }
        var ready: UnsafePointer<Int>?
        var count = -1
        XCTAssertEqual(mf_ready_tracker_add_nodes(&ready, &count, tracker, nil, 0), MF_OK)
        XCTAssertEqual(list(ready, count), [0])
        var a = 0
        XCTAssertEqual(mf_ready_tracker_add_nodes(&ready, &count, tracker, &a, 1), MF_OK)
        XCTAssertEqual(list(ready, count), [1, 2])
        XCTAssertEqual(mf_ready_tracker_update(&ready, &count, tracker, #"["b", "c", "elsewhere"]"#, nil), MF_OK)
        XCTAssertEqual(list(ready, count), [3])
        XCTAssertEqual(mf_ready_tracker_update(&ready, &count, tracker, nil, #"["a"]"#), MF_OK)
        XCTAssertEqual(list(ready, count), [0, 3])  // d's dependencies b and c are still completed
        XCTAssertEqual(mf_ready_tracker_update(&ready, &count, tracker, #"["a", "d"]"#, #"["b"]"#), MF_OK)
        XCTAssertEqual(list(ready, count), [1])
    }

    func testTrackerRefusesBadArgumentsAndAppliesNothing() {
        let plan = diamond()
        defer { mf_plan_free(plan) }
        var tracker: OpaquePointer?
        XCTAssertEqual(mf_ready_tracker_new(nil, plan), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_ready_tracker_new(&tracker, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_ready_tracker_new(&tracker, plan), MF_OK)
        defer { mf_ready_tracker_free(tracker) }
        var ready: UnsafePointer<Int>?
        var count = 0
        var nodes = [0, 4]
        XCTAssertEqual(mf_ready_tracker_add_nodes(&ready, &count, tracker, &nodes, 2), MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("node index 4 is out of range"), message())
        XCTAssertEqual(mf_ready_tracker_update(&ready, &count, tracker, #"["a", 1]"#, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("added_json must be a JSON array of node keys"), message())
        XCTAssertEqual(mf_ready_tracker_update(&ready, &count, tracker, nil, "{"), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_ready_tracker_add_nodes(&ready, &count, nil, nil, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_ready_tracker_add_nodes(&ready, &count, tracker, nil, 0), MF_OK)
        XCTAssertEqual(list(ready, count), [0])
        mf_ready_tracker_free(nil)
    }

    func testTrackerOutlivesItsPlan() {
        var plan = diamond()
        var tracker: OpaquePointer?
        XCTAssertEqual(mf_ready_tracker_new(&tracker, plan), MF_OK)
        mf_plan_free(plan)
        plan = nil
        defer { mf_ready_tracker_free(tracker) }
        var ready: UnsafePointer<Int>?
        var count = 0
        XCTAssertEqual(mf_ready_tracker_update(&ready, &count, tracker, #"["a", "b", "c"]"#, nil), MF_OK)
        XCTAssertEqual(list(ready, count), [3])
    }

    func testProtectedNames() {
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_filename_protected(&out), MF_OK)
        XCTAssertEqual(String(cString: out!), #"["context.json", "manifest.json"]"#)
        mf_string_free(out)
        XCTAssertEqual(mf_filename_protected(nil), MF_ERR_INVALID_ARGUMENT)
    }

    func testPrefixSelection() {
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_prefix_selection(&out), MF_OK)
        XCTAssertEqual(String(cString: out!), #"{"label_key": "task", "label_default": "unknown"}"#)
        mf_string_free(out)
        XCTAssertEqual(mf_prefix_selection(nil), MF_ERR_INVALID_ARGUMENT)
        // The parameters are the ones mf_compute_prefix applies.
        let dict = #"{"a": 1, "b": 2}"#
        XCTAssertEqual(mf_compute_prefix(&out, MF_FORMAT_JSON, dict, dict.utf8.count, "m", #"["a"]"#), MF_OK)
        let selected = String(cString: out!)
        mf_string_free(out)
        let explicit = #"{"a": 1, "task": "unknown"}"#
        XCTAssertEqual(mf_compute_prefix(&out, MF_FORMAT_JSON, explicit, explicit.utf8.count, "m", nil), MF_OK)
        XCTAssertEqual(String(cString: out!), selected)
        XCTAssertTrue(selected.hasPrefix("m/unknown/"), selected)
        mf_string_free(out)
    }

    func testWriteRules() {
        XCTAssertEqual(mf_filename_check_write("result.json", 0, 0), MF_OK)
        XCTAssertEqual(mf_filename_check_write("manifest.json", 0, 0), MF_ERR_PERMISSION)
        XCTAssertEqual(message(), "'manifest.json' is a protected file and cannot be written by tasks.")
        XCTAssertEqual(mf_filename_check_write("manifest.json", 0, 1), MF_OK)
        XCTAssertEqual(mf_filename_check_write("result.json", 1, 0), MF_ERR_ALREADY_EXISTS)
        XCTAssertEqual(message(), "'result.json' has already been written.  Files can only be written once.")
        XCTAssertEqual(mf_filename_check_write("context.json", 1, 0), MF_ERR_PERMISSION)
        XCTAssertEqual(mf_filename_check_write(nil, 0, 0), MF_ERR_INVALID_ARGUMENT)
    }
}
