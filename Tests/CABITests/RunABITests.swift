import CMuflowHeader
import Dispatch
import Glibc
import TestSupport
import XCTest

/// Runs through muflow.h only: C task functions run by mf_run_execute, and the pull API
/// (mf_run_next / mf_run_node_storage / mf_run_finish_node) that Python workers use.
final class RunABITests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("runabi")
    }

    override func tearDown() {
        removeTree(directory)
    }

    // MARK: Helpers

    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        defer { mf_string_free(pointer) }
        return pointer.map { String(cString: $0) }
    }

    private func message() -> String { String(cString: mf_last_error_message()) }

    private func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    private func read(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let n = fread(&buffer, 1, buffer.count, file), n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What the C task functions record, reached through their user_data.
    fileprivate final class Calls: @unchecked Sendable {
        let lock = Locked<[String]>([])
        /// A task name that fails; with `silently` it fails without mf_task_fail.
        var failing: String?
        var silently = false
        /// Cancels this run from inside the first task call.
        var cancelRun: OpaquePointer?

        var names: [String] { lock.withLock { $0 } }
        var count: Int { lock.withLock { $0.count } }
        var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    }

    /// The C task every test attaches: records the call, writes out.txt with its
    /// function, kwargs and dependencies, and fails when asked to.
    static let task: mf_task_fn = { userData, call in
        let calls = Unmanaged<Calls>.fromOpaque(userData!).takeUnretainedValue()
        let function = String(cString: mf_task_call_function(call))
        calls.lock.withLock { $0.append(function) }
        if let run = calls.cancelRun { mf_run_cancel(run) }
        let text = "\(function) \(String(cString: mf_task_call_kwargs_json(call))) \(String(cString: mf_task_call_dependencies_json(call)))"
        let storage = mf_task_call_storage(call)
        var status = Array(text.utf8).withUnsafeBytes { mf_storage_save(storage, "out.txt", $0.baseAddress, $0.count, 0) }
        guard status == MF_OK else { return status }
        // A task may not write its manifest or write a file twice.
        status = mf_storage_save(storage, "manifest.json", "x", 1, 0)
        guard status == MF_ERR_PERMISSION else { return MF_ERR_INTERNAL }
        status = mf_storage_save(storage, "out.txt", "x", 1, 0)
        guard status == MF_ERR_ALREADY_EXISTS else { return MF_ERR_INTERNAL }
        if function == calls.failing {
            if !calls.silently { mf_task_fail(call, "\(function) could not converge") }
            return MF_ERR_IO
        }
        return MF_OK
    }

    private func makeRegistry(_ calls: Calls, attach: [String] = ["t.features", "t.train", "t.report"]) -> OpaquePointer? {
        var registry: OpaquePointer?
        XCTAssertEqual(mf_registry_new(&registry), MF_OK)
        for name in ["t.features", "t.train", "t.report"] {
            XCTAssertEqual(mf_registry_add(registry, #"{"name": "\#(name)", "output_files": ["out.txt"]}"#), MF_OK)
        }
        for name in attach {
            XCTAssertEqual(mf_registry_set_function(registry, name, Self.task, calls.opaque, nil), MF_OK)
        }
        return registry
    }

    /// features (forEach over 3) -> train -> reports (forEach over 2) -> sentinel root:
    /// 3 + 1 + 2 + 1 = 7 nodes.
    private func makePlan(_ registry: OpaquePointer?, lastStepSingle: Bool = false) -> OpaquePointer? {
        var pipeline: OpaquePointer?
        XCTAssertEqual(mf_pipeline_new(&pipeline, "t.pipeline", nil), MF_OK)
        defer { mf_pipeline_free(pipeline) }
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "features", "t.features", MF_STEP_FOREACH, nil), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "train", "t.train", MF_STEP_SINGLE, #"["features"]"#), MF_OK)
        if !lastStepSingle {
            XCTAssertEqual(mf_pipeline_add_step(pipeline, "reports", "t.report", MF_STEP_FOREACH, #"["train"]"#), MF_OK)
            XCTAssertEqual(setJobs(pipeline, "reports", #"[{"format": "pdf"}, {"format": "csv"}]"#), MF_OK)
        }
        XCTAssertEqual(setJobs(pipeline, "features", #"[{"dataset": "a"}, {"dataset": "b"}, {"dataset": "c"}]"#), MF_OK)
        var plan: OpaquePointer?
        let base = directory + "/muflow"
        XCTAssertEqual(mf_pipeline_build(&plan, pipeline, registry, "tag:1", MF_FORMAT_JSON, nil, 0, base, 0, nil, nil),
                       MF_OK, message())
        return plan
    }

    private func setJobs(_ pipeline: OpaquePointer?, _ step: String, _ json: String) -> mf_status {
        Array(json.utf8).withUnsafeBytes { mf_pipeline_set_step_jobs(pipeline, step, MF_FORMAT_JSON, $0.baseAddress, $0.count) }
    }

    private func field(_ plan: OpaquePointer?, _ index: Int, _ field: mf_node_field) -> String {
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_node_field(&out, nil, plan, index, field), MF_OK)
        return take(out) ?? ""
    }

    private func prefix(_ plan: OpaquePointer?, _ index: Int) -> String { field(plan, index, MF_NODE_STORAGE_PREFIX) }

    private func rootIndex(_ plan: OpaquePointer?) -> Int {
        var index = 0
        XCTAssertEqual(mf_plan_node_index(&index, plan, mf_plan_root_key(plan)), MF_OK)
        return index
    }

    private func newRun(_ plan: OpaquePointer?, _ registry: OpaquePointer?, _ policy: mf_failure_policy = MF_FAILURE_STOP,
                        flags: UInt32 = 0) -> OpaquePointer? {
        var run: OpaquePointer?
        XCTAssertEqual(mf_run_new(&run, plan, registry, policy, flags), MF_OK, message())
        return run
    }

    private func progress(_ run: OpaquePointer?) -> mf_run_progress {
        var p = mf_run_progress(); p.size = MemoryLayout<mf_run_progress>.size
        XCTAssertEqual(mf_run_get_progress(&p, run), MF_OK)
        return p
    }

    private func firstFailure(_ run: OpaquePointer?) -> String? {
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_run_first_failure(&out, run), MF_OK)
        return take(out)
    }

    // MARK: mf_run_execute with C tasks

    func testExecuteRunsCTasksThenEverythingIsCached() {
        let calls = Calls()
        let registry = makeRegistry(calls)
        let plan = makePlan(registry)
        defer { mf_plan_free(plan); mf_registry_free(registry) }
        XCTAssertEqual(mf_plan_node_count(plan), 7)

        let run = newRun(plan, registry)
        XCTAssertEqual(mf_run_execute(run, registry, 2), MF_OK, message())
        let p = progress(run)
        XCTAssertEqual([p.total, p.succeeded, p.cached, p.failed, p.skipped, p.running], [7, 7, 0, 0, 0, 0])
        XCTAssertEqual(p.finished, 1)
        XCTAssertEqual(p.cancelled, 0)
        XCTAssertNil(firstFailure(run))
        mf_run_free(run)
        XCTAssertEqual(calls.names.sorted(), ["t.features", "t.features", "t.features", "t.report", "t.report", "t.train"])

        let root = rootIndex(plan)
        for index in 0..<7 {
            let dir = prefix(plan, index)
            XCTAssertTrue(exists(dir + "/manifest.json"), dir)
            XCTAssertTrue(exists(dir + "/context.json"), dir)
            XCTAssertEqual(exists(dir + "/out.txt"), index != root, dir)
            // The manifest's sizes check passes through the C storage API too.
            var storage: OpaquePointer?
            XCTAssertEqual(mf_storage_new(&storage, dir, 0, nil), MF_OK)
            XCTAssertEqual(mf_storage_is_cached(storage, MF_CACHE_CHECK_SIZES), 1)
            mf_storage_free(storage)
        }
        // The task saw its kwargs and its dependencies' directories by access key.
        let train = (0..<7).first { field(plan, $0, MF_NODE_FUNCTION) == "t.train" }!
        let seen = read(prefix(plan, train) + "/out.txt") ?? ""
        XCTAssertTrue(seen.hasPrefix("t.train {} {"), seen)
        for i in 0..<3 {
            XCTAssertTrue(seen.contains(#""features:\#(i)":"\#(prefix(plan, i))""#), seen)
        }
        XCTAssertTrue((read(prefix(plan, 0) + "/out.txt") ?? "").contains(#"{"dataset":"a"}"#))

        // Second run: every node cached, no task called.
        let again = newRun(plan, registry)
        XCTAssertEqual(mf_run_execute(again, registry, 0), MF_OK, message())
        let q = progress(again)
        XCTAssertEqual([q.total, q.succeeded, q.cached, q.failed], [7, 0, 7, 0])
        XCTAssertEqual(calls.count, 6)
        mf_run_free(again)
    }

    func testFailingTaskWritesErrorJSONAndStopsTheRun() {
        let calls = Calls()
        calls.failing = "t.train"
        let registry = makeRegistry(calls)
        let plan = makePlan(registry)
        defer { mf_plan_free(plan); mf_registry_free(registry) }
        let run = newRun(plan, registry)
        defer { mf_run_free(run) }
        XCTAssertEqual(mf_run_execute(run, registry, 1), MF_ERR_TASK_FAILED)
        XCTAssertEqual(message(), "Node t.train failed: t.train could not converge")
        XCTAssertEqual(firstFailure(run), "Node t.train failed: t.train could not converge")
        let p = progress(run)
        XCTAssertEqual([p.succeeded, p.failed, p.skipped, p.running], [3, 1, 3, 0])
        XCTAssertEqual(p.finished, 1)
        XCTAssertEqual(calls.names, ["t.features", "t.features", "t.features", "t.train"])
        let train = prefix(plan, 3)
        XCTAssertFalse(exists(train + "/manifest.json"))
        let error = read(train + "/error.json") ?? ""
        XCTAssertTrue(error.contains(#""error_message": "t.train could not converge""#), error)
        XCTAssertTrue(error.contains(#""error_traceback": """#), error)
        XCTAssertTrue(error.contains(#""partial_manifest": {"#) && error.contains(#""out.txt""#), error)

        // A failure without mf_task_fail names the status; the retry reruns only train
        // (features are cached) and fails again.
        calls.silently = true
        let retry = newRun(plan, registry)
        defer { mf_run_free(retry) }
        XCTAssertEqual(mf_run_execute(retry, registry, 2), MF_ERR_TASK_FAILED)
        XCTAssertEqual(firstFailure(retry), "Node t.train failed: task returned MF_ERR_IO")
        XCTAssertEqual(progress(retry).cached, 3)
    }

    func testContinueIndependentAndMissingFunction() {
        // t.report has no C function: its nodes fail, the rest of the plan completes.
        let calls = Calls()
        let registry = makeRegistry(calls, attach: ["t.features", "t.train"])
        let plan = makePlan(registry)
        defer { mf_plan_free(plan); mf_registry_free(registry) }
        let run = newRun(plan, registry, MF_FAILURE_CONTINUE_INDEPENDENT)
        defer { mf_run_free(run) }
        XCTAssertEqual(mf_run_execute(run, registry, 2), MF_ERR_TASK_FAILED)
        XCTAssertEqual(message(), "Node t.report failed: task 't.report' has no implementation")
        let p = progress(run)
        XCTAssertEqual([p.succeeded, p.failed, p.skipped], [4, 2, 1])
    }

    func testAPlanWithUnregisteredTasksDoesNotStart() {
        let calls = Calls()
        let registry = makeRegistry(calls)
        let plan = makePlan(registry)
        defer { mf_plan_free(plan); mf_registry_free(registry) }
        var found: Int32 = 0
        var sentinel = 0
        XCTAssertEqual(mf_plan_sentinel_index(&found, &sentinel, plan), MF_OK)
        XCTAssertEqual(found, 1)
        XCTAssertEqual(sentinel, rootIndex(plan))
        XCTAssertEqual(mf_plan_check_tasks(plan, registry), MF_OK, message())

        var partial: OpaquePointer?
        XCTAssertEqual(mf_registry_new(&partial), MF_OK)
        defer { mf_registry_free(partial) }
        XCTAssertEqual(mf_registry_set_function(partial, "t.features", Self.task, calls.opaque, nil), MF_OK)
        XCTAssertEqual(mf_plan_check_tasks(plan, partial), MF_ERR_MISSING_TASK)
        var run: OpaquePointer?
        XCTAssertEqual(mf_run_new(&run, plan, partial, MF_FAILURE_STOP, 0), MF_ERR_MISSING_TASK)
        XCTAssertNil(run)
        XCTAssertEqual(String(cString: mf_status_name(MF_ERR_MISSING_TASK)), "MF_ERR_MISSING_TASK")
        let text = message()
        XCTAssertTrue(text.hasPrefix("2 tasks that this plan uses are not registered: 't.train' (step 'train'; 1 node), "
                                     + "'t.report' (step 'reports'; 2 nodes)."), text)
        XCTAssertFalse(exists(directory + "/muflow"), "nothing ran")
        XCTAssertEqual(calls.count, 0)
    }

    func testRootWithAnAttachedFunctionIsNotABuiltIn() {
        // features -> train, train being the root: a function attached without a
        // descriptor must still run (only a root without a task is a no-op).
        let calls = Calls()
        var registry: OpaquePointer?
        XCTAssertEqual(mf_registry_new(&registry), MF_OK)
        XCTAssertEqual(mf_registry_set_function(registry, "t.features", Self.task, calls.opaque, nil), MF_OK)
        XCTAssertEqual(mf_registry_set_function(registry, "t.train", Self.task, calls.opaque, nil), MF_OK)
        let plan = makePlan(registry, lastStepSingle: true)
        defer { mf_plan_free(plan); mf_registry_free(registry) }
        XCTAssertEqual(field(plan, rootIndex(plan), MF_NODE_FUNCTION), "t.train")
        let run = newRun(plan, registry)
        defer { mf_run_free(run) }
        XCTAssertEqual(mf_run_execute(run, registry, 1), MF_OK, message())
        XCTAssertEqual(calls.names, ["t.features", "t.features", "t.features", "t.train"])
        XCTAssertTrue(exists(prefix(plan, rootIndex(plan)) + "/out.txt"))
    }

    func testCancelFromATaskStopsTheRun() {
        let calls = Calls()
        let registry = makeRegistry(calls)
        let plan = makePlan(registry)
        defer { mf_plan_free(plan); mf_registry_free(registry) }
        let run = newRun(plan, registry)
        defer { mf_run_free(run) }
        calls.cancelRun = run
        XCTAssertEqual(mf_run_execute(run, registry, 1), MF_ERR_CANCELLED)
        let p = progress(run)
        XCTAssertEqual([p.succeeded, p.skipped, p.running], [1, 6, 0])
        XCTAssertEqual(p.cancelled, 1)
        XCTAssertEqual(p.finished, 1)
        XCTAssertEqual(calls.count, 1)
    }

    // MARK: The pull API

    /// Drains a run on the calling thread; returns the events as (kind, index).
    private func pull(_ run: OpaquePointer?, fail: Set<Int> = []) -> [(mf_event_kind, Int)] {
        var events: [(mf_event_kind, Int)] = []
        while true {
            var kind = MF_EVENT_DONE
            var index = 0
            XCTAssertEqual(mf_run_next(&kind, &index, run), MF_OK)
            if kind == MF_EVENT_DONE { return events }
            events.append((kind, index))
            guard kind == MF_EVENT_RUN else { continue }
            var storage: OpaquePointer?
            XCTAssertEqual(mf_run_node_storage(&storage, run, index), MF_OK)
            XCTAssertEqual(mf_storage_save(storage, "py.txt", "ok", 2, 0), MF_OK)
            mf_storage_free(storage)
            if fail.contains(index) {
                XCTAssertEqual(mf_run_finish_node(run, index, 0, "ValueError: bad", "Traceback (most recent call last):\n"), MF_OK)
            } else {
                XCTAssertEqual(mf_run_finish_node(run, index, 1, nil, nil), MF_OK)
            }
        }
    }

    func testPullAPIAndSettledEventsOnARerun() {
        let plan = makePlan(nil)
        defer { mf_plan_free(plan) }
        let root = rootIndex(plan)

        // A fresh run hands out every node but the built-in root.
        let run = newRun(plan, nil)
        let events = pull(run)
        XCTAssertTrue(events.allSatisfy { $0.0 == MF_EVENT_RUN })
        XCTAssertEqual(events.map(\.1), [0, 1, 2, 3, 4, 5], "muflow's wave order on one worker")
        XCTAssertEqual(progress(run).succeeded, 7)
        XCTAssertTrue(exists(prefix(plan, root) + "/manifest.json"))
        XCTAssertEqual(read(prefix(plan, 4) + "/py.txt"), "ok")
        // Once done, mf_run_next keeps answering DONE.
        var kind = MF_EVENT_RUN
        var index = 99
        XCTAssertEqual(mf_run_next(&kind, &index, run), MF_OK)
        XCTAssertEqual(kind, MF_EVENT_DONE)
        mf_run_free(run)

        // A rerun reporting settled nodes hands out each as MF_EVENT_CACHED.
        let rerun = newRun(plan, nil, flags: UInt32(MF_RUN_REPORT_SETTLED))
        let settled = pull(rerun)
        XCTAssertEqual(settled.count, 7)
        XCTAssertTrue(settled.allSatisfy { $0.0 == MF_EVENT_CACHED })
        XCTAssertEqual(Set(settled.map(\.1)), Set(0..<7))
        XCTAssertEqual(progress(rerun).cached, 7)
        mf_run_free(rerun)

        // With only the root to do, it comes out as MF_EVENT_BUILT_IN.
        removeTree(prefix(plan, root))
        let rootOnly = newRun(plan, nil, flags: UInt32(MF_RUN_REPORT_SETTLED))
        let last = pull(rootOnly)
        XCTAssertEqual(last.last?.0, MF_EVENT_BUILT_IN)
        XCTAssertEqual(last.last?.1, root)
        XCTAssertEqual(last.filter { $0.0 == MF_EVENT_CACHED }.count, 6)
        mf_run_free(rootOnly)
    }

    func testPullFailureAndNodesThatAreNotRunning() {
        let plan = makePlan(nil)
        defer { mf_plan_free(plan) }
        let run = newRun(plan, nil)
        defer { mf_run_free(run) }

        var storage: OpaquePointer?
        XCTAssertEqual(mf_run_node_storage(&storage, run, 0), MF_ERR_NOT_FOUND)
        XCTAssertNil(storage)
        XCTAssertEqual(mf_run_finish_node(run, 0, 1, nil, nil), MF_ERR_NOT_FOUND)
        XCTAssertEqual(message(), "node 0 is not running")

        var kind = MF_EVENT_DONE
        var index = 0
        XCTAssertEqual(mf_run_next(&kind, &index, run), MF_OK)
        XCTAssertEqual(kind, MF_EVENT_RUN)
        XCTAssertEqual(index, 0)
        XCTAssertEqual(mf_run_finish_node(run, 1, 1, nil, nil), MF_ERR_NOT_FOUND, "node 1 was not handed out")
        XCTAssertEqual(mf_run_finish_node(run, 0, 0, "ValueError: bad", "Traceback (most recent call last):\n"), MF_OK)
        XCTAssertEqual(mf_run_finish_node(run, 0, 1, nil, nil), MF_ERR_NOT_FOUND, "a node is finished once")
        XCTAssertEqual(mf_run_next(&kind, &index, run), MF_OK)
        XCTAssertEqual(kind, MF_EVENT_DONE, "stop on first failure")
        let p = progress(run)
        XCTAssertEqual([p.failed, p.skipped, p.succeeded], [1, 6, 0])
        XCTAssertEqual(firstFailure(run), "Node t.features failed: ValueError: bad")
        let error = read(prefix(plan, 0) + "/error.json") ?? ""
        XCTAssertTrue(error.contains(#""error_traceback": "Traceback (most recent call last):\n""#), error)
        XCTAssertFalse(exists(prefix(plan, 0) + "/manifest.json"))
    }

    func testPullCancelAndConcurrentWorkers() {
        let plan = makePlan(nil)
        defer { mf_plan_free(plan) }

        // Cancel while a node runs: nothing more is handed out, the node still finishes.
        let run = newRun(plan, nil)
        var kind = MF_EVENT_DONE
        var index = 0
        XCTAssertEqual(mf_run_next(&kind, &index, run), MF_OK)
        mf_run_cancel(run)
        var other = MF_EVENT_RUN
        var otherIndex = 0
        XCTAssertEqual(mf_run_next(&other, &otherIndex, run), MF_OK)
        XCTAssertEqual(other, MF_EVENT_DONE)
        XCTAssertEqual(progress(run).finished, 0)
        XCTAssertEqual(mf_run_finish_node(run, index, 1, nil, nil), MF_OK)
        let p = progress(run)
        XCTAssertEqual([p.succeeded, p.skipped], [1, 6])
        XCTAssertEqual([p.cancelled, p.finished], [1, 1])
        mf_run_free(run)

        // Three workers pull concurrently (after the cancel, node 0 is cached): each
        // node is handed out once.
        let shared = newRun(plan, nil, flags: UInt32(MF_RUN_REPORT_SETTLED))
        let seen = Locked<[Int]>([])
        let box = UnsafeSendable(shared)
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            while true {
                var kind = MF_EVENT_DONE
                var index = 0
                guard mf_run_next(&kind, &index, box.value) == MF_OK, kind != MF_EVENT_DONE else { return }
                seen.withLock { $0.append(index) }
                if kind == MF_EVENT_RUN {
                    usleep(1000)
                    _ = mf_run_finish_node(box.value, index, 1, nil, nil)
                }
            }
        }
        XCTAssertEqual(seen.withLock { $0 }.sorted(), Array(0..<7))
        let q = progress(shared)
        XCTAssertEqual([q.cached, q.succeeded], [1, 6])
        XCTAssertEqual(q.finished, 1)
        mf_run_free(shared)
    }

    func testListsOfNodesFinishedAndGivenBackTogether() {
        let plan = makePlan(nil)
        defer { mf_plan_free(plan) }
        let run = newRun(plan, nil)
        defer { mf_run_free(run) }
        var kinds = [mf_event_kind](repeating: MF_EVENT_DONE, count: 8)
        var indices = [Int](repeating: 99, count: 8)
        var count = 0

        // The three features are ready: a list takes them, in order, and no deeper node.
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 1), MF_OK, message())
        XCTAssertEqual(count, 3)
        XCTAssertEqual(Array(indices[0..<3]), [0, 1, 2])
        XCTAssertTrue(kinds[0..<3].allSatisfy { $0 == MF_EVENT_RUN })
        XCTAssertTrue((0..<3).allSatisfy { exists(prefix(plan, $0) + "/context.json") })

        // Finishing a list that holds a node not running finishes none of it.
        XCTAssertEqual(mf_run_finish_nodes(run, [0, 5], 2), MF_ERR_NOT_FOUND)
        XCTAssertEqual(message(), "node 5 is not running")
        XCTAssertEqual(mf_run_finish_nodes(run, [0, 0], 2), MF_ERR_NOT_FOUND, "a node is finished once")
        XCTAssertEqual(progress(run).running, 3)

        // Two finish together; the third is given back, clean, and handed out again.
        XCTAssertEqual(mf_run_finish_nodes(run, [0, 1], 2), MF_OK, message())
        XCTAssertTrue(exists(prefix(plan, 1) + "/manifest.json"))
        XCTAssertEqual(mf_run_return_nodes(run, [2], 1), MF_OK, message())
        XCTAssertFalse(exists(prefix(plan, 2) + "/context.json"))
        XCTAssertEqual(mf_run_return_nodes(run, [2], 1), MF_ERR_NOT_FOUND, "a node given back is not running")
        XCTAssertEqual(progress(run).running, 0)
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 1), MF_OK)
        XCTAssertEqual(count, 1)
        XCTAssertEqual(indices[0], 2)
        XCTAssertEqual(mf_run_finish_nodes(run, [2], 1), MF_OK)

        // A list is a share of the ready nodes: two reports among two workers, one each.
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 1), MF_OK)
        XCTAssertEqual(Array(indices[0..<count]), [3], "train")
        XCTAssertEqual(mf_run_finish_nodes(run, [3], 1), MF_OK)
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 2), MF_OK)
        XCTAssertEqual(Array(indices[0..<count]), [4])
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 2), MF_OK)
        XCTAssertEqual(Array(indices[0..<count]), [5])
        XCTAssertEqual(mf_run_finish_nodes(run, [4, 5], 2), MF_OK)
        XCTAssertEqual(mf_run_finish_nodes(run, nil, 0), MF_OK, "an empty list is fine")

        // The built-in root settles inside the call: the run is over.
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 1), MF_OK)
        XCTAssertEqual(count, 0)
        let p = progress(run)
        XCTAssertEqual(p.succeeded, 7)
        XCTAssertEqual(p.finished, 1)

        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 0, 1), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 8, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_next_nodes(nil, &indices, &count, run, 8, 1), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, nil, 8, 1), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_finish_nodes(run, nil, 1), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_return_nodes(nil, [1], 1), MF_ERR_INVALID_ARGUMENT)
    }

    func testNodesGivenBackAfterAFailureAreSkipped() {
        let plan = makePlan(nil)
        defer { mf_plan_free(plan) }
        let run = newRun(plan, nil)
        defer { mf_run_free(run) }
        var kinds = [mf_event_kind](repeating: MF_EVENT_DONE, count: 4)
        var indices = [Int](repeating: 0, count: 4)
        var count = 0
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 4, 1), MF_OK)
        XCTAssertEqual(count, 3)
        XCTAssertEqual(mf_run_finish_node(run, 0, 0, "ValueError: bad", ""), MF_OK)
        XCTAssertEqual(mf_run_return_nodes(run, [1, 2], 2), MF_OK)
        XCTAssertEqual(mf_run_next_nodes(&kinds, &indices, &count, run, 4, 1), MF_OK)
        XCTAssertEqual(count, 0, "stop on first failure")
        let p = progress(run)
        XCTAssertEqual([p.failed, p.skipped, p.succeeded], [1, 6, 0])
        XCTAssertEqual(p.finished, 1)
        XCTAssertFalse(exists(prefix(plan, 1) + "/context.json"))
    }

    // MARK: Argument errors

    func testNullArgumentsAreInvalidNotCrashes() {
        let calls = Calls()
        let registry = makeRegistry(calls)
        let plan = makePlan(registry)
        let run = newRun(plan, registry)
        defer { mf_run_free(run); mf_plan_free(plan); mf_registry_free(registry) }
        var out: OpaquePointer?
        var kind = MF_EVENT_DONE
        var index = 0
        var p = mf_run_progress(); p.size = MemoryLayout<mf_run_progress>.size
        var text: UnsafeMutablePointer<CChar>?

        XCTAssertEqual(mf_run_new(nil, plan, registry, MF_FAILURE_STOP, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_new(&out, nil, registry, MF_FAILURE_STOP, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_new(&out, plan, registry, mf_failure_policy(rawValue: 7), 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertNil(out)
        XCTAssertEqual(mf_run_next(&kind, &index, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_next(nil, &index, run), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_next(&kind, nil, run), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_node_storage(nil, run, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_node_storage(&out, nil, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_finish_node(nil, 0, 1, nil, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_get_progress(&p, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_get_progress(nil, run), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_first_failure(nil, run), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_first_failure(&text, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_execute(nil, registry, 1), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_run_execute(run, nil, 1), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_registry_set_function(nil, "t.x", Self.task, nil, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_registry_set_function(registry, nil, Self.task, nil, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_registry_set_function(registry, "t.x", nil, nil, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertFalse(message().isEmpty)
        mf_run_cancel(nil)
        mf_run_free(nil)
        XCTAssertEqual(mf_task_call_index(nil), 0)
        XCTAssertEqual(String(cString: mf_task_call_function(nil)), "")
        XCTAssertEqual(String(cString: mf_task_call_kwargs_json(nil)), "{}")
        XCTAssertEqual(String(cString: mf_task_call_dependencies_json(nil)), "{}")
        XCTAssertNil(mf_task_call_storage(nil))
        mf_task_fail(nil, "ignored")
        // The run is untouched by all of that.
        XCTAssertEqual(progress(run).running, 0)
        XCTAssertEqual(mf_run_execute(run, registry, 1), MF_OK, message())
    }
}

/// Hands a C handle to concurrent closures (the header makes every run function
/// callable from any thread).
private struct UnsafeSendable: @unchecked Sendable {
    let value: OpaquePointer?
    init(_ value: OpaquePointer?) { self.value = value }
}

/// A value behind a pthread mutex. Used rather than Synchronization's Mutex because
/// ThreadSanitizer does not see the happens-before edge of a contended Mutex on Linux
/// (its slow path hands the lock over in the kernel's futex code) and reports false
/// races; these tests run under TSan.
fileprivate final class Locked<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
