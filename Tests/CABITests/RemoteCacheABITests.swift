import CMuflowHeader
import Foundation
import XCTest

/// The stale-input check of remote backends through muflow.h only: manifests written by
/// a ledger with their inputs, their digests, and the states of one node and of a plan.
final class RemoteCacheABITests: XCTestCase {
    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        defer { mf_string_free(pointer) }
        return pointer.map { String(cString: $0) }
    }

    private func message() -> String { String(cString: mf_last_error_message()) }

    /// a -> b -> c, each reading the one before under its step's name.
    private func chain() -> OpaquePointer? {
        func node(_ name: String, _ dependency: String?) -> String {
            let map = dependency.map { #"{"\#($0)":"p/\#($0)"}"# } ?? "{}"
            let dependsOn = dependency.map { #"["\#($0)"]"# } ?? "[]"
            return #""\#(name)":{"key":"\#(name)","function":"f\#(name)","subject_key":"s","kwargs":{},"#
                + #""storage_prefix":"p/\#(name)","depends_on":\#(dependsOn),"depended_on_by":[],"output_files":[],"#
                + #""analysis_id":null,"dependency_access_map":\#(map)}"#
        }
        let json = #"{"nodes":{"# + [node("a", nil), node("b", "a"), node("c", "b")].joined(separator: ",")
            + #"},"root_key":"c"}"#
        var plan: OpaquePointer?
        XCTAssertEqual(mf_plan_from_json(&plan, json, json.utf8.count), MF_OK, message())
        return plan
    }

    /// A manifest listing one file holding `content`, recording `inputs` (nil: none).
    private func manifest(_ content: String, inputs: String?) throws -> String {
        var ledger: OpaquePointer?
        XCTAssertEqual(mf_ledger_new(&ledger, 0, nil), MF_OK)
        defer { mf_ledger_free(ledger) }
        XCTAssertEqual(mf_ledger_claim(ledger, "out.txt", 0), MF_OK)
        XCTAssertEqual(mf_ledger_commit(ledger, "out.txt", content, content.utf8.count), MF_OK)
        var text: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_ledger_manifest(&text, nil, ledger, inputs), MF_OK, message())
        return try XCTUnwrap(take(text))
    }

    private func digests(_ manifest: String) throws -> [String: Any] {
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_manifest_digests(&out, manifest, manifest.utf8.count), MF_OK, message())
        let text = try XCTUnwrap(take(out))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    private func outputs(_ manifest: String) throws -> String {
        try XCTUnwrap(try digests(manifest)["outputs_sha256"] as? String)
    }

    private func inputs(_ key: String, _ manifest: String) throws -> String {
        #"{"\#(key)": {"prefix": "p/\#(key)", "outputs_sha256": "\#(try outputs(manifest))"}}"#
    }

    private func states(_ plan: OpaquePointer?, _ manifests: [String: String]) throws -> String? {
        var object: [String: Any] = [:]
        for (prefix, text) in manifests { object[prefix] = try digests(text) }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_cache_states(&out, plan, json), MF_OK, message())
        return take(out)
    }

    private func nodeState(_ manifest: String?, _ inputs: String) -> Int32 {
        var state: Int32 = -1
        let status = manifest.map { mf_node_cache_state(&state, $0, $0.utf8.count, inputs) }
            ?? mf_node_cache_state(&state, nil, 0, inputs)
        XCTAssertEqual(status, MF_OK, message())
        return state
    }

    func testManifestRecordsItsInputs() throws {
        let a = try manifest("1", inputs: "{}")
        let b = try manifest("2", inputs: try inputs("a", a))
        XCTAssertTrue(b.contains(#""inputs": {"#), b)
        XCTAssertTrue(b.contains(#""a": {"prefix": "p/a", "outputs_sha256": "\#(try outputs(a))"}"#), b)
        XCTAssertNotNil(try digests(b)["inputs_sha256"] as? String)
        let muflows = #"{"files": ["out.txt"], "timestamp": "2026-01-01T00:00:00"}"#
        XCTAssertTrue(try digests(muflows)["inputs_sha256"] is NSNull)
        var out: UnsafeMutablePointer<CChar>? = UnsafeMutablePointer(bitPattern: 1)
        XCTAssertEqual(mf_manifest_digests(&out, "not json", 8), MF_OK)
        XCTAssertNil(out)
    }

    func testNodeState() throws {
        let a = try manifest("1", inputs: "{}")
        let changedA = try manifest("changed", inputs: "{}")
        let b = try manifest("2", inputs: try inputs("a", a))
        XCTAssertEqual(nodeState(b, try inputs("a", a)), Int32(MF_NODE_CURRENT))
        XCTAssertEqual(nodeState(b, try inputs("a", changedA)), Int32(MF_NODE_STALE))
        XCTAssertEqual(nodeState(b, #"{"a": {"prefix": "p/elsewhere", "outputs_sha256": null}}"#), Int32(MF_NODE_STALE))
        XCTAssertEqual(nodeState(nil, try inputs("a", a)), Int32(MF_NODE_ABSENT))
        let muflows = #"{"files": [], "timestamp": "2026-01-01T00:00:00"}"#
        XCTAssertEqual(nodeState(muflows, try inputs("a", changedA)), Int32(MF_NODE_CURRENT))
    }

    func testPlanStates() throws {
        let plan = chain()
        defer { mf_plan_free(plan) }
        let a = try manifest("1", inputs: "{}")
        let b = try manifest("2", inputs: try inputs("a", a))
        let c = try manifest("3", inputs: try inputs("b", b))
        XCTAssertEqual(try states(plan, ["p/a": a, "p/b": b, "p/c": c]), "[1,1,1]")
        XCTAssertEqual(try states(plan, ["p/b": b, "p/c": c]), "[0,3,3]")
        // a's outputs changed: b recorded other inputs; c's are b's, which b re-runs
        // (whether b's outputs change, only c's turn can tell).
        let changedA = try manifest("changed", inputs: "{}")
        XCTAssertEqual(try states(plan, ["p/a": changedA, "p/b": b, "p/c": c]), "[1,2,3]")
        // b written by muflow (no record) is trusted; c recorded b's earlier outputs.
        let muflowsB = #"{"files": [], "timestamp": "2026-01-01T00:00:00"}"#
        XCTAssertEqual(try states(plan, ["p/a": changedA, "p/b": muflowsB, "p/c": c]), "[1,1,2]")
        XCTAssertEqual(try states(plan, ["p/b": muflowsB, "p/c": c]), "[0,1,2]")
    }

    func testSharedDirectoryManifestRecordsItsInputs() throws {
        let directory = NSTemporaryDirectory() + "muflow-remote-cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var storage: OpaquePointer?
        XCTAssertEqual(mf_storage_new(&storage, directory, 0, nil), MF_OK, message())
        defer { mf_storage_free(storage) }
        XCTAssertEqual(mf_storage_save(storage, "out.txt", "2", 1, 0), MF_OK, message())
        let a = try manifest("1", inputs: "{}")
        XCTAssertEqual(mf_storage_write_manifest_inputs(storage, try inputs("a", a)), MF_OK, message())
        let written = try String(contentsOfFile: directory + "/manifest.json", encoding: .utf8)
        XCTAssertTrue(written.contains(#""a": {"prefix": "p/a", "outputs_sha256": "\#(try outputs(a))"}"#), written)
        XCTAssertEqual(nodeState(written, try inputs("a", a)), Int32(MF_NODE_CURRENT))
        XCTAssertEqual(nodeState(written, try inputs("a", try manifest("changed", inputs: "{}"))), Int32(MF_NODE_STALE))
        XCTAssertEqual(mf_storage_write_manifest_inputs(storage, "[]"), MF_ERR_INVALID_ARGUMENT)
    }

    func testRefusals() throws {
        let plan = chain()
        defer { mf_plan_free(plan) }
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_cache_states(&out, plan, #"{"p/a": {"outputs_sha256": "xyz"}}"#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("manifests[p/a].outputs_sha256"), message())
        XCTAssertEqual(mf_plan_cache_states(&out, plan, "[]"), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_plan_cache_states(&out, nil, "{}"), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_plan_cache_states(nil, plan, "{}"), MF_ERR_INVALID_ARGUMENT)
        var state: Int32 = 0
        XCTAssertEqual(mf_node_cache_state(&state, nil, 0, #"{"a": {"outputs_sha256": null}}"#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("inputs[a]"), message())
        XCTAssertEqual(mf_node_cache_state(&state, nil, 0, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_node_cache_state(nil, nil, 0, "{}"), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_manifest_digests(nil, "{}", 2), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_manifest_digests(&out, nil, 2), MF_ERR_INVALID_ARGUMENT)
        var ledger: OpaquePointer?
        XCTAssertEqual(mf_ledger_new(&ledger, 0, nil), MF_OK)
        defer { mf_ledger_free(ledger) }
        XCTAssertEqual(mf_ledger_manifest(&out, nil, ledger, #"{"a": 1}"#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_ledger_manifest(&out, nil, ledger, "[1"), MF_ERR_INVALID_ARGUMENT)
    }
}
