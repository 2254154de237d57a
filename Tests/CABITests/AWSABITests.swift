import CMuflowHeader
import XCTest

/// The remote-storage ledger and the Step Functions generator, through muflow.h only.
final class AWSABITests: XCTestCase {
    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        defer { mf_string_free(pointer) }
        return pointer.map { String(cString: $0) }
    }

    private func message() -> String { String(cString: mf_last_error_message()) }

    private func mlPlan() -> OpaquePointer? {
        var plan: OpaquePointer?
        let json = PlanABITests.mlExpected
        XCTAssertEqual(mf_plan_from_json(&plan, json, json.utf8.count), MF_OK)
        return plan
    }

    private func stateMachine(_ plan: OpaquePointer?, _ options: String) -> (mf_status, String?) {
        var out: UnsafeMutablePointer<CChar>?
        var length = 0
        let status = mf_plan_state_machine(&out, &length, plan, options)
        if let out { XCTAssertEqual(strlen(out), length) }
        return (status, take(out))
    }

    func testCompactMachineAndItsMeasures() throws {
        let plan = mlPlan()
        defer { mf_plan_free(plan) }
        let (status, report) = stateMachine(plan, #"{"function_arn": "arn:f", "bucket": "b", "plan_key": "p/plan.json"}"#)
        XCTAssertEqual(status, MF_OK, message())
        let text = try XCTUnwrap(report)
        XCTAssertTrue(text.contains(#""nodes_run": 11"#), text)
        XCTAssertTrue(text.contains(#""inline_maps": 3"#), text)
        XCTAssertTrue(text.contains(#"\"plan_key\":\"p/plan.json\""#), text)
        let (cached, cachedReport) = stateMachine(plan, #"{"function_arn": "arn:f", "bucket": "b", "plan_key": "k", "completed": [0, 1, 2]}"#)
        XCTAssertEqual(cached, MF_OK, message())
        XCTAssertTrue(cachedReport?.contains(#""nodes_run": 8"#) == true, cachedReport ?? "")
    }

    func testRefusals() {
        let plan = mlPlan()
        defer { mf_plan_free(plan) }
        XCTAssertEqual(stateMachine(plan, #"{"bucket": "b", "plan_key": "k"}"#).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("'function_arn'"), message())
        XCTAssertEqual(stateMachine(plan, #"{"function_arn": "f", "bucket": "b", "plan_key": "k", "colour": 1}"#).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("'colour'"), message())
        XCTAssertEqual(stateMachine(plan, #"{"function_arn": "f", "bucket": "b", "plan_key": "k", "completed": [11]}"#).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(stateMachine(plan, #"{"function_arn": "f", "bucket": "b", "plan_key": "k", "limits": {"history_events": 20}}"#).0, MF_ERR_LIMIT)
        XCTAssertTrue(message().contains("worst-case execution history is 34 events, over the 20-event history limit by 14 events"), message())
        XCTAssertEqual(stateMachine(plan, #"{"function_arn": "f", "bucket": "b", "plan_key": "k", "limits": {"history_events": 30000}}"#).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(stateMachine(nil, #"{}"#).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(stateMachine(plan, #"{"layout": "levels", "function_arn": "f", "bucket": "b", "levels": [["nope"]]}"#).0, MF_ERR_NOT_FOUND)
    }

    func testLedger() throws {
        var ledger: OpaquePointer?
        XCTAssertEqual(mf_ledger_new(&ledger, 0, nil), MF_OK)
        defer { mf_ledger_free(ledger) }
        XCTAssertEqual(mf_ledger_claim(ledger, "a.txt", 0), MF_OK)
        XCTAssertEqual(mf_ledger_claim(ledger, "a.txt", 0), MF_ERR_ALREADY_EXISTS)
        XCTAssertEqual(mf_ledger_claim(ledger, "../a.txt", 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_ledger_claim(ledger, "manifest.json", 0), MF_ERR_PERMISSION)
        XCTAssertEqual(mf_ledger_commit(ledger, "a.txt", "abc", 3), MF_OK)
        XCTAssertEqual(mf_ledger_commit(ledger, "a.txt", "abc", 3), MF_ERR_NOT_FOUND)
        var names: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_ledger_written_files(&names, ledger), MF_OK)
        XCTAssertEqual(take(names), #"["a.txt"]"#)
        var manifest: UnsafeMutablePointer<CChar>?
        var length = 0
        XCTAssertEqual(mf_ledger_manifest(&manifest, &length, ledger, nil), MF_OK)
        let text = try XCTUnwrap(take(manifest))
        XCTAssertEqual(text.utf8.count, length)
        XCTAssertTrue(text.contains(#""a.txt": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad""#), text)
        XCTAssertEqual(mf_ledger_claim(nil, "x", 0), MF_ERR_INVALID_ARGUMENT)
        mf_ledger_free(nil)
        var readOnly: OpaquePointer?
        XCTAssertEqual(mf_ledger_new(&readOnly, UInt32(MF_STORAGE_RESTRICT_OUTPUTS), "[]"), MF_OK)
        defer { mf_ledger_free(readOnly) }
        XCTAssertEqual(mf_ledger_claim(readOnly, "out.txt", 0), MF_ERR_PERMISSION)
        XCTAssertTrue(message().contains("read-only"), message())
    }
}
