import XCTest
@testable import MuflowCore

final class KeyIndexTests: XCTestCase {
    /// Random keys, many of them repeated, against a Dictionary: the same positions,
    /// the same refusals of repeats, through every growth of the table.
    func testAgreesWithADictionaryThroughGrowth() {
        var generator = SystemRandomNumberGenerator()
        var index = KeyIndex()
        var expected: [JSONString: Int] = [:]
        var order: [JSONString] = []
        // Lengths around the 8-byte words the hash reads, bytes from the whole range
        // (NUL, 0xFF, an encoded lone surrogate), and a small alphabet so that keys repeat.
        let pieces: [[UInt8]] = [[0], [0xFF], [0xED, 0xA0, 0x80], Array("a".utf8), Array("b".utf8), Array("/".utf8)]
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...19, using: &generator) { bytes += pieces.randomElement(using: &generator)! }
            let key = JSONString(wtf8: bytes)
            let found = index.append(key)
            if let known = expected[key] {
                XCTAssertEqual(found, known)
            } else {
                XCTAssertNil(found)
                expected[key] = order.count
                order.append(key)
            }
        }
        XCTAssertEqual(index.keys, order)
        XCTAssertEqual(index.count, order.count)
        for (key, position) in expected { XCTAssertEqual(index.position(of: key), position) }
        XCTAssertNil(index.position(of: JSONString(wtf8: Array(repeating: UInt8(ascii: "c"), count: 21))))
    }

    /// Keys that differ only past the last full word, only in length, or only in a
    /// trailing NUL, are told apart.
    func testKeysDifferingInTheirLastBytesOrLength() {
        let stem = Array("muflow/bench.work/0123456789abcdef".utf8)
        var index = KeyIndex(minimumCapacity: 1)
        let keys = [stem, stem + [0], stem + [0, 0], stem + [1], Array(stem.dropLast()), [], [0]].map(JSONString.init(wtf8:))
        for (position, key) in keys.enumerated() {
            XCTAssertNil(index.append(key))
            XCTAssertEqual(index.position(of: key), position)
        }
        for (position, key) in keys.enumerated() { XCTAssertEqual(index.append(key), position) }
        XCTAssertEqual(index.count, keys.count)
    }

    func testReservingKeepsEveryKey() {
        var index = KeyIndex()
        for i in 0..<100 { XCTAssertNil(index.append(JSONString("k\(i)"))) }
        index.reserveCapacity(100_000)
        for i in 0..<100 { XCTAssertEqual(index.position(of: JSONString("k\(i)")), i) }
        XCTAssertNil(index.position(of: "k100"))
    }
}
