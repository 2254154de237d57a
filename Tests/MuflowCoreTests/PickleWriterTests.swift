import XCTest
@testable import MuflowCore
@testable import MuflowPickle

/// PickleWriter: scalars byte for byte as CPython 3.11's pickle.dumps(x, 4) writes
/// them, containers and big integers read back by the library's own unpickler.
final class PickleWriterTests: XCTestCase {
    /// The opcodes one call writes, without the header and STOP.
    private func body(_ write: (inout PickleWriter) -> Void) -> [UInt8] {
        var w = PickleWriter()
        write(&w)
        return w.bytes
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// A whole pickle of one value, read back by parsePickle.
    private func roundTrip(_ write: (inout PickleWriter) -> Void) throws -> JSONValue {
        var w = PickleWriter()
        w.begin()
        write(&w)
        w.stop()
        return try unpickle(w.bytes)
    }

    func testIntegersAsCPythonWritesThem() {
        let cases: [(Int, String)] = [
            (0, "4b00"), (128, "4b80"), (255, "4bff"), (256, "4d0001"), (65535, "4dffff"), (65536, "4a00000100"),
            (-1, "4affffffff"), (-129, "4a7fffffff"), (2_147_483_647, "4affffff7f"), (-2_147_483_648, "4a00000080"),
            (2_147_483_648, "8a050000008000"), (-2_147_483_649, "8a05ffffff7fff"),
            (Int.max, "8a08ffffffffffffff7f"), (Int.min, "8a080000000000000080"),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(hex(body { $0.int(value) }), expected, "\(value)")
        }
    }

    func testBigIntegersAsCPythonWritesThem() {
        let cases: [(String, String)] = [
            ("9223372036854775808", "8a09000000000000008000"),
            ("-9223372036854775809", "8a09ffffffffffffff7fff"),
            ("18446744073709551616", "8a09000000000000000001"),
            ("-18446744073709551616", "8a090000000000000000ff"),
            ("1180591620717411303424", "8a09000000000000000040"),
            ("-1180591620717411303424", "8a090000000000000000c0"),
            ("1000000000000000000000000000000", "8a0d00000040eaed7446d09c2c9f0c"),
            ("-1000000000000000000000000000000", "8a0d000000c015128bb92f63d360f3"),
        ]
        for (decimal, expected) in cases {
            XCTAssertEqual(hex(body { $0.bigInt(decimal) }), expected, decimal)
        }
    }

    func testBigIntegersOfEverySizeReadBackExactly() throws {
        var generator = SystemRandomNumberGenerator()
        var sawLong4 = false
        for digits in [20, 21, 38, 39, 40, 77, 100, 300, 616, 617, 700, 2000, 4300] {
            for negative in [false, true] {
                var text = String(Int.random(in: 1...9, using: &generator))
                for _ in 1..<digits { text += String(Int.random(in: 0...9, using: &generator)) }
                if negative { text = "-" + text }
                let written = body { $0.bigInt(text) }
                sawLong4 = sawLong4 || written.first == 0x8B
                guard case .bigInt(let back) = try roundTrip({ $0.bigInt(text) }) else {
                    XCTFail("\(text) did not read back as a big integer")
                    continue
                }
                XCTAssertEqual(back, text)
            }
        }
        XCTAssertTrue(sawLong4, "integers of 256 bytes and more take LONG4")
        // Powers of two at byte boundaries, where a sign byte is added or dropped.
        let boundaries: [(String, String)] = [
            ("340282366920938463463374607431768211456", "8a110000000000000000000000000000000001"),
            ("-340282366920938463463374607431768211456", "8a1100000000000000000000000000000000ff"),
            ("-170141183460469231731687303715884105728", "8a1000000000000000000000000000000080"),
            ("170141183460469231731687303715884105728", "8a110000000000000000000000000000008000"),
        ]
        for (decimal, expected) in boundaries {
            XCTAssertEqual(hex(body { $0.bigInt(decimal) }), expected, decimal)
        }
    }

    func testFloatsAsCPythonWritesThemAndNonFiniteAsNone() {
        let cases: [(Double, String)] = [
            (1.5, "473ff8000000000000"), (-0.0, "478000000000000000"), (5e-324, "470000000000000001"),
            (1e300, "477e37e43c8800759c"), (.nan, "4e"), (.infinity, "4e"), (-.infinity, "4e"),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(hex(body { $0.double(value) }), expected, "\(value)")
        }
    }

    func testStringsAsCPythonWritesThem() {
        XCTAssertEqual(hex(body { $0.string("") }), "8c00")
        XCTAssertEqual(hex(body { $0.string("a") }), "8c0161")
        XCTAssertEqual(hex(body { $0.string("é😀") }), "8c06c3a9f09f9880")
        XCTAssertEqual(hex(Array(body { $0.string(JSONString(String(repeating: "x", count: 255))) }.prefix(3))), "8cff78")
        XCTAssertEqual(hex(Array(body { $0.string(JSONString(String(repeating: "x", count: 256))) }.prefix(6))),
                       "580001000078")
        // pickle.dumps("lone\ud800x", 4): CPython encodes with "surrogatepass", as WTF-8 holds it.
        XCTAssertEqual(hex(body { $0.string(JSONString(wtf8: Array("lone".utf8) + [0xED, 0xA0, 0x80, 0x78])) }),
                       "8c086c6f6e65eda08078")
    }

    func testFrameCoversThePickle() {
        var w = PickleWriter()
        w.begin()
        w.value(PlanFixture.value(#"{"a": [1, 2.5, "x", null, true]}"#))
        w.stop()
        let bytes = w.bytes
        XCTAssertEqual(Array(bytes.prefix(3)), [0x80, 4, 0x95])
        let length = (0..<8).reduce(0) { $0 | Int(bytes[3 + $1]) << (8 * $1) }
        XCTAssertEqual(length, bytes.count - 11)
        XCTAssertEqual(bytes.last, 0x2E)
    }

    func testValuesReadBackAsTheyWere() throws {
        let documents = [
            #"[]"#, #"{}"#, #"[[], {}, [[]], {"a": {}}]"#,
            #"{"datasets": ["a", "b", "c"], "i": 3, "nested": {"x": [1, -1, 70000, -70000, 3.25, false, null]}}"#,
            #"[18446744073709551616, -18446744073709551617, 9223372036854775807, -9223372036854775808]"#,
            #"{"é": "😀", "": "", "b": {"a": 1}, "a": 2}"#,
            "[" + (0..<2500).map(String.init).joined(separator: ",") + "]",
        ]
        for document in documents {
            let value = PlanFixture.value(document)
            let back = try roundTrip { $0.value(value) }
            XCTAssertEqual(shown(PythonJSON.dumps(back, sortKeys: false)), shown(PythonJSON.dumps(value, sortKeys: false)),
                           document)
        }
        // Non-finite floats come back as None, as they do from a node's JSON.
        let back = try roundTrip { $0.value(.array([.double(.nan), .double(-.infinity), .double(2)])) }
        XCTAssertEqual(shown(PythonJSON.dumps(back, sortKeys: false)), "[null, null, 2.0]")
    }

    func testMemoAndPersistentIDs() {
        XCTAssertEqual(hex(body { $0.memoize() }), "94")
        XCTAssertEqual(hex(body { $0.memoized(3) }), "6803")
        XCTAssertEqual(hex(body { $0.memoized(300) }), "6a2c010000")
        XCTAssertEqual(hex(body { $0.persistentID(5) }), "4b0551")
        XCTAssertEqual(hex(body { $0.persistentID(70000) }), "4a7011010051")
    }
}
