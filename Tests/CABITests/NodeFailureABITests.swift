import CMuflowHeader
import XCTest

/// The failed-node message and error.json, through the headers only.
final class NodeFailureABITests: XCTestCase {
    private func call(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, UnsafeMutablePointer<Int>) -> mf_status)
        -> (mf_status, [UInt8]?) {
        var out: UnsafeMutablePointer<CChar>?
        var length = 0
        let status = body(&out, &length)
        defer { mf_string_free(out) }
        return (status, out.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) })
    }

    private func message(_ function: String, _ text: String, details: [UInt8]?) -> (mf_status, [UInt8]?) {
        let f = Array(function.utf8), m = Array(text.utf8)
        return call { out, length in
            f.withUnsafeBufferPointer { fp in
                m.withUnsafeBufferPointer { mp in
                    let fc = UnsafeRawPointer(fp.baseAddress!).assumingMemoryBound(to: CChar.self)
                    let mc = UnsafeRawPointer(mp.baseAddress!).assumingMemoryBound(to: CChar.self)
                    guard let details else {
                        return mf_node_failure_message(out, length, fc, f.count, mc, m.count, nil, 0)
                    }
                    return details.withUnsafeBufferPointer { dp in
                        mf_node_failure_message(out, length, fc, f.count, mc, m.count,
                                                UnsafeRawPointer(dp.baseAddress!).assumingMemoryBound(to: CChar.self),
                                                details.count)
                    }
                }
            }
        }
    }

    private func record(_ message: [UInt8], _ traceback: [UInt8], files: String) -> (mf_status, [UInt8]?) {
        let filesBytes = Array(files.utf8)
        return call { out, length in
            message.withUnsafeBufferPointer { mp in
                traceback.withUnsafeBufferPointer { tp in
                    filesBytes.withUnsafeBufferPointer { fp in
                        mf_node_error_record(out, length,
                                             UnsafeRawPointer(mp.baseAddress!).assumingMemoryBound(to: CChar.self), message.count,
                                             UnsafeRawPointer(tp.baseAddress!).assumingMemoryBound(to: CChar.self), traceback.count,
                                             UnsafeRawPointer(fp.baseAddress!).assumingMemoryBound(to: CChar.self), filesBytes.count)
                    }
                }
            }
        }
    }

    func testMessageWithAndWithoutDetails() {
        let plain = message("pkg.task", "boom", details: nil)
        XCTAssertEqual(plain.0, MF_OK)
        XCTAssertEqual(plain.1, Array("Node pkg.task failed: boom".utf8))
        let withTrace = message("pkg.task", "boom", details: Array("Traceback\n  line 1".utf8))
        XCTAssertEqual(withTrace.1, Array("Node pkg.task failed: boom\nTraceback\n  line 1".utf8))
        // Empty details still add the newline, as the Python backend's message does.
        XCTAssertEqual(message("t", "m", details: []).1, Array("Node t failed: m\n".utf8))
    }

    func testMessageKeepsNulBytesAndRejectsBadUTF8() {
        XCTAssertEqual(message("t", "a\u{0}b", details: nil).1, Array("Node t failed: a\u{0}b".utf8))
        let bad = message("t", "m", details: [0xFF, 0xFE])
        XCTAssertEqual(bad.0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertNil(bad.1)
        XCTAssertTrue(String(cString: mf_last_error_message()).contains("details is not valid UTF-8"))
    }

    func testErrorRecordIsMuflowsLayoutWithFilesSorted() {
        let (status, bytes) = record(Array("bad \"value\" é".utf8), Array("Traceback\n".utf8), files: #"["b.txt", "a.json"]"#)
        XCTAssertEqual(status, MF_OK)
        let expected = """
        {
          "error_message": "bad \\"value\\" \\u00e9",
          "error_traceback": "Traceback\\n",
          "partial_manifest": {
            "files": [
              "a.json",
              "b.txt"
            ]
          }
        }
        """
        XCTAssertEqual(bytes.map { String(decoding: $0, as: UTF8.self) }, expected)
    }

    func testErrorRecordWithNoFiles() {
        let (status, bytes) = record(Array("m".utf8), [], files: "[]")
        XCTAssertEqual(status, MF_OK)
        let expected = "{\n  \"error_message\": \"m\",\n  \"error_traceback\": \"\",\n  \"partial_manifest\": {\n    \"files\": []\n  }\n}"
        XCTAssertEqual(bytes.map { String(decoding: $0, as: UTF8.self) }, expected)
    }

    func testErrorRecordRejectsFilesThatAreNotAnArrayOfNames() {
        XCTAssertEqual(record(Array("m".utf8), [], files: #"{"a": 1}"#).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(record(Array("m".utf8), [], files: "[1]").0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(String(cString: mf_last_error_message()).contains("files_json"))
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_node_error_record(&out, nil, nil, 0, nil, 0, nil, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertNil(out)
    }
}
