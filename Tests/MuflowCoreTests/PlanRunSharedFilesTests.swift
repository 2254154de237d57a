import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

/// Nodes handed out and finished in one list share their executor files: the
/// context.json of the first is linked into the others, and nodes that wrote the same
/// files take the first one's manifest.json as a hard link. Each node still has both
/// names, and removing or breaking them is seen per node.
final class PlanRunSharedFilesTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("planrun-shared")
    }

    override func tearDown() {
        removeTree(directory)
        ManifestMemory.forgetAll()
    }

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

    private func leaves(of plan: TaskPlan) -> [Int] {
        (0..<plan.count).filter { $0 != plan.rootIndex }
    }

    private func path(_ plan: TaskPlan, _ index: Int, _ name: String) -> String {
        plan.nodes[index].storagePrefix.description + "/" + name
    }

    private func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    private func manifestFiles(_ path: String) throws -> [String] {
        let bytes = try FileSystem.readFile(path)
        guard case .object(let object) = try bytes.withUnsafeBytes({ try parseJSON($0) }),
              case .array(let files)? = object["files"] else { return [] }
        return files.compactMap { if case .string(let name) = $0 { return name.description } else { return nil } }
    }

    /// Runs the leaves of `plan` as one list: the leaf at `writer` saves out.txt.
    private func runLeavesTogether(_ plan: TaskPlan, options: RunOptions = RunOptions(), writer: Int) throws {
        let run = try PlanRun(plan: plan, options: options)
        let events = run.next(upTo: 100)
        var handed: [Int] = []
        for event in events {
            guard case .run(let index, let storage) = event else { return XCTFail("unexpected \(event)") }
            if index == writer { try storage.save("out.txt", Array("written".utf8)) }
            handed.append(index)
        }
        XCTAssertEqual(handed, leaves(of: plan))
        try run.finishSucceeded(handed)
    }

    func testNodesFinishedTogetherShareContextAndManifest() throws {
        let plan = try fanIn(6)
        let all = leaves(of: plan)
        try runLeavesTogether(plan, writer: all[2])
        let others = all.filter { $0 != all[2] }
        let contexts = Set(all.map { inode(path(plan, $0, FileNames.context)) })
        XCTAssertEqual(contexts.count, 1, "one context.json, linked into every node of the list")
        XCTAssertEqual(Set(others.map { inode(path(plan, $0, FileNames.manifest)) }).count, 1)
        XCTAssertNotEqual(inode(path(plan, all[2], FileNames.manifest)), inode(path(plan, others[0], FileNames.manifest)),
                          "a node that wrote other files has a manifest of its own")
        XCTAssertEqual(try manifestFiles(path(plan, all[2], FileNames.manifest)), ["context.json", "out.txt"])
        for index in others {
            XCTAssertEqual(try manifestFiles(path(plan, index, FileNames.manifest)), ["context.json"])
        }
        let directories = all.map { plan.nodes[$0].storagePrefix.description }
        XCTAssertEqual(LocalStorage.manifestStates(directories, verify: .sizes), Array(repeating: .complete, count: 6))
        ManifestMemory.forgetAll()
        XCTAssertEqual(LocalStorage.manifestStates(directories, verify: .sizes), Array(repeating: .complete, count: 6),
                       "complete when read from the disk too")
    }

    func testRemovingOneSharedManifestRunsOnlyThatNodeAgain() throws {
        let plan = try fanIn(5)
        let all = leaves(of: plan)
        try runLeavesTogether(plan, writer: -1)
        XCTAssertEqual(unlink(path(plan, all[3], FileNames.manifest)), 0)
        let ran = Locked<[Int]>([])
        let progress = try PlanRun(plan: plan).execute(threads: 1) { _ in { call in ran.withLock { $0.append(call.index) } } }
        XCTAssertEqual(ran.withLock { $0 }, [all[3], plan.rootIndex])
        XCTAssertEqual(progress.cached, 4)
        XCTAssertTrue(all.allSatisfy { inode(path(plan, $0, FileNames.manifest)) != nil })
    }

    func testATruncatedSharedContextIsSeenInEveryNodeSharingIt() throws {
        let plan = try fanIn(4)
        let all = leaves(of: plan)
        try runLeavesTogether(plan, writer: -1)
        XCTAssertEqual(truncate(path(plan, all[0], FileNames.context), 0), 0)
        let directories = all.map { plan.nodes[$0].storagePrefix.description }
        XCTAssertEqual(LocalStorage.manifestStates(directories, verify: .sizes), Array(repeating: .incomplete, count: 4),
                       "the file every node of the list names is cut short")
        let progress = try PlanRun(plan: plan).execute(threads: 1) { _ in { _ in } }
        XCTAssertEqual(progress.succeeded, 5)
        XCTAssertEqual(LocalStorage.manifestStates(directories, verify: .sizes), Array(repeating: .complete, count: 4))
        XCTAssertTrue(all.allSatisfy { FileSystem.fileSize(path(plan, $0, FileNames.context)) == 2 })
    }

    func testDurableStoragesWriteAManifestPerNode() throws {
        let plan = try fanIn(3)
        var options = RunOptions()
        options.durable = true
        try runLeavesTogether(plan, options: options, writer: -1)
        let manifests = Set(leaves(of: plan).map { inode(path(plan, $0, FileNames.manifest)) })
        XCTAssertEqual(manifests.count, 3)
    }

    func testLinkOutcomes() throws {
        let source = directory + "/source"
        let bytes = Array("{}".utf8)
        try bytes.withUnsafeBytes { try FileSystem.writeAtomically(source, $0, durable: false) }
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        XCTAssertEqual(FileSystem.link("source", in: fd, as: "copy", in: fd), .linked)
        XCTAssertEqual(inode(directory + "/copy"), inode(source))
        XCTAssertEqual(FileSystem.link("source", in: fd, as: "copy", in: fd), .exists)
        XCTAssertEqual(FileSystem.link("missing", in: fd, as: "other", in: fd), .unavailable)
        XCTAssertNil(inode(directory + "/other"))
    }

    func testACachedRunSettlesInLongListsButHandsOutNoMoreThanAsked() throws {
        let plan = try fanIn(50)
        _ = try PlanRun(plan: plan).execute(threads: 2) { _ in { _ in } }
        var options = RunOptions()
        options.reportSettledNodes = true
        let reported = try PlanRun(plan: plan, options: options)
        var seen: [Int] = []
        while true {
            let events = reported.next(upTo: 3)
            if events.isEmpty { break }
            XCTAssertLessThanOrEqual(events.count, 3)
            for event in events {
                guard case .cached(let index) = event else { return XCTFail("unexpected \(event)") }
                seen.append(index)
            }
        }
        XCTAssertEqual(seen, leaves(of: plan) + [plan.rootIndex], "every node once, in the serial order")
        let silent = try PlanRun(plan: plan)
        XCTAssertTrue(silent.next(upTo: 1).isEmpty)
        XCTAssertEqual(silent.progress.cached, 51)
        XCTAssertTrue(silent.progress.finished)
    }
}

/// The ManifestMemory's SharedGroups: nodes finished together listing only their
/// context.json are checked with a stat of their directory and two stats per group, and
/// every change to one of them is still seen.
final class SharedGroupCheckTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("shared-groups")
    }

    override func tearDown() {
        removeTree(directory)
        ManifestMemory.forgetAll()
    }

    /// The directories of `count` leaves run and finished as one list (no outputs).
    private func finishedTogether(_ count: Int) throws -> [String] {
        let pipeline = try Pipeline(name: "fan", steps: [
            PipelineStep(name: "leaves", task: "t.leaf", kind: .forEach),
            PipelineStep(name: "sink", task: "t.sink", after: ["leaves"]),
        ])
        let plan = try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil,
                                          options: PlanBuildOptions(basePrefix: JSONString(directory + "/fan"))) { step in
            step.name == "leaves" ? (0..<count).map { JSONObject([("i", .int($0))]) } : [JSONObject()]
        }
        let run = try PlanRun(plan: plan)
        let handed = run.next(upTo: 100).compactMap { event -> Int? in
            if case .run(let index, _) = event { return index } else { return nil }
        }
        XCTAssertEqual(handed.count, count)
        try run.finishSucceeded(handed)
        return handed.map { plan.nodes[$0].storagePrefix.description }
    }

    /// Past the clock tick in which the group was recorded: a rename changes a directory's
    /// modification time only from one tick to the next on a filesystem without
    /// fine-grained timestamps.
    private func nextTick() {
        usleep(30_000)
    }

    private func states(_ directories: [String]) -> [ManifestState] {
        LocalStorage.manifestStates(directories, verify: .sizes)
    }

    func testTheNodesOfAListFormOneGroup() throws {
        let directories = try finishedTogether(5)
        let groups = directories.map { ManifestMemory.recall($0)?.group.map(ObjectIdentifier.init) }
        XCTAssertNotNil(groups[0])
        XCTAssertEqual(Set(groups).count, 1, "one group for the whole list")
        XCTAssertEqual(states(directories), Array(repeating: .complete, count: 5))
    }

    func testARemovedManifestIsSeen() throws {
        let directories = try finishedTogether(4)
        XCTAssertEqual(unlink(directories[2] + "/manifest.json"), 0)
        XCTAssertEqual(states(directories), [.complete, .complete, .absent, .complete])
    }

    func testAManifestRenamedWithinItsDirectoryIsSeen() throws {
        let directories = try finishedTogether(4)
        nextTick()
        XCTAssertEqual(rename(directories[1] + "/manifest.json", directories[1] + "/old.json"), 0)
        XCTAssertEqual(states(directories), [.complete, .absent, .complete, .complete])
    }

    func testAManifestMovedToAnotherNodeIsSeen() throws {
        let directories = try finishedTogether(3)
        nextTick()
        XCTAssertEqual(rename(directories[0] + "/manifest.json", directories[2] + "/kept.json"), 0)
        XCTAssertEqual(states(directories), [.absent, .complete, .complete])
    }

    func testATruncatedContextIsSeenInEveryNode() throws {
        let directories = try finishedTogether(3)
        XCTAssertEqual(truncate(directories[1] + "/context.json", 0), 0)
        XCTAssertEqual(states(directories), Array(repeating: .incomplete, count: 3))
    }

    func testAReplacedContextIsSeenInItsNode() throws {
        let directories = try finishedTogether(3)
        XCTAssertEqual(unlink(directories[0] + "/context.json"), 0)
        let other = directories[0] + "/context.json"
        let file = fopen(other, "wb")!
        fputs("{\"x\": 1}", file)
        fclose(file)
        XCTAssertEqual(states(directories), [.incomplete, .complete, .complete])
    }

    func testANodeDirectoryMovedAwayOrReplacedIsSeen() throws {
        let directories = try finishedTogether(3)
        XCTAssertEqual(rename(directories[0], directories[0] + ".moved"), 0)
        XCTAssertEqual(rename(directories[1], directories[1] + ".moved"), 0)
        XCTAssertEqual(mkdir(directories[1], 0o777), 0)
        XCTAssertEqual(states(directories), [.absent, .absent, .complete])
    }

    func testAnExtraLinkToTheSharedManifestFallsBackToTheFullCheck() throws {
        let directories = try finishedTogether(3)
        XCTAssertEqual(link(directories[0] + "/manifest.json", directory + "/elsewhere.json"), 0)
        XCTAssertEqual(states(directories), Array(repeating: .complete, count: 3))
        XCTAssertEqual(unlink(directories[2] + "/context.json"), 0)
        XCTAssertEqual(states(directories), [.complete, .complete, .incomplete])
    }

    func testAManifestWrittenInPlaceIsSeen() throws {
        let directories = try finishedTogether(3)
        let file = fopen(directories[0] + "/manifest.json", "ab")!
        fputs(" ", file)
        fclose(file)
        XCTAssertEqual(states(directories), Array(repeating: .complete, count: 3),
                       "read again from the disk: a manifest with a trailing space still lists the same sizes")
        XCTAssertNil(ManifestMemory.recall(directories[1])?.group, "and remembered anew, outside the group")
    }
}
