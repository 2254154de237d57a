import Dispatch
import XCTest
@testable import MuflowCore

/// A built node's dependency_access_map is made from its dependsOn when first read.
final class AccessMapTests: XCTestCase {
    typealias F = PlanFixture

    func testMapsOfStepsAfterOneNodeManyNodesAnEmptyStepAndARepeat() throws {
        let pipeline = F.pipeline("p", [
            F.step("many", "t.many", forEach: true),
            F.step("one", "t.one"),
            F.step("none", "t.none", forEach: true),
            F.step("after", "t.after", after: ["many", "one", "none"]),
            F.step("twice", "t.twice", after: ["many", "many"]),
        ])
        let plan = try F.build(pipeline, jobs: ["many": F.objects(#"[{"i": 0}, {"i": 1}, {"i": 2}]"#), "none": []])
        func key(_ function: JSONString, _ n: Int = 0) -> JSONString {
            plan.nodes.filter { $0.function == function }[n].key
        }
        let after = try XCTUnwrap(plan.nodes.first { $0.function == "t.after" })
        XCTAssertEqual(after.dependencyAccessMap.keys, ["many:0", "many:1", "many:2", "one"])
        XCTAssertEqual(after.dependencyAccessMap.values.map(\.stringValue), [key("t.many"), key("t.many", 1), key("t.many", 2), key("t.one")])
        // A step listed twice: each key once, in its first place, as a dict keeps it.
        let twice = try XCTUnwrap(plan.nodes.first { $0.function == "t.twice" })
        XCTAssertEqual(twice.dependsOn.count, 6)
        XCTAssertEqual(twice.dependencyAccessMap.keys, ["many:0", "many:1", "many:2"])
        XCTAssertEqual(twice.dependencyAccessMap.values.map(\.stringValue), [key("t.many"), key("t.many", 1), key("t.many", 2)])
        XCTAssertTrue(plan.nodes.first { $0.function == "t.many" }!.dependencyAccessMap.isEmpty)
    }

    /// Threads reading a gather node's map for the first time at once all get the one
    /// map made (run under ThreadSanitizer with the scheduler tests).
    func testFirstReadsFromManyThreadsShareOneMap() throws {
        let pipeline = F.pipeline("fan", [F.step("work", "t.work", forEach: true), F.step("gather", "t.gather", after: ["work"])])
        let items = (0..<2_000).map { JSONObject([("i", .int($0))]) }
        let plan = try F.build(pipeline, jobs: ["work": items])
        let gather = plan.nodes[plan.rootIndex]
        let results = Locked<[(keys: UnsafeRawPointer?, count: Int)]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let map = gather.dependencyAccessMap
            let storage = map.keys.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
            results.withLock { $0.append((storage, map.count)) }
        }
        let seen = results.withLock { $0 }
        XCTAssertEqual(seen.count, 8)
        XCTAssertTrue(seen.allSatisfy { $0.keys == seen[0].keys && $0.count == 2_000 })
        XCTAssertEqual(gather.dependencyAccessMap.keys.last, "work:1999")
        XCTAssertEqual(gather.dependencyAccessMap.values.last?.stringValue, gather.dependsOn.last)
    }
}
