import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

/// PlanRun end to end: plans built with the Swift builder (or read from plan JSON),
/// executed on local directories with Swift closures as task bodies.
final class PlanRunTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("planrun")
    }

    override func tearDown() {
        removeTree(directory)
    }

    // MARK: Fixtures

    /// The seed's ML pipeline: features (forEach) -> train, loo_cv (forEach) -> reports
    /// (forEach) -> the sentinel root muflow's builder adds.
    private func mlPlan(_ datasets: [String], base: String? = nil) throws -> TaskPlan {
        let pipeline = try Pipeline(name: "ml.pipeline", steps: [
            PipelineStep(name: "features", task: "ml.features", kind: .forEach),
            PipelineStep(name: "train", task: "ml.train", after: ["features"]),
            PipelineStep(name: "loo_cv", task: "ml.loo", kind: .forEach, after: ["features"]),
            PipelineStep(name: "reports", task: "ml.report", kind: .forEach, after: ["train", "loo_cv"]),
        ])
        let list = JSONValue.array(datasets.map { .string(JSONString($0)) })
        let registry = TaskRegistry()
        try registry.add(TaskDescriptor(name: "ml.features", identityKeys: ["dataset"], outputFiles: ["features.json"]))
        try registry.add(TaskDescriptor(name: "ml.train", outputFiles: ["model.json"]))
        try registry.add(TaskDescriptor(name: "ml.loo", outputFiles: ["cv.json"]))
        try registry.add(TaskDescriptor(name: "ml.report", outputFiles: ["report.txt"]))
        return try pipeline.buildPlan(subjectKey: "tag:1", kwargs: JSONObject([("datasets", list)]), registry: registry,
                                      options: PlanBuildOptions(basePrefix: JSONString(base ?? directory + "/muflow"))) { step in
            switch step.name {
            case "features": return datasets.map { JSONObject([("dataset", .string(JSONString($0)))]) }
            case "loo_cv": return datasets.indices.map { JSONObject([("leave_out_index", .int($0)), ("datasets", list)]) }
            case "reports": return ["pdf", "xlsx", "csv"].map { JSONObject([("format", .string(JSONString($0)))]) }
            default: return [JSONObject()]
            }
        }
    }

    /// Bodies for the ML plan that do small real work and count their calls; `failing`
    /// names tasks that write a partial file and then throw.
    private final class MLTasks: Sendable {
        let calls = Locked<[String: Int]>([:])
        let failing: Set<String>

        init(failing: Set<String> = []) { self.failing = failing }

        var total: Int { calls.withLock { $0.values.reduce(0, +) } }

        func body(_ function: JSONString) -> TaskBody? {
            let name = function.description
            return { [self] call in
                calls.withLock { $0[name, default: 0] += 1 }
                if failing.contains(name) {
                    try call.storage.save("partial.txt", Array("half".utf8))
                    throw MuflowError(.taskFailed, "\(name) refused to run")
                }
                switch name {
                case "ml.features":
                    let dataset = call.node.kwargs["dataset"]!.stringValue!.description
                    let value = dataset.utf8.reduce(0) { $0 + Int($1) }
                    try call.storage.save("features.json", Array(#"{"dataset": "\#(dataset)", "value": \#(value)}"#.utf8))
                case "ml.train", "ml.loo":
                    // Reads every dependency's features.json through the access map.
                    var sum = 0
                    for (key, prefix) in call.dependencies.pairs {
                        let text = try PlanRunTests.read(prefix.stringValue!.description + "/features.json")
                        XCTAssertTrue(text.contains("\"value\""), "\(key): \(text)")
                        sum += PlanRunTests.number(after: "\"value\": ", in: text)
                    }
                    let out = name == "ml.train" ? "model.json" : "cv.json"
                    try call.storage.save(out, Array(#"{"mean": \#(sum / max(1, call.dependencies.count))}"#.utf8))
                case "ml.report":
                    let format = call.node.kwargs["format"]!.stringValue!.description
                    try call.storage.save("report.txt", Array("report as \(format), \(call.dependencies.count) inputs\n".utf8))
                default:
                    throw MuflowError(.notFound, "no body for \(name)")
                }
            }
        }
    }

    private func run(_ plan: TaskPlan, _ tasks: MLTasks, threads: Int = 1,
                     policy: FailurePolicy = .stopOnFirstFailure) throws -> (PlanRun, RunProgress) {
        var options = RunOptions()
        options.failurePolicy = policy
        let run = try PlanRun(plan: plan, builtInNoOps: [plan.rootIndex], options: options)
        let progress = run.execute(threads: threads) { tasks.body($0) }
        return (run, progress)
    }

    static func read(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw MuflowError(.io, "cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func number(after marker: String, in text: String) -> Int {
        guard let range = text.range(of: marker) else { return -1 }
        return Int(text[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }

    private func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    private func json(_ path: String) throws -> JSONObject {
        let bytes = Array(try Self.read(path).utf8)
        return try bytes.withUnsafeBytes { try parseJSON($0) }.objectValue!
    }

    private func manifestFiles(_ prefix: JSONString) throws -> [String] {
        try json(prefix.description + "/manifest.json")["files"]!.arrayValue!.map { $0.stringValue!.description }
    }

    // MARK: Tests

    func testFreshRunWritesContextOutputsAndManifestPerNode() throws {
        let plan = try mlPlan(["a", "b", "c"])
        XCTAssertEqual(plan.count, 11)
        let tasks = MLTasks()
        let (run, progress) = try run(plan, tasks, threads: 2)
        XCTAssertEqual(progress.succeeded, 11)
        XCTAssertEqual(progress.failed + progress.cached + progress.skipped + progress.running, 0)
        XCTAssertTrue(progress.finished)
        XCTAssertNil(run.firstFailureMessage)
        XCTAssertEqual(tasks.total, 10, "the sentinel root runs no body")
        XCTAssertEqual(tasks.calls.withLock { $0 }, ["ml.features": 3, "ml.train": 1, "ml.loo": 3, "ml.report": 3])

        let outputs = ["ml.features": "features.json", "ml.train": "model.json", "ml.loo": "cv.json", "ml.report": "report.txt"]
        for (index, node) in plan.nodes.enumerated() {
            let dir = node.storagePrefix.description
            XCTAssertTrue(dir.hasPrefix(directory + "/muflow/"), dir)
            XCTAssertTrue(exists(dir + "/context.json"), dir)
            XCTAssertFalse(exists(dir + "/error.json"), dir)
            let files = try manifestFiles(node.storagePrefix)
            let manifest = try json(dir + "/manifest.json")
            XCTAssertNotNil(manifest["timestamp"]?.stringValue)
            if index == plan.rootIndex {
                XCTAssertEqual(node.function, "ml.pipeline")
                XCTAssertFalse(files.contains { $0 != "context.json" }, "the sentinel writes nothing of its own: \(files)")
            } else {
                let output = outputs[node.function.description]!
                XCTAssertTrue(files.contains(output), "\(node.function): \(files)")
                XCTAssertTrue(exists(dir + "/" + output))
                // Every file the manifest lists is on disk with the recorded size.
                for file in files { XCTAssertTrue(exists(dir + "/" + file), file) }
            }
        }
        let train = plan.nodes.first { $0.function == "ml.train" }!
        let expectedMean = (["a", "b", "c"].map { $0.utf8.reduce(0) { $0 + Int($1) } }.reduce(0, +)) / 3
        XCTAssertEqual(Self.number(after: "\"mean\": ", in: try Self.read(train.storagePrefix.description + "/model.json")),
                       expectedMean)
    }

    func testSecondRunIsEntirelyCachedAndRunsNoBody() throws {
        let plan = try mlPlan(["a", "b", "c"])
        _ = try run(plan, MLTasks())
        let manifestBefore = try Self.read(plan.nodes[0].storagePrefix.description + "/manifest.json")
        let again = MLTasks()
        let (_, progress) = try run(plan, again, threads: 3)
        XCTAssertEqual(progress.cached, plan.count)
        XCTAssertEqual(progress.succeeded, 0)
        XCTAssertEqual(again.total, 0)
        XCTAssertTrue(progress.finished)
        XCTAssertEqual(try Self.read(plan.nodes[0].storagePrefix.description + "/manifest.json"), manifestBefore,
                       "a cached node is not rewritten")
    }

    func testFailureWritesErrorJSONAndStopsTheRun() throws {
        let plan = try mlPlan(["a", "b", "c"])
        let tasks = MLTasks(failing: ["ml.train"])
        let (run, progress) = try run(plan, tasks, threads: 1)
        // One thread hands nodes out in muflow's wave order: features 0-2, then train.
        XCTAssertEqual(progress.succeeded, 3)
        XCTAssertEqual(progress.failed, 1)
        XCTAssertEqual(progress.skipped, 7)
        XCTAssertTrue(progress.finished)
        XCTAssertFalse(progress.cancelled)
        XCTAssertEqual(tasks.calls.withLock { $0 }, ["ml.features": 3, "ml.train": 1], "nothing starts after the failure")
        XCTAssertEqual(run.firstFailureMessage, "Node ml.train failed: ml.train refused to run")

        let train = plan.nodes.first { $0.function == "ml.train" }!.storagePrefix.description
        XCTAssertFalse(exists(train + "/manifest.json"))
        XCTAssertTrue(exists(train + "/context.json"))
        let error = try json(train + "/error.json")
        XCTAssertEqual(error.keys, ["error_message", "error_traceback", "partial_manifest"])
        XCTAssertEqual(error["error_message"]?.stringValue, "ml.train refused to run")
        XCTAssertNotNil(error["error_traceback"]?.stringValue)
        let partial = error["partial_manifest"]!.objectValue!["files"]!.arrayValue!.map { $0.stringValue!.description }
        XCTAssertEqual(partial, ["context.json", "partial.txt"])
        for node in plan.nodes where node.function == "ml.loo" || node.function == "ml.report" {
            XCTAssertFalse(exists(node.storagePrefix.description + "/context.json"), "skipped nodes are never prepared")
        }

        // The failed node is retried on the next run; the features are cached.
        let fixed = MLTasks()
        let (_, second) = try self.run(plan, fixed, threads: 2)
        XCTAssertEqual(second.cached, 3)
        XCTAssertEqual(second.succeeded, 8)
        XCTAssertEqual(fixed.calls.withLock { $0 }, ["ml.train": 1, "ml.loo": 3, "ml.report": 3])
        XCTAssertTrue(exists(train + "/manifest.json"))
        XCTAssertEqual(try manifestFiles(JSONString(train)), ["context.json", "model.json"],
                       "the rerun's manifest lists what the rerun wrote")
    }

    func testContinueIndependentRunsIndependentBranches() throws {
        let plan = try mlPlan(["a", "b", "c"])
        let tasks = MLTasks(failing: ["ml.train"])
        let (run, progress) = try run(plan, tasks, threads: 2, policy: .continueIndependent)
        XCTAssertEqual(progress.succeeded, 6, "features and loo_cv")
        XCTAssertEqual(progress.failed, 1)
        XCTAssertEqual(progress.skipped, 4, "the reports and the root")
        XCTAssertTrue(progress.finished)
        XCTAssertEqual(tasks.calls.withLock { $0 }, ["ml.features": 3, "ml.train": 1, "ml.loo": 3])
        XCTAssertNotNil(run.firstFailureMessage)
        for node in plan.nodes where node.function == "ml.loo" {
            XCTAssertTrue(exists(node.storagePrefix.description + "/manifest.json"))
        }
        XCTAssertFalse(exists(plan.nodes[plan.rootIndex].storagePrefix.description + "/manifest.json"))
    }

    func testSentinelRootCompletesAsBuiltInNoOp() throws {
        // A plan read from JSON whose root is a sentinel over two leaves.
        let base = directory + "/json"
        let text = """
        {"nodes": {
          "a": {"key": "a", "function": "t.leaf", "subject_key": "s", "kwargs": {"n": 1}, "storage_prefix": "\(base)/a",
                "depended_on_by": ["root"]},
          "b": {"key": "b", "function": "t.leaf", "subject_key": "s", "kwargs": {"n": 2}, "storage_prefix": "\(base)/b",
                "depended_on_by": ["root"]},
          "root": {"key": "root", "function": "t.sentinel", "subject_key": "s", "kwargs": {}, "storage_prefix": "\(base)/root",
                   "depends_on": ["a", "b"]}},
         "root_key": "root"}
        """
        let plan = try TaskPlan.fromJSON(Array(text.utf8))
        let leafRuns = Locked(0)
        let run = try PlanRun(plan: plan, builtInNoOps: [plan.rootIndex])
        let progress = run.execute(threads: 2) { function -> TaskBody? in
            guard function == "t.leaf" else { return nil }
            return { call in
                leafRuns.withLock { $0 += 1 }
                try call.storage.save("n.txt", Array("\(call.node.kwargs["n"]!)".utf8))
            }
        }
        XCTAssertEqual(progress.succeeded, 3)
        XCTAssertEqual(leafRuns.withLock { $0 }, 2)
        XCTAssertTrue(exists(base + "/root/manifest.json"))
        XCTAssertTrue(exists(base + "/root/context.json"))
        XCTAssertEqual(try manifestFiles(JSONString(base + "/a")), ["context.json", "n.txt"])

        // Without the root marked built-in, a root that has no body fails.
        removeTree(base + "/root")
        let strict = try PlanRun(plan: plan)
        let second = strict.execute(threads: 1) { $0 == "t.leaf" ? { _ in } : nil }
        XCTAssertEqual(second.cached, 2)
        XCTAssertEqual(second.failed, 1)
        XCTAssertEqual(strict.firstFailureMessage, "Node t.sentinel failed: task 't.sentinel' has no implementation")
        XCTAssertTrue(exists(base + "/root/error.json"))
    }

    func testTornNodeIsRunAgain() throws {
        let plan = try mlPlan(["a", "b"])
        _ = try run(plan, MLTasks())
        let feature = plan.nodes[0].storagePrefix.description
        XCTAssertEqual(plan.nodes[0].function, "ml.features")
        let intact = try Self.read(feature + "/features.json")
        XCTAssertEqual(truncate(feature + "/features.json", 3), 0)

        let tasks = MLTasks()
        let (_, progress) = try run(plan, tasks)
        XCTAssertEqual(tasks.calls.withLock { $0 }, ["ml.features": 1], "only the torn node runs")
        XCTAssertEqual(progress.succeeded, 1)
        XCTAssertEqual(progress.cached, plan.count - 1)
        XCTAssertEqual(try Self.read(feature + "/features.json"), intact)

        // Trusting presence alone (muflow's rule) keeps a torn node.
        XCTAssertEqual(truncate(feature + "/features.json", 3), 0)
        var options = RunOptions()
        options.cacheVerification = .presence
        let trusting = try PlanRun(plan: plan, builtInNoOps: [plan.rootIndex], options: options)
        let counted = MLTasks()
        XCTAssertEqual(trusting.execute(threads: 1) { counted.body($0) }.cached, plan.count)
        XCTAssertEqual(counted.total, 0)
    }

    func testCancelFromAnotherThreadStopsHandingOutNodes() throws {
        // A chain of 5: the first node blocks until the test has cancelled the run.
        var deps: [String] = []
        let base = directory + "/chain"
        for i in 0..<5 {
            let after = i == 0 ? "" : #", "depends_on": ["n\#(i - 1)"]"#
            let by = i == 4 ? "" : #", "depended_on_by": ["n\#(i + 1)"]"#
            deps.append(#""n\#(i)": {"key": "n\#(i)", "function": "t.step", "subject_key": "s", "kwargs": {}, "storage_prefix": "\#(base)/n\#(i)"\#(after)\#(by)}"#)
        }
        let plan = try TaskPlan.fromJSON(Array(#"{"nodes": {\#(deps.joined(separator: ", "))}, "root_key": "n4"}"#.utf8))
        let run = try PlanRun(plan: plan)
        let started = Semaphore()
        let release = Semaphore()
        let ran = Locked<[Int]>([])
        let runner = WorkerThread {
            _ = run.execute(threads: 2) { _ in
                { call in
                    ran.withLock { $0.append(call.index) }
                    if call.index == 0 {
                        started.signal()
                        release.wait()
                    }
                }
            }
        }
        started.wait()
        run.cancel()
        XCTAssertTrue(run.progress.cancelled)
        XCTAssertFalse(run.progress.finished, "the running node has not finished")
        release.signal()
        runner.join()
        let progress = run.progress
        XCTAssertEqual(ran.withLock { $0 }, [0])
        XCTAssertEqual(progress.succeeded, 1, "the running node finishes as usual")
        XCTAssertEqual(progress.skipped, 4)
        XCTAssertTrue(progress.finished)
        XCTAssertTrue(progress.cancelled)
        XCTAssertTrue(exists(base + "/n0/manifest.json"))
        XCTAssertFalse(exists(base + "/n1/context.json"))
    }

    func testFourThreadsRunEachNodeOnceAfterItsDependencies() throws {
        // Steps in a diamond lattice: a (forEach 40) -> b (forEach 30), c (forEach 30)
        // -> d (single) -> e (forEach 20), plus an independent f (forEach 25).
        let pipeline = try Pipeline(name: "p", steps: [
            PipelineStep(name: "a", task: "t.a", kind: .forEach),
            PipelineStep(name: "b", task: "t.b", kind: .forEach, after: ["a"]),
            PipelineStep(name: "c", task: "t.c", kind: .forEach, after: ["a"]),
            PipelineStep(name: "d", task: "t.d", after: ["b", "c"]),
            PipelineStep(name: "e", task: "t.e", kind: .forEach, after: ["d"]),
            PipelineStep(name: "f", task: "t.f", kind: .forEach),
        ])
        let sizes: [JSONString: Int] = ["a": 40, "b": 30, "c": 30, "e": 20, "f": 25]
        let plan = try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil,
                                          options: PlanBuildOptions(basePrefix: JSONString(directory + "/par"))) { step in
            guard let n = sizes[step.name] else { return [JSONObject()] }
            return (0..<n).map { JSONObject([("i", .int($0))]) }
        }
        XCTAssertEqual(plan.count, 40 + 30 + 30 + 1 + 20 + 25 + 1)

        struct Record { var clock = 0; var starts: [Int: Int] = [:]; var ends: [Int: Int] = [:]; var runs = [Int](); var concurrent = 0; var maxConcurrent = 0 }
        let record = Locked(Record())
        let run = try PlanRun(plan: plan, builtInNoOps: [plan.rootIndex])
        let progress = run.execute(threads: 4) { _ in
            { call in
                record.withLock { r in
                    r.clock += 1
                    r.starts[call.index] = r.clock
                    r.runs.append(call.index)
                    r.concurrent += 1
                    r.maxConcurrent = max(r.maxConcurrent, r.concurrent)
                }
                usleep(200)
                try call.storage.save("out.txt", Array("\(call.index)".utf8))
                record.withLock { r in
                    r.clock += 1
                    r.ends[call.index] = r.clock
                    r.concurrent -= 1
                }
            }
        }
        XCTAssertEqual(progress.succeeded, plan.count)
        let r = record.withLock { $0 }
        let bodies = (0..<plan.count).filter { $0 != plan.rootIndex }
        XCTAssertEqual(r.runs.sorted(), bodies, "each node runs exactly once")
        for index in bodies {
            for dependency in plan.nodes[index].dependsOn {
                let d = plan.index(ofKey: dependency)!
                XCTAssertLessThan(r.ends[d]!, r.starts[index]!, "node \(index) started before its dependency \(d) ended")
            }
        }
        XCTAssertGreaterThan(r.maxConcurrent, 1, "four workers ran bodies at the same time")
        print("PlanRunTests: at most \(r.maxConcurrent) bodies ran at once on 4 threads")
        // The root's manifest appears after every other node's.
        XCTAssertTrue(exists(plan.nodes[plan.rootIndex].storagePrefix.description + "/manifest.json"))
    }

    func testHundredThousandNodeFanIn() throws {
        // MUFLOW_FANIN_NODES lowers the size where every node costs more (under TSan).
        let count = getenv("MUFLOW_FANIN_NODES").flatMap { Int(String(cString: $0)) } ?? 100_000
        let pipeline = try Pipeline(name: "fan", steps: [
            PipelineStep(name: "leaves", task: "t.leaf", kind: .forEach),
            PipelineStep(name: "sink", task: "t.sink", after: ["leaves"]),
        ])
        // On tmpfs when there is one: this measures the engine (200,000 small files
        // and 100,001 directories), not a shared disk's metadata throughput.
        let root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : directory
        let base = makeTemporaryDirectory("fanin", under: root)
        defer { removeTree(base) }
        var clock = Clock()
        let plan = try pipeline.buildPlan(subjectKey: "s", kwargs: JSONObject(), registry: nil,
                                          options: PlanBuildOptions(basePrefix: JSONString(base))) { step in
            step.name == "leaves" ? (0..<count).map { JSONObject([("i", .int($0))]) } : [JSONObject()]
        }
        let built = clock.lap()
        XCTAssertEqual(plan.count, count + 1)
        XCTAssertEqual(plan.nodes[plan.rootIndex].function, "t.sink")

        // AtomicCounter only increments: reading it adds one, which the checks count.
        let bodies = AtomicCounter()
        let noOp: TaskBody = { _ in _ = bodies.increment() }
        let threads = max(2, availableProcessors())
        let fresh = try PlanRun(plan: plan).execute(threads: threads) { _ in noOp }
        let freshTime = clock.lap()
        XCTAssertEqual(fresh.succeeded, count + 1)
        XCTAssertEqual(bodies.increment() - 1, count + 1)

        let cached = try PlanRun(plan: plan).execute(threads: threads) { _ in noOp }
        let cachedTime = clock.lap()
        XCTAssertEqual(cached.cached, count + 1)
        XCTAssertEqual(bodies.increment() - 1, count + 2, "the cached run ran no body")
        print(String(format: "PlanRunTests: %d-node fan-in in \(root) on %d threads: build %.2f s, fresh run %.2f s (%.1f µs/node), cached run %.2f s (%.1f µs/node)",
                     count + 1, threads, built, freshTime, freshTime * 1e6 / Double(count + 1), cachedTime,
                     cachedTime * 1e6 / Double(count + 1)))
        XCTAssertLessThan(freshTime, 120, "a no-op node should cost far less than muflow's 2.3 ms")
    }
}

/// Monotonic seconds between laps.
private struct Clock {
    private var last = Clock.now()

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    mutating func lap() -> Double {
        let now = Clock.now()
        defer { last = now }
        return now - last
    }
}

/// A counting semaphore on the engine's ConditionLock (no Foundation, no Dispatch).
private final class Semaphore: @unchecked Sendable {
    private let lock = ConditionLock()
    private var count = 0

    func signal() {
        lock.withLock {
            count += 1
            lock.broadcast()
        }
    }

    func wait() {
        lock.withLock {
            while count == 0 { lock.wait() }
            count -= 1
        }
    }
}
