import XCTest
@testable import MuflowCore
@testable import MuflowPickle

/// Pickles CPython never writes but a hostile caller may send (found by
/// Tests/fuzz/fuzz_pickle.c): both readers must read them as Python's unpickler does,
/// or the fast path must decline them.
final class HostilePickleTests: XCTestCase {
    private func fastText(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { PickleCanonical.text($0, maxDepth: 1000) }
    }

    /// PROTO 2, EMPTY_DICT, BINPUT `memo`, MARK, then each key's opcodes followed by
    /// BININT1 of its position, SETITEMS, STOP.
    private func dict(opcodes keys: [[UInt8]], memo: UInt8 = 0) -> [UInt8] {
        var bytes: [UInt8] = [0x80, 2, 0x7D, 0x71, memo, 0x28]
        for (i, key) in keys.enumerated() { bytes += key + [0x4B, UInt8(i)] }
        return bytes + [0x75, 0x2E]
    }

    /// `dict` with string keys (BINUNICODE).
    private func dict(_ keys: [String], memo: UInt8 = 0) -> [UInt8] {
        dict(opcodes: keys.map { [0x58, UInt8($0.utf8.count), 0, 0, 0] + Array($0.utf8) }, memo: memo)
    }

    private func canonical(_ bytes: [UInt8]) throws -> String {
        shown(PythonJSON.dumps(try unpickle(bytes)))
    }

    private let one: [UInt8] = [0x4B, 1]                                   // BININT1 1
    private let oneFloat: [UInt8] = [0x47, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]   // BINFLOAT 1.0
    private let trueKey: [UInt8] = [0x88]                                  // NEWTRUE
    private let zeroFloat: [UInt8] = [0x47, 0, 0, 0, 0, 0, 0, 0, 0]        // BINFLOAT 0.0
    private let minusZero: [UInt8] = [0x47, 0x80, 0, 0, 0, 0, 0, 0, 0]     // BINFLOAT -0.0
    private let falseKey: [UInt8] = [0x89]                                 // NEWFALSE
    private let nan: [UInt8] = [0x47, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0]        // BINFLOAT NaN
    private let noneKey: [UInt8] = [0x4E]                                  // NONE
    /// LONG1 2^64 and BINFLOAT 2^64.
    private let bigInt: [UInt8] = [0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    private let bigFloat: [UInt8] = [0x47, 0x43, 0xF0, 0, 0, 0, 0, 0, 0]

    func testUnsortedKeysStayOnTheFastPath() throws {
        XCTAssertEqual(fastText(dict(["b", "a"])).map(shown), #"{"a": 1, "b": 0}"#)
        XCTAssertEqual(shown(PythonJSON.dumps(try unpickle(dict(["b", "a"])))), #"{"a": 1, "b": 0}"#)
    }

    func testRepeatedKeyKeepsTheLastValue() throws {
        for keys in [["a", "a"], ["b", "a", "b"], ["task", "x", "task"]] {
            XCTAssertNil(fastText(dict(keys)), "\(keys): the fast path wrote every value")
        }
        XCTAssertEqual(shown(PythonJSON.dumps(try unpickle(dict(["a", "a"])))), #"{"a": 1}"#)
        XCTAssertEqual(shown(PythonJSON.dumps(try unpickle(dict(["b", "a", "b"])))), #"{"a": 1, "b": 2}"#)
    }

    func testRepeatedKeyInANestedDict() throws {
        // [dict(["a", "a"])] as one APPEND: EMPTY_LIST, BINPUT 0, the dict, APPEND.
        let inner = Array(dict(["a", "a"], memo: 1).dropFirst(2).dropLast())
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x71, 0] + inner + [0x61, 0x2E]
        XCTAssertNil(fastText(bytes))
        XCTAssertEqual(shown(PythonJSON.dumps(try unpickle(bytes))), #"[{"a": 1}]"#)
    }

    /// Expected texts from CPython 3.11: json.dumps(pickle.loads(bytes), sort_keys=True).
    func testEqualNumberKeysAreOneKey() throws {
        XCTAssertEqual(try canonical(dict(opcodes: [one, oneFloat])), #"{"1": 1}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [oneFloat, one])), #"{"1.0": 1}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [trueKey, one, oneFloat])), #"{"true": 2}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [one, one])), #"{"1": 1}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [zeroFloat, minusZero, falseKey])), #"{"0.0": 2}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [bigInt, bigFloat])), #"{"18446744073709551616": 1}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [noneKey, noneKey])), #"{"null": 1}"#)
        XCTAssertEqual(try canonical(dict(opcodes: [one, [0x4B, 2], one])), #"{"1": 2, "2": 1}"#)
    }

    func testDistinctNaNKeysStayTwoKeys() {
        // Python writes {"NaN": 0, "NaN": 1}, which no JSON object holds.
        XCTAssertEqual(caught { try unpickle(dict(opcodes: [nan, nan])) }?.kind, .type)
    }

    func testUnorderableKeysStillFailAfterMerging() {
        let error = caught { try unpickle(dict(opcodes: [noneKey, one])) }
        XCTAssertEqual(error?.kind, .type)
        XCTAssert(error?.message.contains("not supported between instances of") == true, error?.message ?? "")
    }

    func testTruncatedMemoArgumentIsMalformed() {
        // [1.0] as one APPEND, then LONG_BINPUT with 3 of its 4 argument bytes.
        let bytes: [UInt8] = [0x80, 2, 0x5D] + oneFloat + [0x61, 0x72, 0x65, 0x73, 0x2E]
        XCTAssertNil(fastText(bytes))
        XCTAssertEqual(caught { try unpickle(bytes) }?.kind, .invalidArgument)
    }

    /// `depth` lists nested by APPEND: PROTO 2, EMPTY_LIST x depth, APPEND x (depth - 1).
    private func nestedLists(_ depth: Int) -> [UInt8] {
        [0x80, 2] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1)
    }

    func testSharedContainerCountsItsDepthWhereverItAppears() throws {
        // A 900-deep list, memoized (BINPUT 1 on its outermost list), then [it,
        // [[...[it]...]]] with it 200 levels further down the second time: 1,101 levels.
        let deep: [UInt8] = [0x5D, 0x71, 1] + [UInt8](repeating: 0x5D, count: 899) + [UInt8](repeating: 0x61, count: 899)
        let wrapped = [UInt8](repeating: 0x5D, count: 200) + [0x68, 1] + [UInt8](repeating: 0x61, count: 200)
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x28] + deep + wrapped + [0x65, 0x2E]
        XCTAssertNil(fastText(bytes))
        let error = caught { try unpickle(bytes) }
        XCTAssertEqual(error?.kind, .limit)
        XCTAssert(error?.message.contains("deeper than 1000") == true, error?.message ?? "")
        // Shared at a depth that fits, it is written twice.
        let fits: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x28, 0x5D, 0x71, 1, 0x68, 1, 0x65, 0x2E]
        XCTAssertEqual(fastText(fits).map(shown), "[[], []]")
        XCTAssertEqual(try canonical(fits), "[[], []]")
        XCTAssertNoThrow(try unpickle(nestedLists(1000) + [0x2E]))
    }

    func testNestedEmptyContainersStayLinear() throws {
        // What CPython writes for x = [[], x] forty times over: each empty list makes the
        // fast path read the next sibling tentatively, 2^40 times without a budget.
        var bytes: [UInt8] = [0x80, 2]
        var expected = "[]"
        for _ in 0..<40 {
            expected = "[[], " + expected + "]"
        }
        for _ in 0..<40 { bytes += [0x5D, 0x28, 0x5D] }   // EMPTY_LIST, MARK, EMPTY_LIST
        bytes += [0x5D]                                     // the innermost []
        for _ in 0..<40 { bytes += [0x65] }                 // APPENDS
        bytes += [0x2E]
        let started = ContinuousClock.now
        let text = try fastText(bytes).map(shown) ?? canonical(bytes)
        XCTAssertEqual(text, expected)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
    }
}
