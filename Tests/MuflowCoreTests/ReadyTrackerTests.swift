import XCTest
@testable import MuflowCore

/// ReadyTracker against TaskPlan.readyNodes(completed:) on random plans and random
/// changes of the completed set.
final class ReadyTrackerTests: XCTestCase {
    /// SplitMix64, so that a failure repeats.
    private struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A plan of `count` nodes filed under "k<i>", each depending on some earlier ones;
    /// with `ownKeys`, some nodes' own key differs from their filing key (another
    /// node's filing key, a shared key, or a key of no node).
    private func randomPlan(_ count: Int, ownKeys: Bool, _ random: inout Random) throws -> TaskPlan {
        var nodes: [String] = []
        for i in 0..<count {
            var dependencies = Set<Int>()
            if i > 0 {
                for _ in 0..<Int.random(in: 0...3, using: &random) { dependencies.insert(Int.random(in: 0..<i, using: &random)) }
            }
            var own = "k\(i)"
            if ownKeys && Int.random(in: 0..<3, using: &random) == 0 {
                own = ["k\(Int.random(in: 0..<count, using: &random))", "shared", "stray\(i)"][Int.random(in: 0..<3, using: &random)]
            }
            let depends = dependencies.sorted().map { "\"k\($0)\"" }.joined(separator: ",")
            nodes.append(#""k\#(i)":{"key":"\#(own)","function":"f","subject_key":"s","kwargs":{},"storage_prefix":"p\#(i)","depends_on":[\#(depends)],"depended_on_by":[],"output_files":[],"analysis_id":null,"dependency_access_map":{}}"#)
        }
        let json = #"{"nodes":{\#(nodes.joined(separator: ","))},"root_key":"k\#(count - 1)"}"#
        return try TaskPlan.fromJSON(Array(json.utf8))
    }

    func testAgreesWithReadyNodesUnderRandomChanges() throws {
        var random = Random(state: 15)
        for round in 0..<200 {
            let plan = try randomPlan(Int.random(in: 1...12, using: &random), ownKeys: round % 2 == 1, &random)
            var tracker = ReadyTracker(plan: plan)
            var completed = Set<JSONString>()
            let candidates = plan.entryKeys + plan.nodes.map(\.key) + ["unrelated", "shared"]
            XCTAssertEqual(tracker.ready, plan.readyNodes(completed: completed))
            for _ in 0..<30 {
                switch Int.random(in: 0..<4, using: &random) {
                case 0 where !completed.isEmpty:
                    let key = completed.randomElement(using: &random)!
                    completed.remove(key)
                    tracker.remove(key)
                case 1:
                    let ready = tracker.ready
                    for node in ready { tracker.addKey(ofNode: node); completed.insert(plan.nodes[node].key) }
                default:
                    let key = candidates.randomElement(using: &random)!
                    completed.insert(key)
                    tracker.add(key)
                }
                XCTAssertEqual(tracker.ready, plan.readyNodes(completed: completed), "round \(round), completed \(completed)")
            }
        }
    }

    func testRepeatedChangesAreIdempotent() throws {
        var random = Random(state: 7)
        let plan = try randomPlan(6, ownKeys: false, &random)
        var tracker = ReadyTracker(plan: plan)
        tracker.add("k0")
        tracker.add("k0")
        tracker.remove("k1")
        XCTAssertEqual(tracker.ready, plan.readyNodes(completed: ["k0"]))
        tracker.remove("k0")
        tracker.remove("k0")
        XCTAssertEqual(tracker.ready, plan.readyNodes(completed: []))
    }
}
