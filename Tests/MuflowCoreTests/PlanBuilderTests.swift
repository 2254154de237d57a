import XCTest
@testable import MuflowCore

/// Plans built here against the same pipelines built by muflow 0.4.0 (PlanExpected).
final class PlanBuilderTests: XCTestCase {
    typealias F = PlanFixture

    private func assertPlan(_ plan: TaskPlan, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(F.text(try plan.toJSON()), expected, file: file, line: line)
    }

    func testSeedMLPipelineMatchesMuflow() throws {
        let plan = try F.mlPlan(names: ["a", "b", "c"])
        try assertPlan(plan, PlanExpected.ml3)
        XCTAssertEqual(plan.count, 11)
        XCTAssertEqual(plan.rootKey, "muflow/ml.pipeline/546d91d3813882ba")
    }

    func testCollisionInsideAForEachAndRepeatedAfter() throws {
        let pipeline = F.pipeline("p", [F.step("s", "t", forEach: true), F.step("d", "u", after: ["s", "s"])])
        let plan = try F.build(pipeline, jobs: ["s": F.objects(#"[{"x": 1}, {"x": 2}, {"x": 1}]"#)])
        try assertPlan(plan, PlanExpected.dupForEach)
    }

    /// muflow builds a plan whose node depends on itself (PlanExpected.selfLoop), which can
    /// never run; the build is refused, as reading that plan is.
    func testCollisionAcrossStepsIsRefusedWhereMuflowMakesASelfLoop() throws {
        let pipeline = F.pipeline("p", [F.step("a", "t"), F.step("b", "t", after: ["a"])])
        let error = F.error { try F.build(pipeline, kwargs: F.object(#"{"k": 1}"#)) }
        XCTAssertEqual(error?.kind, .cycle)
        XCTAssertTrue(error?.message.hasPrefix("steps 'a' and 'b' both produce the node 'muflow/t/") == true,
                      error?.message ?? "")
        XCTAssertEqual(F.error { try TaskPlan.fromJSON(Array(PlanExpected.selfLoop.utf8)) }?.kind, .cycle)
    }

    func testALaterStepReplacingAnEarlierNodeThroughAnotherStepIsRefused() throws {
        let pipeline = F.pipeline("p", [
            F.step("a", "t", forEach: true), F.step("b", "u", after: ["a"]),
            F.step("c", "t", forEach: true, after: ["b"]),
        ])
        let error = F.error {
            try F.build(pipeline, jobs: ["a": F.objects(#"[{"i": 1}, {"i": 2}]"#), "c": F.objects(#"[{"i": 2}, {"i": 3}]"#)])
        }
        XCTAssertEqual(error?.message.hasPrefix("steps 'a' and 'c' both produce the node 'muflow/t/f62c8964c65d0e06'"), true,
                       error?.message ?? "")
        XCTAssertEqual(F.error { try TaskPlan.fromJSON(Array(PlanExpected.crossReplace.utf8)) }?.message,
                       "Circular dependency among plan nodes: muflow/t/f62c8964c65d0e06 -> muflow/u/ec6149856af795ab -> muflow/t/f62c8964c65d0e06")
    }

    func testSentinelCollidingWithTheLastStepsNodesIsRefused() throws {
        let error = F.error {
            try F.build(F.pipeline("t", [F.step("a", "t", forEach: true)]), kwargs: F.object(#"{"z": 0}"#),
                        jobs: ["a": [JSONObject(), JSONObject()]])
        }
        XCTAssertEqual(error?.kind, .cycle)
        XCTAssertTrue(error?.message.contains("sentinel root") == true && error?.message.contains("'a'") == true,
                      error?.message ?? "")
        XCTAssertEqual(F.error { try TaskPlan.fromJSON(Array(PlanExpected.sentinelCollision.utf8)) }?.kind, .cycle)
    }

    func testEmptyForEachUpstreamLeavesNoEdges() throws {
        let plan = try F.build(F.pipeline("p", [F.step("a", "t", forEach: true), F.step("b", "u", after: ["a"])]),
                               jobs: ["a": []])
        try assertPlan(plan, PlanExpected.emptyMiddle)
        XCTAssertEqual(plan.count, 1)
        XCTAssertEqual(plan.leafNodes, [0])
    }

    func testEmptyLastForEachGetsASentinelWithoutDependencies() throws {
        let plan = try F.build(F.pipeline("p", [F.step("a", "t"), F.step("b", "u", forEach: true, after: ["a"])]),
                               jobs: ["b": []])
        try assertPlan(plan, PlanExpected.emptyLast)
        XCTAssertEqual(plan.leafNodes, [0, 1])
        XCTAssertEqual(plan.nodes[plan.rootIndex].function, "p")
    }

    func testKwargsNamedTaskAndSubjectOverrideTheHashDict() throws {
        let pipeline = F.pipeline("p", [F.step("a", "t"), F.step("b", "ml.compute_features", forEach: true, after: ["a"])])
        let kwargsMap = F.object(#"""
            {"task": "other.task", "subject": 7, "f": 1.5, "g": 1e16, "h": 1e-7, "u": "\u00e9\u2028\n\"",
             "n": {"b": [1, null, true], "a": 123456789012345678901234567890}}
            """#)
        let plan = try F.build(pipeline, subject: "s:1", kwargs: F.object(#"{"zeta": [], "alpha": {}}"#), base: "base",
                               jobs: ["a": [kwargsMap],
                                      "b": F.objects(#"[{"dataset": "x", "other": 1}, {"dataset": "x", "other": 2}]"#)])
        try assertPlan(plan, PlanExpected.overrides)
    }

    func testNodesFollowTheTopologicalOrderNotTheDeclarationOrder() throws {
        let pipeline = F.pipeline("p", [
            F.step("c", "tc", after: ["b", "a"]), F.step("a", "ta"),
            F.step("b", "tb", forEach: true, after: ["a"]), F.step("d", "td"),
        ])
        var asked: [JSONString] = []
        let plan = try pipeline.buildPlan(subjectKey: "subj", kwargs: F.object(#"{"w": 1}"#), registry: nil) { step in
            asked.append(step.name)
            return step.name == "b" ? F.objects(#"[{"i": 0}, {"i": 1}]"#) : [JSONObject()]
        }
        XCTAssertEqual(asked, ["a", "b", "c", "d"])
        try assertPlan(plan, PlanExpected.reordered)
    }

    func testKeysMatchContentPrefixForEveryNode() throws {
        let registry = F.registry()
        let plan = try F.mlPlan(40, registry: registry)
        for node in plan.nodes {
            var hashDict = JSONObject([("task", .string(node.function)), ("subject", .string(node.subjectKey))])
            hashDict = hashDict.merging(node.kwargs)
            let identity = node.function == "ml.pipeline" ? nil : registry.get(node.function)?.identityKeys
            let expected = ContentPrefix.compute(hashDict: hashDict, basePrefix: "muflow", identityKeys: identity)
            XCTAssertEqual(node.key.utf8, expected, node.key.description)
        }
    }

    func testSharedValuesAndResumedHashesNeverChangeAKey() throws {
        let listA = F.value(#"["a1", "a2", "a3", "a4", "a5"]"#)
        let listB = F.value(#"[1, 2, 3, 4, 5, 6]"#)
        let object = F.value(#"{"q": 1, "p": [1, 2], "r": null, "s": "t", "u": 1.5}"#)
        var items: [JSONObject] = []
        for i in 0..<40 {
            var item = JSONObject()
            if i % 3 != 0 { item["a"] = listA }
            if i % 4 != 1 { item["z"] = listB }
            if i % 5 == 2 { item["m"] = object }
            if i % 7 == 3 { item["a"] = F.value(#"["a1", "a2", "a3", "a4", "a5"]"#) }  // equal, not shared
            item["i"] = .int(i / 2)
            if i % 6 == 5 { item["task"] = .int(i) }
            items.append(item)
        }
        let registry = TaskRegistry()
        try registry.add(TaskDescriptor(name: "keyed", identityKeys: ["z", "i", "z", "missing"]))
        for task: JSONString in ["t", "keyed"] {
            let pipeline = F.pipeline("p", [F.step("s", task, forEach: true)])
            let kwargs = JSONObject([("a", listB), ("b", listA)])
            let plan = try F.build(pipeline, kwargs: kwargs, registry: registry, jobs: ["s": items])
            var expected: [JSONString] = []
            for item in items {
                let hashDict = JSONObject([("task", .string(task)), ("subject", .string("subj"))]).merging(kwargs.merging(item))
                expected.append(JSONString(wtf8: ContentPrefix.compute(hashDict: hashDict, basePrefix: "muflow",
                                                                       identityKeys: registry.get(task)?.identityKeys)))
            }
            var seen = Set<JSONString>()
            let distinct = expected.filter { seen.insert($0).inserted }
            XCTAssertEqual(Array(plan.entryKeys.dropLast()), distinct, task.description)  // the last is the sentinel
            XCTAssertEqual(plan.nodes.last?.function, "p")
        }
    }

    func testNodesOfAStepShareTheirArrays() throws {
        let plan = try F.mlPlan(50)
        let loo = plan.nodes.indices.filter { plan.nodes[$0].function == "ml.loo" }
        let features = plan.nodes.indices.filter { plan.nodes[$0].function == "ml.compute_features" }
        XCTAssertEqual(loo.count, 50)
        XCTAssertEqual(Set(loo.map { ArrayStorageID(plan.nodes[$0].dependsOn)! }).count, 1)
        XCTAssertEqual(Set(features.map { ArrayStorageID(plan.nodes[$0].dependedOnBy)! }).count, 1)
        XCTAssertEqual(plan.nodes[features[0]].dependedOnBy.count, 51)
        XCTAssertEqual(Set(loo.map { ArrayStorageID(plan.nodes[$0].dependencyAccessMap.values)! }).count, 1)
        // train and loo_cv depend on the same list, so they form one group.
        XCTAssertEqual(plan.dependencyGroups.groupDependencies.map(\.count).reduce(0, +), 50 + 51 + 3)
    }

    func testRegistryDecidesIdentityKeysAndOutputFiles() throws {
        let pipeline = F.pipeline("p", [F.step("a", "ml.compute_features", forEach: true)])
        let jobs: [JSONString: [JSONObject]] = ["a": F.objects(#"[{"dataset": "x", "other": 1}]"#)]
        let registered = try F.build(pipeline, jobs: jobs)
        let unregistered = try F.build(pipeline, registry: nil, jobs: jobs)
        XCTAssertEqual(registered.nodes[0].outputFiles, ["features.json", "plot.png"])
        XCTAssertEqual(unregistered.nodes[0].outputFiles, [])
        XCTAssertNotEqual(registered.rootKey, unregistered.rootKey)
        XCTAssertEqual(registered.rootKey.utf8, ContentPrefix.compute(
            hashDict: F.object(#"{"task": "ml.compute_features", "dataset": "x"}"#), basePrefix: "muflow", identityKeys: nil))
    }

    func testStrictBuildRefusesAnUnregisteredTask() {
        let pipeline = F.pipeline("p", [F.step("features", "ml.compute_features"), F.step("y", "x.missing")])
        var asked = 0
        let error = F.error {
            try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: F.registry(),
                                   options: PlanBuildOptions(strict: true)) { _ in asked += 1; return [JSONObject()] }
        }
        XCTAssertEqual(error, MuflowError(.notFound, "task 'x.missing' of step 'y' is not registered"))
        XCTAssertEqual(asked, 0)
    }

    func testStepNameWithColonIsCheckedFirst() {
        let pipeline = F.pipeline("p", [F.step("a", "t", after: ["nowhere"]), F.step("b:1", "t")])
        XCTAssertEqual(F.error { try pipeline.validatedOrder() },
                       MuflowError(.invalidArgument, "Step name 'b:1' must not contain ':' (reserved for access key indexing)."))
    }

    func testUnknownReferenceNamesStepAndReference() {
        let pipeline = F.pipeline("p", [F.step("a", "t"), F.step("b", "t", after: ["a", "ghost"])])
        XCTAssertEqual(F.error { try pipeline.validatedOrder() },
                       MuflowError(.invalidArgument, "Step 'b' references unknown step 'ghost'."))
    }

    func testCycleNamesEveryStepInIt() {
        let two = F.pipeline("p", [F.step("a", "t", after: ["b"]), F.step("b", "t", after: ["a"])])
        XCTAssertEqual(F.error { try two.validatedOrder() },
                       MuflowError(.cycle, "Circular dependency among steps: a -> b -> a"))
        let own = F.pipeline("p", [F.step("a", "t", after: ["a"])])
        XCTAssertEqual(F.error { try own.validatedOrder() }?.message, "Circular dependency among steps: a -> a")
        let tail = F.pipeline("p", [
            F.step("x", "t", after: ["a"]), F.step("a", "t", after: ["b"]),
            F.step("b", "t", after: ["c"]), F.step("c", "t", after: ["a"]),
        ])
        XCTAssertEqual(F.error { try tail.validatedOrder() }?.message, "Circular dependency among steps: a -> b -> c -> a")
    }

    func testErrorsComeInMuflowsDepthFirstOrder() {
        // muflow meets the cycle a <-> b before reaching c's unknown reference.
        let pipeline = F.pipeline("p", [
            F.step("a", "t", after: ["b"]), F.step("b", "t", after: ["a"]), F.step("c", "t", after: ["ghost"]),
        ])
        XCTAssertEqual(F.error { try pipeline.validatedOrder() }?.kind, .cycle)
        let reversed = F.pipeline("p", [
            F.step("c", "t", after: ["ghost"]), F.step("a", "t", after: ["b"]), F.step("b", "t", after: ["a"]),
        ])
        XCTAssertEqual(F.error { try reversed.validatedOrder() }?.kind, .invalidArgument)
    }

    func testTopologicalOrderIsMuflowsDepthFirstOrder() throws {
        let pipeline = F.pipeline("p", [
            F.step("r", "t", after: ["q", "p"]), F.step("p", "t"), F.step("q", "t", after: ["p"]), F.step("s", "t"),
        ])
        XCTAssertEqual(try pipeline.validatedOrder().map { pipeline.steps[$0].name }, ["p", "q", "r", "s"])
    }

    func testDuplicateStepNameIsRefused() {
        var pipeline = F.pipeline("p", [F.step("a", "t")])
        XCTAssertEqual(F.error { try pipeline.addStep(F.step("a", "u")) }?.kind, .alreadyExists)
    }

    func testEmptyPipelineAndMisshapenJobsFail() {
        XCTAssertEqual(F.error { try F.build(F.pipeline("p", [])) }?.kind, .invalidArgument)
        let single = F.pipeline("p", [F.step("a", "t")])
        XCTAssertEqual(F.error { try F.build(single, jobs: ["a": []]) }?.message,
                       "step 'a' is a single step and takes one kwargs object, not 0")
    }

    func testJobProviderErrorStopsTheBuild() {
        struct Stop: Error {}
        let pipeline = F.pipeline("p", [F.step("a", "t"), F.step("b", "t", after: ["a"])])
        var asked: [JSONString] = []
        XCTAssertThrowsError(try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil) { step in
            asked.append(step.name)
            throw Stop()
        })
        XCTAssertEqual(asked, ["a"])
    }

    func testSingleNodeLastStepIsTheRoot() throws {
        let plan = try F.build(F.pipeline("p", [F.step("a", "t", forEach: true), F.step("b", "u", after: ["a"])]),
                               jobs: ["a": F.objects(#"[{"i": 1}, {"i": 2}]"#)])
        XCTAssertEqual(plan.count, 3)
        XCTAssertEqual(plan.rootIndex, 2)
        XCTAssertEqual(plan.nodes[2].dependencyAccessMap.keys, ["a:0", "a:1"])
    }
}
