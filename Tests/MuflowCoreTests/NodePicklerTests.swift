import XCTest
@testable import MuflowCore
@testable import MuflowPickle

/// NodePickler: node pickles that read back (persistent ids replaced by the shared
/// values they name) as the nodes' JSON does, with large shared values written once.
final class NodePicklerTests: XCTestCase {
    typealias F = PlanFixture

    /// `pickle` with every persistent id replaced by the body of the shared value it
    /// names (recursively), walking the opcodes PickleWriter writes (any other fails
    /// the test); `pids` collects the ids met.
    private func resolved(_ pickle: [UInt8], _ pickler: NodePickler, pids: inout [Int]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        func le(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(pickle[at + $1]) << (8 * $1) } }
        while i < pickle.count {
            let op = pickle[i]
            var length: Int
            var pid: Int?
            switch op {
            case 0x80: length = 2
            case 0x95: length = 9
            case 0x2E, 0x4E, 0x88, 0x89, 0x5D, 0x7D, 0x28, 0x65, 0x75, 0x94: length = 1
            case 0x4B: length = 2; pid = le(i + 1, 1)
            case 0x4D: length = 3; pid = le(i + 1, 2)
            case 0x4A: length = 5; pid = le(i + 1, 4)
            case 0x68: length = 2
            case 0x6A: length = 5
            case 0x47: length = 9
            case 0x8A, 0x8C: length = 2 + le(i + 1, 1)
            case 0x8B, 0x58: length = 5 + le(i + 1, 4)
            case 0x8D: length = 9 + le(i + 1, 8)
            default:
                XCTFail("unexpected opcode \(op) at \(i)")
                return out
            }
            if let pid, i + length < pickle.count, pickle[i + length] == 0x51 {
                pids.append(pid)
                let shared = pickler.shared(pid >> 1)
                // The shared value's opcodes, without PROTO, FRAME and STOP.
                out += resolved(Array(shared[11..<(shared.count - 1)]), pickler, pids: &pids)
                i += length + 1
                continue
            }
            out += pickle[i..<(i + length)]
            i += length
        }
        return out
    }

    private func canonical(_ value: JSONValue) -> String {
        String(decoding: PythonJSON.dumps(value, sortKeys: false), as: UTF8.self)
    }

    /// Every node of `plan`, read in batches of `batch`, as JSON values.
    private func nodes(_ plan: TaskPlan, batch: Int = 7, budget: Int = 1 << 20,
                       pids: inout [Int]) throws -> [JSONValue] {
        let pickler = NodePickler(plan)
        var result: [JSONValue] = []
        while result.count < plan.count {
            let pickle = pickler.nodes(from: result.count, maxCount: batch, byteBudget: budget)
            let items = try unpickle(resolved(pickle, pickler, pids: &pids)).arrayValue ?? []
            XCTAssertFalse(items.isEmpty)
            result += items
        }
        return result
    }

    func testNodesReadBackAsTheirJSON() throws {
        let plan = try F.mlPlan(40)
        var pids: [Int] = []
        let read = try nodes(plan, pids: &pids)
        XCTAssertEqual(read.count, plan.count)
        for (index, node) in read.enumerated() {
            let json = try Array(try plan.nodeJSON(at: index)).withUnsafeBytes { try parseJSON($0, maxDepth: 1000) }
            XCTAssertEqual(canonical(node), canonical(json), "node \(index)")
        }
        XCTAssertFalse(pids.isEmpty, "the ML plan's dataset list and edge lists are shared")
    }

    func testLargeValuesHeldByManyNodesAreWrittenOnce() throws {
        let plan = try F.mlPlan(40)
        let pickler = NodePickler(plan)
        // The dataset list, the features' depended_on_by, the fan-ins' depends_on and
        // access map, the reports' depends_on.
        XCTAssertGreaterThanOrEqual(pickler.sharedCount, 4)
        let everything = pickler.nodes(from: 0, maxCount: plan.count, byteBudget: Int.max)
        let datasetName = Array("dataset_17".utf8)
        let occurrences = (0...(everything.count - datasetName.count)).filter {
            everything[$0..<($0 + datasetName.count)].elementsEqual(datasetName)
        }
        // Once as the features node's own kwarg; the list itself only in its shared value.
        XCTAssertEqual(occurrences.count, 1)
        var pids: [Int] = []
        _ = resolved(everything, pickler, pids: &pids)
        // A loo_cv node: kwargs {"leave_out_index", "datasets"}: the list is shared as
        // itself (pid even), depends_on and the access map as the node's own copies (odd).
        let loo = plan.nodes.firstIndex { $0.function == "ml.loo" }!
        var looPids: [Int] = []
        _ = resolved(pickler.nodes(from: loo, maxCount: 1, byteBudget: 0), pickler, pids: &looPids)
        XCTAssertEqual(looPids.filter { $0 & 1 == 0 }.count, 1, "\(looPids)")
        XCTAssertEqual(looPids.filter { $0 & 1 == 1 }.count, 2, "\(looPids)")
    }

    func testSmallOrUnsharedValuesAreWrittenInPlace() throws {
        let plan = try F.mlPlan(3)
        let pickler = NodePickler(plan)
        XCTAssertEqual(pickler.sharedCount, 0, "lists of 3 are cheaper to write again")
        var pids: [Int] = []
        _ = try nodes(plan, pids: &pids)
        XCTAssertTrue(pids.isEmpty)
    }

    func testBatchesStopAtTheCountOrTheBudget() throws {
        let plan = try F.mlPlan(40)
        let pickler = NodePickler(plan)
        func count(_ pickle: [UInt8]) throws -> Int {
            var pids: [Int] = []
            return try unpickle(resolved(pickle, pickler, pids: &pids)).arrayValue?.count ?? -1
        }
        XCTAssertEqual(try count(pickler.nodes(from: 0, maxCount: 5, byteBudget: Int.max)), 5)
        XCTAssertEqual(try count(pickler.nodes(from: 0, maxCount: 1000, byteBudget: 0)), 1)
        XCTAssertEqual(try count(pickler.nodes(from: plan.count - 2, maxCount: 1000, byteBudget: Int.max)), 2)
        let budgeted = try count(pickler.nodes(from: 0, maxCount: 1000, byteBudget: 600))
        XCTAssertGreaterThan(budgeted, 1)
        XCTAssertLessThan(budgeted, plan.count)
    }

    func testFieldNamesAreMemoizedOncePerPickle() throws {
        let plan = try F.mlPlan(3)
        let pickle = NodePickler(plan).nodes(from: 0, maxCount: 2, byteBudget: Int.max)
        let name = Array("depended_on_by".utf8)
        let occurrences = (0...(pickle.count - name.count)).filter { pickle[$0..<($0 + name.count)].elementsEqual(name) }
        XCTAssertEqual(occurrences.count, 1)
        XCTAssertTrue(pickle.contains(0x94) && pickle.contains(0x68))
    }

    func testScalarsOfEveryKindInKwargs() throws {
        let kwargs = F.object(#"{"big": 123456789012345678901234567890, "neg": -123456789012345678901234567890, "#
                              + #""f": 1.5, "z": -0.0, "t": true, "n": null, "u": "é😀", "#
                              + #""list": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]}"#)
        var withSpecial = kwargs
        withSpecial["nan"] = .double(.nan)
        withSpecial["inf"] = .double(-.infinity)
        withSpecial["lone"] = .string(JSONString(wtf8: [0x61, 0xED, 0xB0, 0x80]))
        let plan = try F.build(F.pipeline("p", [F.step("a", "ml.train"), F.step("b", "ml.other", after: ["a"])]),
                               kwargs: withSpecial)
        var pids: [Int] = []
        let read = try nodes(plan, pids: &pids)
        // Both nodes hold the same kwargs object and list: the dict as each node's copy.
        XCTAssertTrue(pids.contains { $0 & 1 == 1 }, "\(pids)")
        for node in read {
            let kw = node.objectValue?["kwargs"]?.objectValue
            XCTAssertEqual(kw.map { canonical(.object($0)) },
                           #"{"big": 123456789012345678901234567890, "neg": -123456789012345678901234567890, "#
                           + #""f": 1.5, "z": -0.0, "t": true, "n": null, "u": "\u00e9\ud83d\ude00", "#
                           + #""list": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], "#
                           + #""nan": null, "inf": null, "lone": "a\udc00"}"#)
        }
    }
}
