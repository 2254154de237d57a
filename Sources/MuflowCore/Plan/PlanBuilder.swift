/// Options of `Pipeline.buildPlan` beyond muflow's arguments.
public struct PlanBuildOptions: Sendable {
    public var basePrefix: JSONString
    /// Fail on a step whose task is not registered (muflow builds it with no identity
    /// keys and no output files).
    public var strict: Bool

    public init(basePrefix: JSONString = "muflow", strict: Bool = false) {
        self.basePrefix = basePrefix
        self.strict = strict
    }
}

extension Pipeline {
    /// Compiles the pipeline into a plan, node for node as muflow 0.4.0's `build_plan`.
    ///
    /// `jobs` is called once per step, in topological order, and returns the step's job
    /// kwargs: for a forEach step the items of `over`; for a single step exactly one
    /// object (the result of `kwargs_map`, or an empty object).
    public func buildPlan(subjectKey: JSONString, kwargs: JSONObject, registry: TaskRegistry?,
                          options: PlanBuildOptions = PlanBuildOptions(),
                          jobs: (PipelineStep) throws -> [JSONObject]) throws -> TaskPlan {
        let order = try validatedOrder()
        guard let lastStep = order.last else {
            throw MuflowError(.invalidArgument, "Pipeline '\(name)' has no steps")
        }
        if options.strict {
            for step in order.map({ steps[$0] }) where registry?.get(step.task) == nil {
                throw MuflowError(.notFound, "task '\(step.task)' of step '\(step.name)' is not registered")
            }
        }

        var builder = PlanBuilder(subjectKey: subjectKey, kwargs: kwargs, basePrefix: options.basePrefix,
                                  stepCount: steps.count)
        for index in order {
            let step = steps[index]
            let stepJobs = try jobs(step)
            if step.kind == .single && stepJobs.count != 1 {
                throw MuflowError(.invalidArgument,
                                  "step '\(step.name)' is a single step and takes one kwargs object, not \(stepJobs.count)")
            }
            let after = step.after.map { indexOfStep($0)! }
            // Looked up after the step's jobs are known, when muflow looks it up.
            builder.addStep(index, task: step.task, after: after, afterNames: step.after,
                            descriptor: registry?.get(step.task), jobs: stepJobs)
        }
        builder.linkDependents()
        let rootKey = builder.chooseRoot(lastStep: lastStep, pipelineName: name)
        return try builder.plan(rootKey: rootKey)
    }
}

/// The state of one build: nodes by slot (a slot is a position in muflow's nodes dict:
/// a key inserted again keeps its slot and takes the new node).
struct PlanBuilder {
    private let subjectKey: JSONString
    private let kwargs: JSONObject
    private let basePrefix: JSONString
    private var hasher = PrefixHasher()

    private var keys: [JSONString] = []
    private var positions: [HashedKey: Int] = [:]
    private var nodes: [TaskNode] = []
    /// The step's upstream slots each node was built with (its depends_on, as slots).
    private var upstreamOfSlot: [Int32] = []
    private var upstreamLists: [[Int32]] = []
    /// The slots of each step's jobs, in job order, repeats included (muflow's
    /// step_node_keys), indexed by step declaration index.
    private var stepSlots: [[Int32]]
    private var dependents: [[DependentRun]] = []

    init(subjectKey: JSONString, kwargs: JSONObject, basePrefix: JSONString, stepCount: Int) {
        self.subjectKey = subjectKey
        self.kwargs = kwargs
        self.basePrefix = basePrefix
        self.stepSlots = Array(repeating: [], count: stepCount)
    }

    mutating func addStep(_ step: Int, task: JSONString, after: [Int], afterNames: [JSONString],
                          descriptor: TaskDescriptor?, jobs: [JSONObject]) {
        let upstream = after.flatMap { stepSlots[$0] }
        let dependsOn = upstream.map { keys[Int($0)] }
        let accessMap = accessMap(after: after, names: afterNames)
        let listID = Int32(upstreamLists.count)
        upstreamLists.append(upstream)
        let outputFiles = descriptor?.outputFiles ?? []

        var slots = [Int32]()
        slots.reserveCapacity(jobs.count)
        positions.reserveCapacity(positions.count + jobs.count + 1)
        for job in jobs {
            let merged = kwargs.merging(job)
            let prefix = JSONString(wtf8: hasher.prefix(task: task, subject: subjectKey, kwargs: merged,
                                                        identityKeys: descriptor?.identityKeys,
                                                        basePrefix: basePrefix))
            let node = TaskNode(key: prefix, function: task, subjectKey: subjectKey, kwargs: merged,
                                storagePrefix: prefix, dependsOn: dependsOn, outputFiles: outputFiles,
                                dependencyAccessMap: accessMap)
            slots.append(Int32(place(node, upstreamList: listID).slot))
        }
        stepSlots[step] = slots
    }

    private func accessMap(after: [Int], names: [JSONString]) -> JSONObject {
        var map = JSONObject()
        for (step, name) in zip(after, names) {
            let slots = stepSlots[step]
            if slots.count == 1 {
                map[name] = .string(keys[Int(slots[0])])
                continue
            }
            for (i, slot) in slots.enumerated() {
                map[JSONString(wtf8: name.utf8 + [UInt8(ascii: ":")] + Array(String(i).utf8))] = .string(keys[Int(slot)])
            }
        }
        return map
    }

    private mutating func place(_ node: TaskNode, upstreamList: Int32) -> (slot: Int, replaced: Bool) {
        if let slot = positions[HashedKey(node.key)] {
            nodes[slot] = node
            upstreamOfSlot[slot] = upstreamList
            return (slot, true)
        }
        let slot = nodes.count
        positions[HashedKey(node.key)] = slot
        keys.append(node.key)
        nodes.append(node)
        upstreamOfSlot.append(upstreamList)
        return (slot, false)
    }

    /// muflow's reverse-edge pass: every node, in dict order, appends its key to the
    /// depended_on_by of each key in its depends_on. Runs of consecutive slots built
    /// with the same upstream list are handled at once, so the work is O(runs x list)
    /// rather than O(edges).
    mutating func linkDependents() {
        dependents = Array(repeating: [], count: nodes.count)
        var lastRun = [Int](repeating: -1, count: nodes.count)
        var start = 0
        var run = 0
        while start < nodes.count {
            let list = upstreamOfSlot[start]
            var end = start + 1
            while end < nodes.count && upstreamOfSlot[end] == list { end += 1 }
            for upstream in upstreamLists[Int(list)].map(Int.init) {
                if lastRun[upstream] == run {
                    dependents[upstream][dependents[upstream].count - 1].repeats += 1
                } else {
                    lastRun[upstream] = run
                    dependents[upstream].append(DependentRun(start: Int32(start), end: Int32(end), repeats: 1))
                }
            }
            start = end
            run += 1
        }
    }

    /// The last step's only node, or a new sentinel node named after the pipeline that
    /// depends on all the last step's nodes.
    mutating func chooseRoot(lastStep: Int, pipelineName: JSONString) -> JSONString {
        let last = stepSlots[lastStep]
        if last.count == 1 { return keys[Int(last[0])] }
        let key = JSONString(wtf8: hasher.prefix(task: pipelineName, subject: subjectKey, kwargs: kwargs,
                                                 identityKeys: nil, basePrefix: basePrefix))
        let sentinel = TaskNode(key: key, function: pipelineName, subjectKey: subjectKey, kwargs: kwargs,
                                storagePrefix: key, dependsOn: last.map { keys[Int($0)] })
        let (slot, replaced) = place(sentinel, upstreamList: -1)
        if replaced { dependents[slot] = [] } else { dependents.append([]) }
        for upstream in last.map(Int.init) {
            dependents[upstream].append(DependentRun(start: Int32(slot), end: Int32(slot + 1), repeats: 1))
        }
        return key
    }

    /// The plan, with each distinct depended_on_by list materialised once and shared.
    mutating func plan(rootKey: JSONString) throws -> TaskPlan {
        var shared: [[DependentRun]: [JSONString]] = [:]
        var finished = nodes
        nodes = []  // so that the nodes are changed in place, not copied
        for slot in finished.indices {
            let runs = DependentRun.coalesced(dependents[slot])
            if runs.isEmpty { continue }
            if let keys = shared[runs] {
                finished[slot].dependedOnBy = keys
                continue
            }
            var list = [JSONString]()
            for run in runs {
                for dependent in run.start..<run.end {
                    for _ in 0..<run.repeats { list.append(keys[Int(dependent)]) }
                }
            }
            shared[runs] = list
            finished[slot].dependedOnBy = list
        }
        return try TaskPlan(entryKeys: keys, nodes: finished, positions: positions, rootKey: rootKey)
    }
}

/// Slots start..<end, each appearing `repeats` times in a row.
struct DependentRun: Hashable {
    var start: Int32
    var end: Int32
    var repeats: Int32

    /// Adjacent single-repeat runs merged, so equal lists have equal run arrays.
    static func coalesced(_ runs: [DependentRun]) -> [DependentRun] {
        var result = [DependentRun]()
        result.reserveCapacity(runs.count)
        for run in runs {
            if let last = result.last, last.repeats == 1, run.repeats == 1, last.end == run.start {
                result[result.count - 1].end = run.end
            } else {
                result.append(run)
            }
        }
        return result
    }
}
