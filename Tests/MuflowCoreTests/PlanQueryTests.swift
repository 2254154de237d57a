import XCTest
@testable import MuflowCore

/// leaf_nodes, ready_nodes, is_complete and the grouped edges a scheduler uses.
final class PlanQueryTests: XCTestCase {
    typealias F = PlanFixture

    /// muflow's ready_nodes, written out directly.
    private func muflowReady(_ plan: TaskPlan, _ completed: Set<JSONString>) -> [Int] {
        plan.nodes.indices.filter { i in
            !completed.contains(plan.nodes[i].key) && plan.nodes[i].dependsOn.allSatisfy { completed.contains($0) }
        }
    }

    func testRunningReadyNodesToCompletionMatchesMuflow() throws {
        for plan in [try F.mlPlan(7), try TaskPlan.fromJSON(Array(PlanExpected.dupForEach.utf8))] {
            var completed = Set<JSONString>()
            var rounds = 0
            while !plan.isComplete(completed: completed) {
                let ready = plan.readyNodes(completed: completed)
                XCTAssertEqual(ready, muflowReady(plan, completed))
                XCTAssertFalse(ready.isEmpty)
                completed.formUnion(ready.map { plan.nodes[$0].key })
                rounds += 1
            }
            XCTAssertEqual(rounds, try plan.levels().count)
            XCTAssertEqual(plan.readyNodes(completed: completed), [])
        }
    }

    func testPartialCompletionWithinAGroup() throws {
        let plan = try F.mlPlan(3)
        let features = Set(plan.leafNodes.prefix(2).map { plan.nodes[$0].key })
        XCTAssertEqual(plan.readyNodes(completed: features), [plan.leafNodes[2]])
    }

    func testLeafNodesAndLevels() throws {
        let plan = try F.mlPlan(3)
        XCTAssertEqual(plan.leafNodes, [0, 1, 2])
        XCTAssertEqual(try plan.levels(), [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9], [10]])
        XCTAssertFalse(plan.isComplete(completed: Set(plan.nodes.dropLast().map(\.key))))
        XCTAssertTrue(plan.isComplete(completed: [plan.rootKey]))
    }

    func testGroupedEdgesCountDistinctDependencies() throws {
        let plan = try TaskPlan.fromJSON(Array(PlanExpected.dupForEach.utf8))
        let groups = plan.dependencyGroups
        // d depends on [x1, x2, x1, x1, x2, x1]: two distinct nodes.
        let d = plan.nodes.firstIndex { $0.function == "u" }!
        XCTAssertEqual(groups.inDegrees[d], 2)
        XCTAssertEqual(groups.groupDependencies[Int(groups.groupOfNode[d])], [0, 1])
        XCTAssertEqual(groups.dependentGroups[0], [groups.groupOfNode[d]])
    }
}
