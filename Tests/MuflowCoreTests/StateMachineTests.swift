import XCTest
@testable import MuflowCore

/// The Step Functions generator: the compact layout within AWS's limits, muflow's
/// level layout, and refusals that name the limit.
final class StateMachineTests: XCTestCase {
    private typealias F = PlanFixture
    private let target = StateMachineTarget(functionArn: "arn:aws:lambda:us-east-1:123456789012:function:w", bucket: "b")

    private func compact(_ plan: TaskPlan, completed: Set<Int> = [], limits: AWSLimits = .aws) throws -> StateMachine {
        try CompactLayout.generate(plan, target: target, options: .init(planKey: "muflow/_plans/p/plan.json",
                                                                        itemsPrefix: "muflow/_plans/p/items",
                                                                        completed: completed, limits: limits))
    }

    private func states(_ machine: StateMachine) -> JSONObject {
        F.value(F.text(machine.definition)).objectValue!["States"]!.objectValue!
    }

    /// Every node index the definition runs: in Task payloads, Pass item lists and item files.
    private func nodesRun(_ machine: StateMachine) -> [Int] {
        var nodes: [Int] = []
        for (_, state) in states(machine).pairs {
            let state = state.objectValue!
            if case .int(let node)? = state["Parameters"]?.objectValue?["Payload"]?.objectValue?["node"] { nodes.append(node) }
            if state["Type"]?.stringValue == "Pass", let items = state["Result"]?.arrayValue {
                nodes += items.map { if case .int(let i) = $0 { return i } else { return -1 } }
            }
        }
        for file in machine.itemFiles {
            nodes += F.value(F.text(file.body)).arrayValue!.map { if case .int(let i) = $0 { return i } else { return -1 } }
        }
        return nodes.sorted()
    }

    func testSmallPlanRunsInlineMapsOverNodeIndices() throws {
        let plan = try F.mlPlan(3)
        let machine = try compact(plan)
        XCTAssertEqual(nodesRun(machine), Array(0..<plan.count))
        XCTAssertEqual(machine.distributedMaps, 0)
        XCTAssertEqual(machine.inlineMaps, 3)
        XCTAssertTrue(machine.itemFiles.isEmpty)
        let map = states(machine)["Level0"]!.objectValue!
        XCTAssertEqual(map["Type"]?.stringValue, "Map")
        XCTAssertEqual(map["ItemProcessor"]?.objectValue?["ProcessorConfig"]?.objectValue?["Mode"]?.stringValue, "INLINE")
        // Nothing flows back into the state.
        for (_, state) in states(machine).pairs where state.objectValue!["Type"]?.stringValue != "Pass" {
            if case .null? = state.objectValue!["ResultPath"] {} else { XCTFail("ResultPath must be null") }
        }
    }

    func testTenThousandDatasetsFitAWSLimits() throws {
        let plan = try F.mlPlan(10_000)
        let machine = try compact(plan)
        XCTAssertLessThan(machine.definitionBytes, AWSLimits.aws.definitionBytes)
        XCTAssertLessThanOrEqual(machine.historyEvents, AWSLimits.aws.historyEvents)
        XCTAssertLessThanOrEqual(machine.largestPayloadBytes, AWSLimits.aws.payloadBytes)
        XCTAssertEqual(machine.distributedMaps, 2)
        XCTAssertEqual(nodesRun(machine), Array(0..<plan.count))
        // The definition does not grow with the datasets.
        XCTAssertLessThan(machine.definitionBytes, 10_000)
    }

    func testCompletedNodesAreLeftOutAndDependentsDoNotWaitForThem() throws {
        let plan = try F.mlPlan(3)
        let levels = try plan.levels()
        let firstLevel = Set(levels[0])
        let machine = try compact(plan, completed: firstLevel)
        XCTAssertEqual(nodesRun(machine), Array(Set(0..<plan.count).subtracting(firstLevel)).sorted())
        XCTAssertEqual(machine.nodesRun, plan.count - firstLevel.count)
        let first = states(machine)["Level0Items"]!.objectValue!["Result"]!.arrayValue!.count
        XCTAssertEqual(first, levels[1].count, "the second level now runs first")
        let none = try compact(plan, completed: Set(0..<plan.count))
        XCTAssertEqual(none.nodesRun, 0)
        XCTAssertEqual(states(none).keys, ["AllCached"])
    }

    func testALevelTooLongForTheHistoryIsDistributed() throws {
        let plan = try F.mlPlan(200)
        let small = AWSLimits(definitionBytes: 1_048_576, payloadBytes: 262_144, historyEvents: 2_000)
        let machine = try compact(plan, limits: small)
        XCTAssertGreaterThan(machine.distributedMaps, 0)
        XCTAssertLessThanOrEqual(machine.historyEvents, 2_000)
        let files = machine.itemFiles.map(\.key)
        XCTAssertTrue(files.allSatisfy { $0.hasPrefix("muflow/_plans/p/items/level-") }, "\(files)")
    }

    func testAChainOverTheHistoryLimitIsRefusedNamingTheExcess() throws {
        let steps = (0..<1_800).map { F.step(JSONString("s\($0)"), "t", after: $0 == 0 ? [] : [JSONString("s\($0 - 1)")]) }
        let jobs = Dictionary(uniqueKeysWithValues: (0..<1_800).map { (JSONString("s\($0)"), [JSONObject([("i", .int($0))])]) })
        let plan = try F.build(F.pipeline("chain", steps), jobs: jobs)
        let error = F.error { try self.compact(plan) }
        XCTAssertEqual(error?.kind, .limit)
        let events = HistoryEvents.execution + 1_800 * HistoryEvents.task
        let message = error?.message ?? ""
        XCTAssertTrue(message.contains("worst-case execution history is \(grouped(events)) events"), message)
        XCTAssertTrue(message.contains("over the 25,000-event history limit by \(grouped(events - 25_000)) events"), message)
    }

    func testADefinitionOverItsLimitIsRefusedNamingTheExcess() throws {
        let plan = try F.mlPlan(3)
        let limits = AWSLimits(definitionBytes: 1_000, payloadBytes: 262_144, historyEvents: 25_000)
        let error = F.error { try self.compact(plan, limits: limits) }
        let size = try compact(plan).definitionBytes
        XCTAssertTrue(error?.message.contains("definition is \(grouped(size)) bytes, over the 1,000-byte definition limit by \(grouped(size - 1_000)) bytes") == true,
                      error?.message ?? "")
    }

    func testLevelLayoutIsMuflowsParallelBranches() throws {
        let plan = try F.mlPlan(3)
        let machine = try XCTUnwrap(LevelLayout.generate(plan, target: target))
        let states = states(machine)
        XCTAssertEqual(states.keys.map(\.description), ["Level0", "Level1", "Level2", "Level3"])
        let level0 = states["Level0"]!.objectValue!
        XCTAssertEqual(level0["Type"]?.stringValue, "Parallel")
        XCTAssertEqual(level0["Branches"]?.arrayValue?.count, 3)
        let root = states["Level3"]!.objectValue!
        XCTAssertEqual(root["Type"]?.stringValue, "Task")
        XCTAssertEqual(root["Parameters"]?.objectValue?["Payload"]?.objectValue?["node_key"]?.stringValue, plan.rootKey)
        if case .bool(true)? = root["End"] {} else { XCTFail("the last level ends the machine") }
        let task = HistoryEvents.task, parallel = HistoryEvents.parallel
        XCTAssertEqual(machine.historyEvents, 2 + (parallel + 3 * task) + (parallel + 4 * task) + (parallel + 3 * task) + task)
        XCTAssertNil(try LevelLayout.generate(plan, levels: [], target: target))
    }

    func testGroupedDigits() {
        XCTAssertEqual(grouped(0), "0")
        XCTAssertEqual(grouped(999), "999")
        XCTAssertEqual(grouped(1_048_576), "1,048,576")
        XCTAssertEqual(grouped(-25_000), "-25,000")
    }
}

/// The ledger that keeps local storage's rules for storage whose bytes move elsewhere.
final class FileLedgerTests: XCTestCase {
    func testClaimCommitAndManifest() throws {
        let ledger = FileLedger()
        try ledger.claim("a.txt")
        try [UInt8]("abc".utf8).withUnsafeBytes { try ledger.commit("a.txt", $0) }
        try ledger.claim("b.txt")
        XCTAssertEqual(ledger.writtenFiles, ["a.txt"], "a claimed file is not listed before its bytes are stored")
        ledger.release("b.txt")
        try ledger.claim("b.txt")
        let manifest = PlanFixture.text(ledger.manifest(timestamp: "T"))
        let parsed = PlanFixture.value(manifest).objectValue!
        XCTAssertEqual(parsed["files"]?.arrayValue?.count, 1)
        XCTAssertEqual(parsed["file_sha256"]?.objectValue?["a.txt"]?.stringValue?.description,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(ledger.manifest(timestamp: "T"),
                       Manifest(files: ["a.txt": .init(size: 3, sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]).encoded(timestamp: "T"))
    }

    func testRulesOfLocalStorage() throws {
        let ledger = FileLedger()
        try ledger.claim("x")
        XCTAssertEqual(PlanFixture.error { try ledger.claim("x") }?.kind, .alreadyExists)
        XCTAssertEqual(PlanFixture.error { try ledger.claim("manifest.json") }?.kind, .permission)
        XCTAssertEqual(PlanFixture.error { try ledger.claim("../up") }?.kind, .invalidArgument)
        XCTAssertEqual(PlanFixture.error { try ledger.claim("/abs") }?.kind, .invalidArgument)
        try ledger.claim("context.json", allowProtected: true)
        XCTAssertEqual(PlanFixture.error { try [UInt8]().withUnsafeBytes { try ledger.commit("never", $0) } }?.kind, .notFound)
        let readOnly = FileLedger(allowedOutputs: [])
        XCTAssertEqual(PlanFixture.error { try readOnly.claim("out.txt") }?.kind, .permission)
        try readOnly.claim("error.json", allowProtected: true)
    }
}
