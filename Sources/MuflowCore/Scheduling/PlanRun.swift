
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
/// Workers on any threads call `next` until it returns nil (or `next(upTo:)` until it
/// returns no event), running each task they are handed and reporting it with
/// `finish`.
///
/// Every node's manifest is checked once when the run starts, on several threads; a
/// node found incomplete is checked again once its directory is claimed, so a node
/// that another process completed meanwhile is not run twice.
public final class PlanRun: Sendable {
    public let plan: TaskPlan
    public let options: RunOptions
    public let scheduler: DependencyScheduler
    private let builtIn: Set<Int>
    /// Per node: its storage prefix, the directory it runs in.
    private let directories: [String]
    /// Per node: what its manifest said when the run started, and its digests.
    private let stateAtStart: [ManifestState]
    private let digestsAtStart: [ManifestDigests?]
    /// Per node, once it has succeeded or was found cached: its outputs' fingerprint.
    private let outputs: Locked<[Fingerprint?]>
    /// Per dependency group: the current inputs of its nodes, worked out once per
    /// access-map box (the nodes of a step share one; steps after the same steps share a
    /// group, each with its own box).
    private let inputsOfGroup: Locked<[[(box: ObjectIdentifier, inputs: NodeInputs)]]>
    private let groupOfNode: [Int32]
    /// Storage prefixes that are not their node's key (plan JSON may have them), to
    /// their node; made on first need.
    private let nodeOfPrefix = Locked<[JSONString: Int]?>(nil)
    /// Nodes found complete whose recorded inputs are no longer the current ones.
    private let staleCount = Locked(0)
    private let noInputs = NodeInputs.none.digest
    private let firstFailure = Locked<String?>(nil)
    private let steps = StepDirectories()
    /// Per node handed out as `.run` and not yet finished: its storage and its claim.
    private let running: Locked<[RunningNode?]>

    private struct RunningNode {
        let storage: LocalStorage
        let claim: NodeClaim
        /// The inode of its context.json, when it is one the run shares between nodes.
        let context: UInt64?
        let inputs: NodeInputs
    }

    /// A node of the current list whose context.json the others link to.
    private struct ContextSource {
        let directory: Int32
        let inode: UInt64
    }

    /// The most nodes `next(upTo:)` takes at once while they all settle.
    private static let settlingList = 1024
    private static let contextBytes = Array("{}".utf8)
    private static let contextDigest = contextBytes.withUnsafeBytes { sha256Hex($0) }

    /// `builtInNoOps`: nodes with no task to run (the sentinel root muflow's builder
    /// adds); they complete with an empty manifest once their dependencies have.
    public init(plan: TaskPlan, builtInNoOps: Set<Int> = [], options: RunOptions = RunOptions()) throws {
        self.plan = plan
        self.options = options
        self.builtIn = builtInNoOps
        scheduler = DependencyScheduler(graph: try DependencyGraph(plan.dependencyGroups), policy: options.failurePolicy)
        directories = plan.nodes.indices.map { plan.nodes[$0].storagePrefix.description }
        (stateAtStart, digestsAtStart) = LocalStorage.manifestChecks(directories, verify: options.cacheVerification)
        running = Locked([RunningNode?](repeating: nil, count: plan.count))
        outputs = Locked([Fingerprint?](repeating: nil, count: plan.count))
        groupOfNode = plan.dependencyGroups.groupOfNode
        inputsOfGroup = Locked(Array(repeating: [], count: plan.dependencyGroups.groupDependencies.count))
    }

    public var progress: RunProgress {
        var progress = scheduler.snapshot
        progress.stale = staleCount.withLock { $0 }
        return progress
    }

    /// The message of the first node that failed, if any.
    public var firstFailureMessage: String? { firstFailure.withLock { $0 } }

    public func cancel() { scheduler.cancel() }

    /// The next node for this worker, waiting while others run; nil when the run is over.
    public func next() -> RunEvent? {
        next(upTo: 1).first
    }

    /// Up to `capacity` nodes for this worker, in order, waiting while none is ready and
    /// others run; no event once the run is over. Of the nodes ready at once, a worker
    /// takes no more than its share among `workers` (rounded up), so that lists do not
    /// leave other workers idle. A `.failed` event ends the list.
    /// Nodes that are cached or built in are settled here (and listed only with
    /// `reportSettledNodes`). A node that another process holds is waited for only when
    /// no node of this list is claimed yet, so two processes never wait on each other.
    public func next(upTo capacity: Int, workers: Int = 1) -> [RunEvent] {
        var events: [RunEvent] = []
        var claimed = false
        // The directory of the first node of the list whose context.json this call
        // created: the others link to that file instead of writing their own.
        var contextSource: ContextSource?
        // Nodes that settle here make room for more, until the list has one event. While
        // whole lists settle (a cached run), longer ones are taken, to settle many nodes
        // per step; nodes past `capacity` events are given back.
        var request = capacity
        while events.isEmpty {
            let nodes = scheduler.next(upTo: request, workers: request > capacity ? 1 : workers, wait: true)
            if nodes.isEmpty { break }
            var settled: [(node: Int, outcome: NodeOutcome)] = []
            var fingerprints: [(node: Int, outputs: Fingerprint?)] = []
            var stopAt: Int?
            for (position, index) in nodes.enumerated() {
                if events.count == capacity {
                    stopAt = position
                    break
                }
                switch prepare(index, waitForClaim: !claimed, contextSource: &contextSource) {
                case .run(let storage):
                    events.append(.run(index: index, storage: storage))
                    claimed = true
                case .settled(let outcome, let event, let outputs):
                    settled.append((index, outcome))
                    fingerprints.append((index, outputs))
                    if options.reportSettledNodes { events.append(event) }
                case .failed(let message):
                    settled.append((index, .failed))
                    events.append(.failed(index: index, message: message))
                    stopAt = position + 1
                case .busy:
                    stopAt = position
                }
                if stopAt != nil { break }
            }
            if let stopAt { scheduler.putBack(Array(nodes[stopAt...])) }
            settle(fingerprints)
            scheduler.finish(settled)
            request = min(max(request, Self.settlingList / 4) * 4, Self.settlingList)
        }
        return events
    }

    /// The storage of a node handed out as `.run` and not finished yet.
    public func storage(of index: Int) throws -> LocalStorage {
        guard let node = running.withLock({ $0.indices.contains(index) ? $0[index] : nil }) else {
            throw notRunning(index)
        }
        return node.storage
    }

    /// Reports the task of a node handed out as `.run`: nil error for success.
    public func finish(_ index: Int, storage: LocalStorage, error: (message: String, traceback: String)?) {
        try? finish(index, error: error)
    }

    /// Reports the task of a node handed out as `.run`: nil error for success. Throws
    /// MuflowError(.notFound) for a node that is not running.
    public func finish(_ index: Int, error: (message: String, traceback: String)?) throws {
        let node = try take([index])[0]
        var manifests = SharedManifests()
        let (outcome, outputs) = complete(index, node, error: error, manifests: &manifests)
        manifests.remember()
        node.claim.release()
        settle([(index, outputs)])
        scheduler.finish(index, outcome)
    }

    /// Reports several nodes handed out as `.run` whose tasks succeeded, in one step.
    /// Throws MuflowError(.notFound), finishing none, if one of them is not running.
    /// Nodes that wrote the same files share one manifest (see SharedManifests), so their
    /// claims, the first of which holds it, are released together at the end.
    public func finishSucceeded(_ indices: [Int]) throws {
        let nodes = try take(indices)
        var manifests = SharedManifests()
        let completed = zip(indices, nodes).map { index, node in
            (index, complete(index, node, error: nil, manifests: &manifests))
        }
        manifests.remember()
        nodes.forEach { $0.claim.release() }
        settle(completed.map { ($0.0, $0.1.outputs) })
        scheduler.finish(completed.map { ($0.0, $0.1.outcome) })
    }

    /// Gives back nodes handed out as `.run` whose tasks did not start: their
    /// context.json is removed and their claim released, and they are handed out again
    /// later, unless the run has stopped. Throws MuflowError(.notFound), returning none,
    /// if one of them is not running.
    public func putBack(_ indices: [Int]) throws {
        for node in try take(indices) {
            try? FileSystem.removeIfPresent(FileNames.context, in: node.claim.descriptor,
                                            path: node.storage.path(of: FileNames.context))
            node.claim.release()
        }
        scheduler.putBack(indices)
    }

    private func take(_ indices: [Int]) throws -> [RunningNode] {
        try running.withLock { slots in
            var seen = Set<Int>()
            for index in indices where !slots.indices.contains(index) || slots[index] == nil || !seen.insert(index).inserted {
                throw notRunning(index)
            }
            return indices.map { index in
                defer { slots[index] = nil }
                return slots[index]!
            }
        }
    }

    private func notRunning(_ index: Int) -> MuflowError {
        MuflowError(.notFound, "node \(index) is not running")
    }

    /// Writes the manifest (or error.json) of a node whose task ended; the caller
    /// releases its claim.
    private func complete(_ index: Int, _ node: RunningNode, error: (message: String, traceback: String)?,
                          manifests: inout SharedManifests) -> (outcome: NodeOutcome, outputs: Fingerprint?) {
        var failure = error
        var outputs: Fingerprint?
        if failure == nil {
            do {
                outputs = try manifests.write(node.storage, in: node.claim.descriptor, context: node.context,
                                              inputs: node.inputs).outputs
            } catch {
                failure = ("cannot write manifest.json: \(error)", "")
            }
        }
        if let failure {
            recordFailure(index, storage: node.storage, message: failure.message, traceback: failure.traceback)
        }
        return (failure == nil ? .succeeded : .failed, outputs)
    }

    private enum Preparation {
        case run(LocalStorage)
        /// With the node's outputs' fingerprint, to settle before its dependents start.
        case settled(NodeOutcome, RunEvent, Fingerprint?)
        case failed(String)
        /// Another holder has the node's directory, and this worker may not wait for it.
        case busy
    }

    private func prepare(_ index: Int, waitForClaim: Bool, contextSource: inout ContextSource?) -> Preparation {
        let state = stateAtStart[index]
        if state == .complete, isCurrent(index, digestsAtStart[index]) {
            return .settled(.cached, .cached(index: index), digestsAtStart[index]?.outputs)
        }
        let directory = directories[index]
        var claim: NodeClaim?
        do {
            guard !directory.isEmpty else { throw MuflowError(.invalidArgument, "storage path must not be empty") }
            guard !directory.utf8.contains(0) else {
                throw MuflowError(.invalidArgument, "storage path must not contain a NUL byte")
            }
            // Another process running the same plan may hold the node: wait for it, then
            // take the node only if that process did not complete it.
            let (parent, name) = try steps.split(directory) ?? (FileSystem.currentDirectory, directory)
            try FileSystem.makeDirectory(name, in: parent, path: directory)
            guard let taken = try NodeClaim.acquire(name, in: parent, path: directory, wait: waitForClaim) else {
                return .busy
            }
            claim = taken
            let storage = LocalStorage(claimedDirectory: directory, durable: options.durable)
            // Every run (muflow's too) writes context.json before a node's task, so a node
            // that had no manifest when the run started and has no context.json now has not
            // been completed since. Otherwise another process may have completed it, or it
            // is a failed or torn node to run again.
            var creation = LocalStorage.ExecutorFileCreation.present
            if state == .absent {
                creation = try storage.createExecutorFile(FileNames.context, Self.contextBytes,
                                                          sha256: Self.contextDigest, in: taken.descriptor,
                                                          linkingFrom: contextSource?.directory)
            }
            var stale = false
            if creation == .present {
                let found = LocalStorage.manifestCheck(of: "", in: taken.descriptor, verify: options.cacheVerification)
                if found.state == .complete, isCurrent(index, found.digests) {
                    taken.release()
                    return .settled(.cached, .cached(index: index), found.digests?.outputs)
                }
                if found.state != .absent {
                    // A torn node, or one whose inputs changed, about to run again: a crash
                    // during the rerun must not leave the old manifest in place.
                    stale = found.state == .complete
                    try FileSystem.removeIfPresent(FileNames.manifest, in: taken.descriptor,
                                                   path: storage.path(of: FileNames.manifest))
                }
                try storage.replaceExecutorFile(FileNames.context, Self.contextBytes, sha256: Self.contextDigest,
                                                in: taken.descriptor)
            }
            if stale { staleCount.withLock { $0 += 1 } }
            let inputs = currentInputs(of: index)
            if builtIn.contains(index) {
                let digests = try storage.writeManifest(in: taken.descriptor, inputs: inputs)
                taken.release()
                return .settled(.succeeded, .builtIn(index: index), digests.outputs)
            }
            var context: UInt64?
            switch creation {
            case .linked:
                context = contextSource?.inode
            case .written where contextSource == nil:
                if let inode = FileSystem.inode(of: FileNames.context, in: taken.descriptor) {
                    context = inode
                    contextSource = ContextSource(directory: taken.descriptor, inode: inode)
                }
            default:
                break
            }
            running.withLock { $0[index] = RunningNode(storage: storage, claim: taken, context: context, inputs: inputs) }
            return .run(storage)
        } catch {
            claim?.release()
            let message = "node \(plan.nodes[index].function) could not be prepared: \(error)"
            noteFailure(message)
            return .failed(message)
        }
    }

    /// Whether a complete manifest's recorded inputs are the node's current ones: its
    /// dependencies' prefixes and output fingerprints, now that they have settled. A
    /// manifest recording none (muflow's), or a run trusting presence, is current.
    private func isCurrent(_ index: Int, _ digests: ManifestDigests?) -> Bool {
        guard let recorded = digests?.inputs else { return true }
        if recorded == noInputs && plan.nodes[index].accessMapIsEmpty { return true }
        return recorded == currentInputs(of: index).digest
    }

    private func settle(_ fingerprints: [(node: Int, outputs: Fingerprint?)]) {
        guard !fingerprints.isEmpty else { return }
        outputs.withLock { outputs in
            for (node, fingerprint) in fingerprints { outputs[node] = fingerprint }
        }
    }

    /// The node's inputs as of now: each access-map entry with its dependency's
    /// fingerprint, shared by the nodes of its group that share its map.
    private func currentInputs(of index: Int) -> NodeInputs {
        let node = plan.nodes[index]
        if node.accessMapIsEmpty { return .none }
        let box = node.accessMapIdentity
        let group = Int(groupOfNode[index])
        if let known = inputsOfGroup.withLock({ $0[group].first { $0.box == box } }) { return known.inputs }
        let layout = node.inputsLayout {
            let map = node.dependencyAccessMap
            let prefixes = map.values.map { $0.stringValue ?? JSONString(wtf8: []) }
            return InputsLayout(accessKeys: map.keys, prefixes: prefixes, dependencies: prefixes.map(self.node(ofPrefix:)))
        }
        let inputs = NodeInputs(layout: layout, outputs: fingerprints(of: layout))
        inputsOfGroup.withLock { known in
            // A read plan may give every node its own box: keep a few, not one per node.
            if known[group].count < 8 && !known[group].contains(where: { $0.box == box }) { known[group].append((box, inputs)) }
        }
        return inputs
    }

    /// The output fingerprints of a layout's dependencies: as settled in this run, else
    /// (a node not in the plan, or settled without reading its manifest) as its manifest
    /// on disk says; nil where there is none.
    private func fingerprints(of layout: InputsLayout) -> [Fingerprint?] {
        var found = outputs.withLock { settled in layout.dependencies.map { $0.flatMap { settled[$0] } } }
        let unknown = found.indices.filter { found[$0] == nil && !layout.prefixes[$0].utf8.isEmpty }
        if !unknown.isEmpty {
            let read = LocalStorage.manifestChecks(unknown.map { layout.prefixes[$0].description }, verify: .sizes).digests
            for (i, digests) in zip(unknown, read) { found[i] = digests?.outputs }
        }
        return found
    }

    private func node(ofPrefix prefix: JSONString) -> Int? {
        if let index = plan.index(ofKey: prefix), plan.nodes[index].storagePrefix == prefix { return index }
        return nodeOfPrefix.withLock { table in
            if table == nil {
                var made: [JSONString: Int] = [:]
                for (i, node) in plan.nodes.enumerated() where made[node.storagePrefix] == nil { made[node.storagePrefix] = i }
                table = made
            }
            return table![prefix]
        }
    }

    private func recordFailure(_ index: Int, storage: LocalStorage, message: String, traceback: String) {
        noteFailure(NodeFailure.message(function: plan.nodes[index].function, message: JSONString(message)).description)
        let record = NodeFailure.errorRecord(message: JSONString(message), traceback: JSONString(traceback),
                                             files: storage.writtenFiles.map { JSONString($0) })
        try? storage.save(FileNames.error, record, allowProtected: true)
    }

    private func noteFailure(_ message: String) {
        firstFailure.withLock { if $0 == nil { $0 = message } }
    }
}
