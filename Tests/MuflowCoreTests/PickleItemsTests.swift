import XCTest
@testable import MuflowCore
@testable import MuflowPickle

/// `PickleItems.read`, the fast reader of a forEach step's items, against `parsePickle`:
/// what it reads must be what the full reader reads, and what it does not handle it must
/// leave to the full reader (nil), which then reports or handles it.
final class PickleItemsTests: XCTestCase {
    /// Pickles CPython 3.11 wrote (protocol 5) of lists of flat dicts.
    static let read: [(String, [UInt8])] = [
        ("uniform ints", x("8005951c000000000000005d94287d948c0169944b00737d9468024b01737d9468024b0273652e")),
        ("uniform several keys, memoized strings", x("80059553000000000000005d94287d94288c046e616d65948c0161948c0169944b018c017894474004000000000000757d94286802680368044a90eefeff68054e757d942868028c01629468048a0900000000000000004068058875652e")),
        ("mixed shapes", x("8005952d000000000000005d94287d948c0169944b01737d948c016a944b02737d942868024b038c016b948c05c3a9eda08094757d94652e")),
        ("one item", x("80059523000000000000005d947d94288c047461736b948c056f74686572948c077375626a656374944b0575612e")),
        ("empty list", x("80055d942e")),
        ("empty dicts", x("80059509000000000000005d94287d947d94652e")),
    ]

    /// Lists the fast reader leaves to the full one.
    static let declined: [(String, [UInt8])] = [
        ("nested value", x("80059513000000000000005d947d948c0169945d94284b014b026573612e")),
        ("non-string key", x("8005950b000000000000005d947d944b014b0273612e")),
        ("dict met twice", x("80059510000000000000005d94287d948c017a944b01736801652e")),
        ("not a dict", x("80059510000000000000005d94287d948c0169944b01734b03652e")),
        ("tuple", x("8005950c000000000000007d948c0169944b017385942e")),
        ("not a list", x("8005950a000000000000007d948c0169944b01732e")),
    ]

    private func fast(_ bytes: [UInt8], maxDepth: Int = 1000) -> StepJobs? {
        bytes.withUnsafeBytes { PickleItems.read($0, maxDepth: maxDepth) }
    }

    private func rendered(_ jobs: StepJobs) -> String {
        typed(.array((0..<jobs.count).map { .object(jobs[$0]) }))
    }

    func testReadsAsTheFullReaderDoes() throws {
        for (name, bytes) in Self.read {
            let jobs = try XCTUnwrap(fast(bytes), name)
            XCTAssertEqual(rendered(jobs), typed(try unpickle(bytes)), name)
        }
        let shapes = try XCTUnwrap(fast(Self.read[2].1))
        XCTAssertEqual(rendered(shapes), #"[{i:i1},{j:i2},{i:i3,k:s\xc3\xa9\xed\xa0\x80},{}]"#)
    }

    func testDeclinesWhatItDoesNotHandle() {
        for (name, bytes) in Self.declined {
            XCTAssertNil(fast(bytes), name)
        }
        XCTAssertNil(fast(Self.read[0].1, maxDepth: 1), "a dict item is at depth 1")
    }

    /// Every pickle the full reader's tests accept (scalars, nesting, sharing, odd keys):
    /// the fast reader declines them all, as none is a list of flat dicts.
    func testDeclinesThePicklesOfTheFullReadersTests() {
        for (name, bytes, _) in PickleReaderTests.accepted {
            XCTAssertNil(fast(bytes), name)
        }
    }

    /// Cut short anywhere before its STOP, a pickle is declined, never misread.
    func testTruncatedPicklesAreDeclined() {
        for (name, bytes) in Self.read {
            for end in 0..<(bytes.count - 1) {
                XCTAssertNil(fast(Array(bytes[..<end])), "\(name) cut at \(end)")
            }
        }
    }

    /// A FRAME may stand between any two opcodes, inside an item too (CPython starts
    /// one where a frame fills up, between a key and its value as well).
    func testFramesInsideAndBetweenItems() throws {
        let frame: [UInt8] = [0x95, 0, 0, 0, 0, 0, 0, 0, 0]
        let bytes: [UInt8] = [0x80, 5, 0x5D, 0x94, 0x28, 0x7D, 0x94, 0x8C, 1, UInt8(ascii: "i"), 0x94] + frame
            + [0x4B, 7, 0x73] + frame + [0x7D] + frame + [0x94, 0x68, 2, 0x4B, 8] + frame + [0x73, 0x65, 0x2E]
        let jobs = try XCTUnwrap(fast(bytes))
        XCTAssertEqual(rendered(jobs), "[{i:i7},{i:i8}]")
        XCTAssertEqual(rendered(jobs), typed(try unpickle(bytes)))
    }

    /// An item read whole is already among the items: a SETITEM reaching it afterwards
    /// (which CPython does not write) is declined rather than lost.
    func testDeclinesAPairAddedToAnItemLater() throws {
        let bytes: [UInt8] = [0x80, 5, 0x5D, 0x94, 0x7D, 0x94, 0x8C, 1, UInt8(ascii: "i"), 0x94, 0x4B, 0, 0x73,
                              0x8C, 1, UInt8(ascii: "j"), 0x94, 0x4B, 1, 0x73, 0x61, 0x2E]
        XCTAssertNil(fast(bytes))
        XCTAssertEqual(typed(try unpickle(bytes)), "[{i:i0,j:i1}]")
    }

    /// Items with several keys met by memo reference, then an item whose keys differ
    /// only in order: the table gives way to objects, each with its own key order.
    func testKeysInAnotherOrderLeaveTheTable() throws {
        var bytes: [UInt8] = [0x80, 5, 0x5D, 0x94, 0x28]
        bytes += [0x7D, 0x94, 0x28, 0x8C, 1, UInt8(ascii: "a"), 0x94, 0x4B, 1, 0x8C, 1, UInt8(ascii: "b"), 0x94, 0x4B, 2, 0x75]
        bytes += [0x7D, 0x94, 0x28, 0x68, 2, 0x4B, 3, 0x68, 3, 0x4B, 4, 0x75]
        bytes += [0x7D, 0x94, 0x28, 0x68, 3, 0x4B, 5, 0x68, 2, 0x4B, 6, 0x75]
        bytes += [0x65, 0x2E]
        let jobs = try XCTUnwrap(fast(bytes))
        XCTAssertEqual(rendered(jobs), "[{a:i1,b:i2},{a:i3,b:i4},{b:i5,a:i6}]")
        XCTAssertEqual(rendered(jobs), typed(try unpickle(bytes)))
    }

    /// 1,003 items: CPython writes them in batches of 1,000 (MARK ... APPENDS), the
    /// key string once and then by memo reference.
    func testItemsInSeveralBatches() throws {
        var bytes: [UInt8] = [0x80, 5, 0x5D, 0x94]
        var item = 0
        for batch in [1000, 3] {
            bytes.append(0x28)
            for _ in 0..<batch {
                bytes += [0x7D, 0x94]
                bytes += item == 0 ? [0x8C, 1, UInt8(ascii: "i"), 0x94] : [0x68, 2]
                bytes += [0x4D, UInt8(item & 0xFF), UInt8(item >> 8), 0x73]
                item += 1
            }
            bytes.append(0x65)
        }
        bytes.append(0x2E)
        let jobs = try XCTUnwrap(fast(bytes))
        XCTAssertEqual(jobs.count, 1003)
        XCTAssertEqual(rendered(jobs), typed(try unpickle(bytes)))
        XCTAssertEqual(typed(.object(jobs[1002])), "{i:i1002}")
    }
}
