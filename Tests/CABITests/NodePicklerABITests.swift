import CMuflowHeader
import XCTest

/// mf_node_pickler_* through muflow.h only: node pickles read back (by the library's
/// own unpickler, mf_json_canonical) as the nodes' JSON does, shared values written
/// once, the pickler outliving its plan, and the documented errors.
final class NodePicklerABITests: XCTestCase {
    private func message() -> String { String(cString: mf_last_error_message()) }

    /// A plan read from JSON: `nodes` nodes whose kwargs hold the same `listLength`-item list.
    private func plan(nodes: Int, listLength: Int) -> OpaquePointer? {
        let list = "[" + (0..<listLength).map { "\"dataset_\($0)\"" }.joined(separator: ",") + "]"
        let entries = (0..<nodes).map { i in
            #""n\#(i)":{"key":"n\#(i)","function":"f","subject_key":"s","kwargs":{"datasets":\#(list),"i":\#(i)},"#
                + #""storage_prefix":"p/\#(i)","depends_on":[],"depended_on_by":[],"output_files":[],"#
                + #""analysis_id":\#(i == 0 ? "18446744073709551616" : "null"),"dependency_access_map":{}}"#
        }
        let json = #"{"nodes":{"# + entries.joined(separator: ",") + #"},"root_key":"n0"}"#
        var plan: OpaquePointer?
        XCTAssertEqual(mf_plan_from_json(&plan, json, json.utf8.count), MF_OK, message())
        return plan
    }

    private func pickler(_ plan: OpaquePointer?) -> OpaquePointer? {
        var pickler: OpaquePointer?
        XCTAssertEqual(mf_node_pickler_new(&pickler, plan), MF_OK, message())
        return pickler
    }

    /// The bytes a pickler call returned, freed.
    private func bytes(_ call: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, UnsafeMutablePointer<Int>) -> mf_status)
        -> [UInt8]? {
        var out: UnsafeMutablePointer<CChar>?
        var length = 0
        guard call(&out, &length) == MF_OK, let out else { return nil }
        defer { mf_string_free(out) }
        return Array(UnsafeRawBufferPointer(start: out, count: length))
    }

    /// json.dumps(sort_keys=True) of a pickle or JSON text, by mf_json_canonical.
    private func canonical(_ data: [UInt8], _ format: mf_format) -> String? {
        var out: UnsafeMutablePointer<CChar>?
        let status = data.withUnsafeBytes { mf_json_canonical(&out, nil, format, $0.baseAddress, $0.count) }
        XCTAssertEqual(status, MF_OK, message())
        defer { mf_string_free(out) }
        return out.map { String(cString: $0) }
    }

    func testNodesWithoutSharedValuesReadAsTheirJSON() {
        let plan = plan(nodes: 5, listLength: 3)
        let pickler = pickler(plan)
        defer {
            mf_node_pickler_free(pickler)
            mf_plan_free(plan)
        }
        XCTAssertEqual(mf_node_pickler_shared_count(pickler), 0)
        let pickle = bytes { mf_node_pickler_nodes($0, $1, pickler, 1, 3, 1 << 20) }
        let json = bytes { mf_plan_nodes_json($0, $1, plan, 1, 3, 1 << 20) }
        XCTAssertNotNil(pickle)
        XCTAssertEqual(Array(pickle?.prefix(3) ?? []), [0x80, 4, 0x95])
        XCTAssertEqual(pickle?.last, 0x2E)
        XCTAssertEqual(pickle.flatMap { canonical($0, MF_FORMAT_PICKLE) }, json.flatMap { canonical($0, MF_FORMAT_JSON) })
        // The big analysis_id of node 0 is an exact integer.
        let first = bytes { mf_node_pickler_nodes($0, $1, pickler, 0, 1, 0) }
        XCTAssertTrue(first.flatMap { canonical($0, MF_FORMAT_PICKLE) }?.contains(#""analysis_id": 18446744073709551616"#) == true)
    }

    func testSharedListIsWrittenOnceAndOutlivesThePlan() {
        var plan = plan(nodes: 4, listLength: 30)
        let pickler = pickler(plan)
        defer { mf_node_pickler_free(pickler) }
        mf_plan_free(plan)  // the pickler keeps what it needs
        plan = nil
        XCTAssertEqual(mf_node_pickler_shared_count(pickler), 1)
        let all = bytes { mf_node_pickler_nodes($0, $1, pickler, 0, 100, 1 << 20) } ?? []
        let name = Array("dataset_29".utf8)
        XCTAssertFalse((0...max(0, all.count - name.count)).contains { all[$0..<($0 + name.count)].elementsEqual(name) },
                       "the list is not in the node pickle")
        // BININT1 0 (shared value 0, the value itself), BINPERSID: once per node.
        let reference: [UInt8] = [0x4B, 0x00, 0x51]
        XCTAssertEqual((0...(all.count - 3)).filter { all[$0..<($0 + 3)].elementsEqual(reference) }.count, 4)
        let shared = bytes { mf_node_pickler_shared($0, $1, pickler, 0) }
        XCTAssertEqual(shared.flatMap { canonical($0, MF_FORMAT_PICKLE) },
                       "[" + (0..<30).map { "\"dataset_\($0)\"" }.joined(separator: ", ") + "]")
    }

    func testErrors() {
        let plan = plan(nodes: 3, listLength: 30)
        let pickler = pickler(plan)
        defer {
            mf_node_pickler_free(pickler)
            mf_plan_free(plan)
        }
        var out: UnsafeMutablePointer<CChar>?
        var length = 0
        XCTAssertEqual(mf_node_pickler_nodes(&out, &length, pickler, 3, 1, 100), MF_ERR_NOT_FOUND)
        XCTAssertTrue(message().contains("node index 3 is out of range"), message())
        XCTAssertEqual(mf_node_pickler_nodes(&out, &length, pickler, 0, 0, 100), MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("max_count"), message())
        XCTAssertEqual(mf_node_pickler_shared(&out, &length, pickler, 1), MF_ERR_NOT_FOUND)
        XCTAssertTrue(message().contains("shared value 1 is out of range"), message())
        XCTAssertEqual(mf_node_pickler_shared(&out, &length, pickler, Int.max), MF_ERR_NOT_FOUND)
        XCTAssertNil(out)
        XCTAssertNotNil(bytes { mf_node_pickler_nodes($0, $1, pickler, 2, 10, 0) }, "a count past the end gives the rest")
    }
}
