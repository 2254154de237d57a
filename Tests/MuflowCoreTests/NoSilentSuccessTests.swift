import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

/// The sentinel root by construction, the task check before a run, the one validation
/// of built and read plans, and stale inputs.
final class NoSilentSuccessTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("nosilent")
    }

    override func tearDown() {
        removeTree(directory)
    }

    /// items (forEach over `values`, identity key "n") -> total (identity key "label"
    /// only, so its prefix stays when the items move) [-> the sentinel with `fanOutEnd`].
    private func reducePlan(_ values: [Int], registry: TaskRegistry? = nil) throws -> TaskPlan {
        let pipeline = try Pipeline(name: "t.reduce", steps: [
            PipelineStep(name: "items", task: "t.item", kind: .forEach),
            PipelineStep(name: "total", task: "t.total", after: ["items"]),
        ])
        let registry = try registry ?? Self.reduceRegistry()
        return try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject([("values", .array(values.map { .int($0) }))]),
                                      registry: registry, options: PlanBuildOptions(basePrefix: JSONString(directory))) {
            step in
            step.name == "items" ? values.map { JSONObject([("n", .int($0))]) } : [JSONObject([("label", .string("sum"))])]
        }
    }

    private static func reduceRegistry() throws -> TaskRegistry {
        let registry = TaskRegistry()
        try registry.add(TaskDescriptor(name: "t.item", identityKeys: ["n"]))
        try registry.add(TaskDescriptor(name: "t.total", identityKeys: ["label"]))
        return registry
    }

    /// Bodies: an item writes n * factor, the total sums what its dependencies wrote.
    private final class Bodies: Sendable {
        let ran = Locked<[String]>([])
        let factor: Int

        init(factor: Int = 1) { self.factor = factor }

        func body(_ function: JSONString) -> TaskBody? {
            { [self] call in
                switch function {
                case "t.item":
                    let n = call.node.kwargs["n"]!
                    guard case .int(let value) = n else { throw MuflowError(.type, "n") }
                    ran.withLock { $0.append("item \(value)") }
                    try call.storage.save("v.txt", Array("\(value * factor)".utf8))
                default:
                    ran.withLock { $0.append("total") }
                    var sum = 0
                    for prefix in call.dependencies.values {
                        sum += Int(try NoSilentSuccessTests.read(prefix.stringValue!.description + "/v.txt"))!
                    }
                    try call.storage.save("sum.txt", Array("\(sum)".utf8))
                }
            }
        }
    }

    static func read(_ path: String) throws -> String {
        try String(decoding: FileSystem.readFile(path), as: UTF8.self)
    }

    private func execute(_ plan: TaskPlan, _ bodies: Bodies) throws -> RunProgress {
        try PlanRun(plan: plan).execute(threads: 2) { bodies.body($0) }
    }

    private func total(_ plan: TaskPlan) throws -> String {
        try Self.read(plan.rootKey.description + "/sum.txt")
    }

    func testANodeWhoseInputsMovedRunsAgainAndOnlyIt() throws {
        let first = try reducePlan([1, 2])
        XCTAssertEqual(try execute(first, Bodies()).succeeded, 3)
        XCTAssertEqual(try total(first), "3")

        let cached = Bodies()
        let again = try execute(first, cached)
        XCTAssertEqual(again.cached, 3)
        XCTAssertEqual(again.stale, 0)
        XCTAssertEqual(cached.ran.withLock { $0 }, [])

        let moved = try reducePlan([3, 4])
        XCTAssertEqual(moved.rootKey, first.rootKey)
        let bodies = Bodies()
        let progress = try execute(moved, bodies)
        XCTAssertEqual(progress.stale, 1)
        XCTAssertEqual(progress.succeeded, 3)
        XCTAssertEqual(bodies.ran.withLock { $0 }.sorted(), ["item 3", "item 4", "total"])
        XCTAssertEqual(try total(moved), "7")
    }

    func testAnInputRunAgainWithIdenticalOutputsDoesNotCascade() throws {
        let plan = try reducePlan([1, 2])
        _ = try execute(plan, Bodies())
        let item = plan.nodes.first { $0.function == "t.item" }!.storagePrefix.description
        XCTAssertEqual(unlink(item + "/manifest.json"), 0)
        let bodies = Bodies()
        let progress = try execute(plan, bodies)
        XCTAssertEqual(bodies.ran.withLock { $0 }, ["item 1"])
        XCTAssertEqual(progress.stale, 0)

        // Changed outputs do cascade.
        XCTAssertEqual(unlink(item + "/manifest.json"), 0)
        let scaled = Bodies(factor: 10)
        let changed = try execute(plan, scaled)
        XCTAssertEqual(scaled.ran.withLock { $0 }, ["item 1", "total"])
        XCTAssertEqual(changed.stale, 1)
        XCTAssertEqual(try total(plan), "12")
    }

    func testManifestsRecordTheInputsAndTheScanReadsTheirDigests() throws {
        let plan = try reducePlan([1, 2])
        _ = try execute(plan, Bodies())
        let text = try Self.read(plan.rootKey.description + "/manifest.json")
        let scanned = Array(text.utf8).withUnsafeBytes { ManifestScan.scan($0) }
        let parsed = try Array(text.utf8).withUnsafeBytes { try parseJSON($0) }.objectValue!
        XCTAssertEqual(scanned.outputs?.description, parsed["outputs_sha256"]?.stringValue?.description)
        XCTAssertEqual(scanned.inputs?.description, parsed["inputs_sha256"]?.stringValue?.description)
        let inputs = parsed["inputs"]!.objectValue!
        let map = plan.nodes[plan.rootIndex].dependencyAccessMap
        XCTAssertEqual(inputs.keys, map.keys)
        for (key, prefix) in map.pairs {
            XCTAssertEqual(inputs[key]!.objectValue!["prefix"]!.stringValue, prefix.stringValue)
        }
    }

    func testAManifestListsAFewInputsAndRecordsTheDigestOfMany() throws {
        let inputs = { (count: Int) in
            NodeInputs(accessKeys: (0..<count).map { JSONString("s:\($0)") },
                       prefixes: (0..<count).map { JSONString("p/\($0)") }, outputs: Array(repeating: nil, count: count))
        }
        for count in [1, NodeInputs.mostListed, NodeInputs.mostListed + 1] {
            let text = Manifest(files: [:], inputs: inputs(count)).encoded(timestamp: "t")
            let parsed = try text.withUnsafeBytes { try parseJSON($0) }.objectValue!
            XCTAssertEqual(parsed["inputs"]?.objectValue?.count, count <= NodeInputs.mostListed ? count : nil)
            XCTAssertEqual(text.withUnsafeBytes { ManifestScan.scan($0).inputs }, inputs(count).digest)
        }
    }

    func testTheSentinelIsKnownByConstructionInBuiltAndReadPlans() throws {
        let pipeline = try Pipeline(name: "t.fan", steps: [PipelineStep(name: "items", task: "t.item", kind: .forEach)])
        let registry = try Self.reduceRegistry()
        let fan = try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject([("task", .string("label"))]), registry: registry) { _ in
            [JSONObject([("n", .int(1))]), JSONObject([("n", .int(2))])]
        }
        XCTAssertEqual(fan.sentinelIndex, fan.rootIndex)
        XCTAssertEqual(try TaskPlan.fromJSON(try fan.toJSON()).sentinelIndex, fan.rootIndex)

        let single = try Pipeline(name: "t.one", steps: [PipelineStep(name: "only", task: "t.missing")])
            .buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil) { _ in [JSONObject()] }
        XCTAssertNil(single.sentinelIndex)
        XCTAssertNil(try TaskPlan.fromJSON(try single.toJSON()).sentinelIndex)
        XCTAssertThrowsError(try single.checkTasks { _ in false }) { error in
            let error = error as! MuflowError
            XCTAssertEqual(error.kind, .missingTask)
            XCTAssertTrue(error.message.contains("'t.missing' (step 'only'; 1 node)"), error.message)
        }
    }

    func testTheTaskCheckNamesStepsOfReadPlansThroughTheAccessMaps() throws {
        let plan = try TaskPlan.fromJSON(try reducePlan([1, 2, 3]).toJSON())
        let registry = try Self.reduceRegistry()
        XCTAssertNoThrow(try plan.checkTasks { registry.get($0) != nil })
        XCTAssertThrowsError(try plan.checkTasks { $0 != "t.item" }) { error in
            XCTAssertTrue("\(error)".contains("'t.item' (step 'items'; 3 nodes)"), "\(error)")
        }
        XCTAssertThrowsError(try plan.checkTasks { _ in false }) { error in
            XCTAssertTrue("\(error)".hasPrefix("2 tasks"), "\(error)")
            XCTAssertTrue("\(error)".contains("'t.total' (the root node; 1 node)"), "\(error)")
        }
    }

    func testBuildRefusesASelfDependentNodeAsReadingDoes() throws {
        let pipeline = try Pipeline(name: "t.twice", steps: [
            PipelineStep(name: "first", task: "t.same"),
            PipelineStep(name: "middle", task: "t.other", after: ["first"]),
            PipelineStep(name: "again", task: "t.same", after: ["middle"]),
        ])
        XCTAssertThrowsError(try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil) { _ in [JSONObject()] }) {
            let error = $0 as! MuflowError
            XCTAssertEqual(error.kind, .cycle)
            XCTAssertTrue(error.message.hasPrefix("steps 'first' and 'again' both produce the node 'muflow/t.same/"),
                          error.message)
        }
    }
}
