
/// Settings of one execution of a plan.
public struct RunOptions: Sendable {
    public var failurePolicy: FailurePolicy = .stopOnFirstFailure
    public var cacheVerification: CacheVerification = .sizes
    /// Sync each node's files to the disk before its manifest names them.
    public var durable = false
    /// Hand cached and built-in nodes to the caller as events (for per-node callbacks);
    /// otherwise they are settled inside `next` without surfacing.
    public var reportSettledNodes = false

    public init() {}
}

/// What `PlanRun.next` hands a worker.
public enum RunEvent: Sendable {
    /// Run the node's task in `storage` (context.json already written), then call
    /// `PlanRun.finish`.
    case run(index: Int, storage: LocalStorage)
    /// The node was complete already (only with `reportSettledNodes`).
    case cached(index: Int)
    /// A built-in no-op node (the sentinel root) was completed (only with
    /// `reportSettledNodes`).
    case builtIn(index: Int)
    /// The node could not be prepared (its directory could not be written); it is
    /// recorded as failed.
    case failed(index: Int, message: String)
}

/// One execution of a plan on local storage: the dependency-driven scheduler plus the
/// node protocol muflow defines (skip a node whose manifest is complete; write
/// context.json; after the task, manifest.json on success or error.json on failure).
/// Workers on any threads call `next` until it returns nil, running each task they
/// are handed and reporting it with `finish`.
public final class PlanRun: Sendable {
    public let plan: TaskPlan
    public let options: RunOptions
    public let scheduler: DependencyScheduler
    private let builtIn: Set<Int>
    private let firstFailure = Locked<String?>(nil)
    private let claims = Locked<[Int: NodeClaim]>([:])

    /// `builtInNoOps`: nodes with no task to run (the sentinel root muflow's builder
    /// adds); they complete with an empty manifest once their dependencies have.
    public init(plan: TaskPlan, builtInNoOps: Set<Int> = [], options: RunOptions = RunOptions()) throws {
        self.plan = plan
        self.options = options
        self.builtIn = builtInNoOps
        scheduler = DependencyScheduler(graph: try DependencyGraph(plan.dependencyGroups), policy: options.failurePolicy)
    }

    public var progress: RunProgress { scheduler.snapshot }

    /// The message of the first node that failed, if any.
    public var firstFailureMessage: String? { firstFailure.withLock { $0 } }

    public func cancel() { scheduler.cancel() }

    /// The next node for this worker, waiting while others run; nil when the run is over.
    public func next() -> RunEvent? {
        while let index = scheduler.next() {
            if let event = prepare(index) { return event }
        }
        return nil
    }

    /// Reports the task of a node handed out as `.run`: nil error for success.
    public func finish(_ index: Int, storage: LocalStorage, error: (message: String, traceback: String)?) {
        var failure = error
        if failure == nil {
            do {
                try storage.writeManifest()
            } catch {
                failure = ("cannot write manifest.json: \(error)", "")
            }
        }
        if let failure {
            recordFailure(index, storage: storage, message: failure.message, traceback: failure.traceback)
        }
        claims.withLock { $0.removeValue(forKey: index) }?.release()
        scheduler.finish(index, failure == nil ? .succeeded : .failed)
    }

    private func prepare(_ index: Int) -> RunEvent? {
        let directory = plan.nodes[index].storagePrefix.description
        // Checked before opening the storage: a cached node costs no directory work.
        if LocalStorage.manifestComplete(in: directory, verify: options.cacheVerification) {
            scheduler.finish(index, .cached)
            return options.reportSettledNodes ? .cached(index: index) : nil
        }
        let storage: LocalStorage
        var claim: NodeClaim?
        do {
            storage = try LocalStorage(root: directory, durable: options.durable)
            // Another process running the same plan may hold the node: wait for it, then
            // take the node only if that process did not complete it.
            claim = try NodeClaim(directory: directory)
            if LocalStorage.manifestComplete(in: directory, verify: options.cacheVerification) {
                claim?.release()
                scheduler.finish(index, .cached)
                return options.reportSettledNodes ? .cached(index: index) : nil
            }
            try storage.discardManifest()
            try storage.save(FileNames.context, Array("{}".utf8), allowProtected: true)
            if builtIn.contains(index) {
                try storage.writeManifest()
                claim?.release()
                scheduler.finish(index, .succeeded)
                return options.reportSettledNodes ? .builtIn(index: index) : nil
            }
        } catch {
            claim?.release()
            let message = "node \(plan.nodes[index].function) could not be prepared: \(error)"
            noteFailure(message)
            scheduler.finish(index, .failed)
            return .failed(index: index, message: message)
        }
        if let claim { claims.withLock { $0[index] = claim } }
        return .run(index: index, storage: storage)
    }

    private func recordFailure(_ index: Int, storage: LocalStorage, message: String, traceback: String) {
        noteFailure("Node \(plan.nodes[index].function) failed: \(message)")
        var partial = JSONObject()
        partial["files"] = .array(storage.writtenFiles.map { .string(JSONString($0)) })
        var record = JSONObject()
        record["error_message"] = .string(JSONString(message))
        record["error_traceback"] = .string(JSONString(traceback))
        record["partial_manifest"] = .object(partial)
        try? storage.save(FileNames.error, IndentedJSON.dumps(.object(record)), allowProtected: true)
    }

    private func noteFailure(_ message: String) {
        firstFailure.withLock { if $0 == nil { $0 = message } }
    }
}
