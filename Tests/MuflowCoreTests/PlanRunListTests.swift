import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

/// PlanRun handing out lists of nodes (`next(upTo:)`), finishing and giving them back
/// together, and the checks it makes when it claims a node.
final class PlanRunListTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("planrun-lists")
    }

    override func tearDown() {
        removeTree(directory)
    }

    /// `count` leaves (node i has kwargs {"i": i}) and a sink that depends on all.
    private func fanIn(_ count: Int) throws -> TaskPlan {
        let pipeline = try Pipeline(name: "fan", steps: [
            PipelineStep(name: "leaves", task: "t.leaf", kind: .forEach),
            PipelineStep(name: "sink", task: "t.sink", after: ["leaves"]),
        ])
        return try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil,
                                      options: PlanBuildOptions(basePrefix: JSONString(directory + "/fan"))) { step in
            step.name == "leaves" ? (0..<count).map { JSONObject([("i", .int($0))]) } : [JSONObject()]
        }
    }

    private func runIndices(_ events: [RunEvent]) -> [Int] {
        events.compactMap { if case .run(let index, _) = $0 { return index } else { return nil } }
    }

    private func path(_ plan: TaskPlan, _ index: Int, _ name: String) -> String {
        plan.nodes[index].storagePrefix.description + "/" + name
    }

    private func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    private func write(_ path: String, _ text: String) {
        let file = fopen(path, "wb")!
        fputs(text, file)
        fclose(file)
    }

    func testListsKeepTheSerialOrderAndFinishTogether() throws {
        let plan = try fanIn(10)
        let sink = plan.rootIndex
        let leaves = (0..<plan.count).filter { $0 != sink }
        let run = try PlanRun(plan: plan)
        let first = runIndices(run.next(upTo: 4))
        XCTAssertEqual(first, Array(leaves[0..<4]))
        let rest = runIndices(run.next(upTo: 100))
        XCTAssertEqual(rest, Array(leaves[4...]), "the other leaves, and not the sink")
        XCTAssertEqual(run.progress.running, 10)
        try run.finishSucceeded(first + rest)
        XCTAssertTrue((first + rest).allSatisfy { exists(path(plan, $0, FileNames.manifest)) })
        XCTAssertEqual(runIndices(run.next(upTo: 100)), [sink])
        try run.finish(sink, error: nil)
        XCTAssertTrue(run.next(upTo: 100).isEmpty)
        XCTAssertEqual(run.progress.succeeded, 11)
        XCTAssertTrue(run.progress.finished)
    }

    func testAShareOfTheReadyNodesPerWorker() throws {
        let run = try PlanRun(plan: try fanIn(10))
        XCTAssertEqual(run.next(upTo: 100, workers: 4).count, 3, "10 ready among 4 workers: 3 each at most")
        XCTAssertEqual(run.next(upTo: 100, workers: 4).count, 2, "7 ready among 4 workers: 2")
        XCTAssertEqual(run.next(upTo: 1, workers: 1).count, 1)
    }

    func testNodesGivenBackAreCleanAndHandedOutAgainFirst() throws {
        let plan = try fanIn(5)
        let run = try PlanRun(plan: plan)
        let list = runIndices(run.next(upTo: 3))
        XCTAssertEqual(list.count, 3)
        try run.putBack(Array(list[1...]))
        XCTAssertTrue(exists(path(plan, list[0], FileNames.context)))
        XCTAssertFalse(exists(path(plan, list[1], FileNames.context)), "a node given back keeps no context.json")
        XCTAssertThrowsError(try run.putBack([list[1]])) { XCTAssertEqual(($0 as? MuflowError)?.kind, .notFound) }
        XCTAssertEqual(Array(runIndices(run.next(upTo: 2))), Array(list[1...]))
        XCTAssertThrowsError(try run.finishSucceeded([list[0], 999])) {
            XCTAssertEqual(($0 as? MuflowError)?.message, "node 999 is not running")
        }
        XCTAssertEqual(run.progress.running, 3, "a list with a node that is not running finishes none")
    }

    func testNodesGivenBackAfterAFailureCountAsSkipped() throws {
        let plan = try fanIn(5)
        let run = try PlanRun(plan: plan)
        let list = runIndices(run.next(upTo: 5))
        try run.finish(list[0], error: ("bad", "trace"))
        try run.putBack(Array(list[1...]))
        XCTAssertTrue(run.next(upTo: 5).isEmpty)
        let progress = run.progress
        XCTAssertEqual([progress.failed, progress.skipped, progress.succeeded], [1, 5, 0])
        XCTAssertTrue(progress.finished)
        XCTAssertTrue(exists(path(plan, list[0], FileNames.error)))
        XCTAssertFalse(exists(path(plan, list[1], FileNames.context)))
    }

    func testANodeHeldElsewhereEndsTheListAndIsWaitedForByItself() throws {
        let plan = try fanIn(4)
        let held = 2
        let heldDirectory = plan.nodes[held].storagePrefix.description
        try FileSystem.makeDirectories(heldDirectory)
        let claim = try NodeClaim(directory: heldDirectory)
        let run = try PlanRun(plan: plan)
        XCTAssertEqual(runIndices(run.next(upTo: 10)), [0, 1], "a list stops at a node it would have to wait for")
        XCTAssertEqual(run.progress.running, 2)
        let releaser = WorkerThread {
            usleep(50_000)
            claim.release()
        }
        XCTAssertEqual(runIndices(run.next(upTo: 10)), [held, 3], "waited for alone, with nothing else claimed")
        releaser.join()
    }

    func testANodeCompletedElsewhereAfterTheStartIsNotRunAgain() throws {
        let plan = try fanIn(2)
        let run = try PlanRun(plan: plan, options: { var o = RunOptions(); o.reportSettledNodes = true; return o }())
        // Another runner completes node 0 (as muflow writes a node) after this run's check.
        try FileSystem.makeDirectories(plan.nodes[0].storagePrefix.description)
        write(path(plan, 0, FileNames.context), "{}")
        write(path(plan, 0, FileNames.manifest), #"{"files": ["context.json"], "timestamp": "t"}"#)
        guard case .cached(0)? = run.next(upTo: 1).first else { return XCTFail("node 0 is cached") }
        XCTAssertEqual(runIndices(run.next(upTo: 1)), [1])
    }

    func testATornNodeWithoutItsContextLosesItsStaleManifestBeforeItRuns() throws {
        let plan = try fanIn(2)
        let first = try PlanRun(plan: plan)
        first.execute(threads: 1) { _ in { call in try call.storage.save("out.txt", Array("ok".utf8)) } }
        XCTAssertEqual(unlink(path(plan, 0, FileNames.context)), 0)

        let run = try PlanRun(plan: plan)
        let manifestSeen = Locked<[Bool]>([])
        let progress = run.execute(threads: 1) { _ in
            { call in
                manifestSeen.withLock { $0.append(access(call.storage.path(of: FileNames.manifest), F_OK) == 0) }
                try call.storage.save("out.txt", Array("ok".utf8))
            }
        }
        XCTAssertEqual(manifestSeen.withLock { $0 }, [false], "only the torn node ran, without its stale manifest")
        XCTAssertEqual(progress.succeeded, 1)
        XCTAssertEqual(progress.cached, 2)
        XCTAssertTrue(exists(path(plan, 0, FileNames.context)))
        XCTAssertTrue(LocalStorage.manifestComplete(in: plan.nodes[0].storagePrefix.description, verify: .sizes))
    }

    func testCacheChecksOfManyDirectoriesAgreeWithOneByOne() throws {
        let plan = try fanIn(600)
        _ = try PlanRun(plan: plan).execute(threads: 2) { _ in { _ in } }
        let directories = plan.nodes.map { $0.storagePrefix.description }
        XCTAssertEqual(truncate(path(plan, 7, FileNames.context), 0), 0)
        XCTAssertEqual(unlink(path(plan, 9, FileNames.manifest)), 0)
        let missing = directory + "/absent/t.leaf/0123456789abcdef"
        let states = LocalStorage.manifestStates(directories + [missing, "relative-absent"], verify: .sizes)
        XCTAssertEqual(states.count, 601 + 2)
        XCTAssertEqual(states[7], .incomplete)
        XCTAssertEqual(states[9], .absent)
        XCTAssertEqual(Array(states[601...]), [.absent, .absent])
        XCTAssertEqual(states.filter { $0 == .complete }.count, 599)
        for (i, directory) in directories.enumerated() {
            XCTAssertEqual(states[i] == .complete, LocalStorage.manifestComplete(in: directory, verify: .sizes), "\(i)")
        }
        XCTAssertEqual(LocalStorage.manifestsComplete(directories, verify: .presence).filter { $0 }.count, 600)
    }
}
