import CMuflowHeader
import XCTest

/// Exercises the hashing entry points through muflow.h only.
final class PrefixABITests: XCTestCase {
    private func prefix(_ json: String, base: String = "muflow", identityKeys: String? = nil) -> (mf_status, String?) {
        var out: UnsafeMutablePointer<CChar>?
        let bytes = Array(json.utf8)
        let status = bytes.withUnsafeBytes { buffer in
            if let identityKeys {
                return mf_compute_prefix(&out, MF_FORMAT_JSON, buffer.baseAddress, buffer.count, base, identityKeys)
            }
            return mf_compute_prefix(&out, MF_FORMAT_JSON, buffer.baseAddress, buffer.count, base, nil)
        }
        defer { mf_string_free(out) }
        return (status, out.map { String(cString: $0) })
    }

    func testPrefixMatchesPythonHash() {
        let (status, text) = prefix(#"{"task": "my.task", "subject": "data:123", "param": "value"}"#)
        XCTAssertEqual(status, MF_OK)
        XCTAssertEqual(text, "muflow/my.task/55f9b60ec6fe3ee6")
    }

    func testKeyOrderDoesNotMatter() {
        let a = prefix(#"{"b": 1, "a": [1.5, "x"], "task": "t"}"#).1
        let b = prefix(#"{"task": "t", "a": [1.5, "x"], "b": 1}"#).1
        XCTAssertNotNil(a)
        XCTAssertEqual(a, b)
    }

    func testIdentityKeysSelectTheHashedFields() {
        let first = prefix(#"{"task": "t", "id": 1, "label": "x"}"#, identityKeys: #"["id"]"#).1
        let second = prefix(#"{"task": "t", "id": 1, "label": "y"}"#, identityKeys: #"["id"]"#).1
        let third = prefix(#"{"task": "t", "id": 2, "label": "x"}"#, identityKeys: #"["id"]"#).1
        XCTAssertEqual(first, second)
        XCTAssertNotEqual(first, third)
        XCTAssertEqual(prefix(#"{"id": 1}"#, identityKeys: "[]").1, prefix(#"{"id": 1}"#).1)
    }

    func testMissingTaskIsLabelledUnknown() {
        XCTAssertTrue(prefix(#"{"a": 1}"#, base: "b").1?.hasPrefix("b/unknown/") ?? false)
    }

    func testFailuresReportStatusAndMessage() {
        let (status, text) = prefix(#"{"a": tru}"#)
        XCTAssertEqual(status, MF_ERR_INVALID_ARGUMENT)
        XCTAssertNil(text)
        XCTAssertFalse(String(cString: mf_last_error_message()).isEmpty)
        XCTAssertEqual(prefix("[]").0, MF_ERR_TYPE)
    }

    func testErrorMessagesAreThreadLocal() {
        _ = prefix("{")
        let mine = String(cString: mf_last_error_message())
        let done = expectation(description: "other thread")
        Thread.detachNewThread {
            _ = self.prefix("[]")
            done.fulfill()
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(String(cString: mf_last_error_message()), mine)
    }

    func testVersionMatchesHeader() {
        XCTAssertEqual(mf_version(), UInt32(MF_VERSION_MAJOR * 10000 + MF_VERSION_MINOR * 100 + MF_VERSION_PATCH))
        XCTAssertEqual(String(cString: mf_version_string()), "\(MF_VERSION_MAJOR).\(MF_VERSION_MINOR).\(MF_VERSION_PATCH)")
    }
}
