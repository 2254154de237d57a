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
        try buildPlanFromStepJobs(subjectKey: subjectKey, kwargs: kwargs, registry: registry, options: options) {
            StepJobs(try jobs($0))
        }
    }

    /// `buildPlan`, with each step's jobs given as `StepJobs` (a differently named
    /// function: a trailing closure could not tell two `buildPlan`s apart).
    public func buildPlanFromStepJobs(subjectKey: JSONString, kwargs: JSONObject, registry: TaskRegistry?,
                                      options: PlanBuildOptions = PlanBuildOptions(),
                                      jobs: (PipelineStep) throws -> StepJobs) throws -> TaskPlan {
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
                                  stepNames: steps.map(\.name))
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
        let plan: TaskPlan
        do {
            plan = try builder.plan(rootKey: rootKey)
        } catch let error as MuflowError where error.kind == .cycle {
            throw selfDependencyError(builder.collisions) ?? error
        }
        try PrefixValidation.validateLabels(of: plan, basePrefix: options.basePrefix)
        return plan
    }

    /// Names the two steps whose nodes share a key where the later step runs after the
    /// earlier one, so the node replacing the first would depend on itself.
    private func selfDependencyError(_ collisions: [PlanBuilder.Collision]) -> MuflowError? {
        for collision in collisions {
            guard let earlier = collision.earlierStep else { continue }
            guard let later = collision.laterStep else {
                return MuflowError(.cycle, "the sentinel root of pipeline '\(name)' and step '\(steps[earlier].name)' "
                    + "both produce the node '\(collision.key)' (the pipeline is named like the step's task and the "
                    + "hash dicts are equal), so that node would depend on itself; give the pipeline another name")
            }
            guard step(later, runsAfter: earlier) else { continue }
            return MuflowError(.cycle, "steps '\(steps[earlier].name)' and '\(steps[later].name)' both produce the node "
                + "'\(collision.key)' (the same task with the same identity kwargs), and '\(steps[later].name)' runs after "
                + "'\(steps[earlier].name)', so that node would depend on itself; give one of the steps different "
                + "identity kwargs or another task")
        }
        return nil
    }

    /// Whether step `later` comes after step `earlier`, directly or through other steps.
    private func step(_ later: Int, runsAfter earlier: Int) -> Bool {
        var seen = Set<Int>()
        var pending = [later]
        while let current = pending.popLast() {
            for name in steps[current].after {
                guard let upstream = indexOfStep(name), seen.insert(upstream).inserted else { continue }
                if upstream == earlier { return true }
                pending.append(upstream)
            }
        }
        return false
    }
}

/// The state of one build: nodes by slot (a slot is a position in muflow's nodes dict:
/// a key inserted again keeps its slot and takes the new node).
struct PlanBuilder {
    private let subjectKey: JSONString
    private let kwargs: JSONObject
    private let basePrefix: JSONString
    private var hasher = PrefixHasher()

    private var keyIndex = KeyIndex()
    private var keys: [JSONString] { keyIndex.keys }
    private var nodes: [TaskNode] = []
    /// The upstream list each slot's node was built with (its depends_on, as slots).
    private var upstreamOfSlot: [Int32] = []
    /// Each upstream list's distinct slots in first-mention order, with how many times
    /// each is mentioned.
    private var upstreamLists: [[(slot: Int32, mentions: Int32)]] = []
    /// Upstream list ids by the steps they come after: steps after the same steps share
    /// one list (found without hashing it: N slots after a fan-out of N).
    private var upstreamListIDs: [[Int]: Int32] = [:]
    /// Per slot: the last upstream list that mentioned it, and where in that list.
    private var distinctMark: [(list: Int32, index: Int32)] = []
    /// The slots of each step's jobs, in job order, repeats included (muflow's
    /// step_node_keys), indexed by step declaration index.
    private var stepSlots: [[Int32]]
    private var dependents = DependentLists()
    /// The step (declaration index) whose node each slot holds; -1 for the sentinel.
    private var stepOfSlot: [Int32] = []
    private let stepNames: [JSONString]
    /// Keys produced twice, which replaced an earlier node (muflow's dict assignment).
    private(set) var collisions: [Collision] = []
    private var madeSentinel = false

    struct Collision {
        let key: JSONString
        let earlierStep: Int?
        let laterStep: Int?
    }

    init(subjectKey: JSONString, kwargs: JSONObject, basePrefix: JSONString, stepNames: [JSONString]) {
        self.subjectKey = subjectKey
        self.kwargs = kwargs
        self.basePrefix = basePrefix
        self.stepNames = stepNames
        self.stepSlots = Array(repeating: [], count: stepNames.count)
    }

    mutating func addStep(_ step: Int, task: JSONString, after: [Int], afterNames: [JSONString],
                          descriptor: TaskDescriptor?, jobs: StepJobs) {
        let upstream = after.flatMap { stepSlots[$0] }
        let dependsOn = upstream.map { keys[Int($0)] }
        let listID = upstreamListIDs[after] ?? addUpstreamList(upstream)
        upstreamListIDs[after] = listID
        let outputFiles = descriptor?.outputFiles ?? []

        var slots = [Int32]()
        slots.reserveCapacity(jobs.count)
        keyIndex.reserveCapacity(keyIndex.count + jobs.count + 1)
        nodes.reserveCapacity(nodes.count + jobs.count + 1)
        hasher.beginStep(task: task, subject: subjectKey, kwargs: kwargs, identityKeys: descriptor?.identityKeys,
                         basePrefix: basePrefix)
        var merger = KwargsMerger(kwargs)
        let shared = TaskNodeShared(function: task, subjectKey: subjectKey, dependsOn: dependsOn,
                                    outputFiles: outputFiles,
                                    after: zip(afterNames, after).map { ($0, stepSlots[$1].count) })
        let template = TaskNode(key: "", kwargs: JSONObject(), storagePrefix: "", shared: shared)
        var prefixes = hasher.prefixes(of: jobs)
        for index in 0..<jobs.count {
            let merged = jobs.withJob(index) { merger.merged(keys: $0, values: $1) }
            // Moved out (an empty string left behind): no retain now, no release when
            // the array goes.
            var prefix = JSONString(wtf8: [])
            swap(&prefix, &prefixes[index])
            let slot = claimSlot(key: prefix, upstreamList: listID, step: step)
            if slot.replaced {
                nodes[slot.slot] = TaskNode(key: prefix, kwargs: merged, storagePrefix: prefix, shared: shared)
            } else {
                // A copy of the step's template (empty fields and the shared box), given
                // its own fields in place: a node made with TaskNode.init and appended
                // was copied once more (every field retained and released again).
                nodes.append(template)
                let last = nodes.count - 1
                nodes[last].key = prefix
                nodes[last].storagePrefix = prefix
                nodes[last].kwargs = merged
            }
            slots.append(Int32(slot.slot))
        }
        stepSlots[step] = slots
    }

    /// A new upstream list: the nodes built with one list form one dependency group.
    private mutating func addUpstreamList(_ upstream: [Int32]) -> Int32 {
        let listID = Int32(upstreamLists.count)
        var distinct: [(slot: Int32, mentions: Int32)] = []
        if distinctMark.count < nodes.count { distinctMark += Array(repeating: (-1, 0), count: nodes.count - distinctMark.count) }
        for slot in upstream.map(Int.init) {
            if distinctMark[slot].list == listID {
                distinct[Int(distinctMark[slot].index)].mentions += 1
            } else {
                distinctMark[slot] = (listID, Int32(distinct.count))
                distinct.append((Int32(slot), 1))
            }
        }
        upstreamLists.append(distinct)
        return listID
    }

    private mutating func place(_ node: consuming TaskNode, upstreamList: Int32) -> (slot: Int, replaced: Bool) {
        let slot = claimSlot(key: node.key, upstreamList: upstreamList, step: nil)
        if slot.replaced { nodes[slot.slot] = node } else { nodes.append(node) }
        return slot
    }

    /// The slot of the node with this key: the slot of an earlier node of that key,
    /// which the caller replaces, or a new slot at the end, which the caller appends.
    private mutating func claimSlot(key: JSONString, upstreamList: Int32, step: Int?) -> (slot: Int, replaced: Bool) {
        if let existing = keyIndex.append(key) {
            upstreamOfSlot[existing] = upstreamList
            let earlier = stepOfSlot[existing]
            collisions.append(Collision(key: key, earlierStep: earlier < 0 ? nil : Int(earlier), laterStep: step))
            stepOfSlot[existing] = Int32(step ?? -1)
            return (existing, true)
        }
        upstreamOfSlot.append(upstreamList)
        stepOfSlot.append(Int32(step ?? -1))
        return (nodes.count, false)
    }

    /// muflow's reverse-edge pass: every node, in dict order, appends its key to the
    /// depended_on_by of each key in its depends_on. Runs of consecutive slots built
    /// with the same upstream list are handled at once, so the work is O(runs x list)
    /// rather than O(edges).
    mutating func linkDependents() {
        dependents.reset(slotCount: nodes.count)
        var start = 0
        while start < nodes.count {
            let list = upstreamOfSlot[start]
            var end = start + 1
            while end < nodes.count && upstreamOfSlot[end] == list { end += 1 }
            for (upstream, mentions) in upstreamLists[Int(list)] {
                dependents.append(DependentRun(start: Int32(start), end: Int32(end), repeats: mentions), to: Int(upstream))
            }
            start = end
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
        let (slot, replaced) = place(sentinel, upstreamList: addUpstreamList(last))
        madeSentinel = true
        if replaced { dependents.clear(slot) } else { dependents.addSlot() }
        for upstream in last.map(Int.init) {
            dependents.append(DependentRun(start: Int32(slot), end: Int32(slot + 1), repeats: 1), to: upstream)
        }
        return key
    }

    /// The plan, with each distinct depended_on_by list materialised once and shared,
    /// and its edges grouped by upstream list (the nodes of one step form one group).
    mutating func plan(rootKey: JSONString) throws -> TaskPlan {
        var finished = nodes
        nodes = []  // so that the nodes are changed in place, not copied
        let keys = self.keys
        var materialised = [[JSONString]?](repeating: nil, count: dependents.listCount)
        for slot in finished.indices {
            let list = dependents.list(of: slot)
            if list == DependentLists.empty { continue }
            if materialised[list] == nil {
                var keyList = [JSONString]()
                for run in dependents.runs(list) {
                    for dependent in run.start..<run.end {
                        for _ in 0..<run.repeats { keyList.append(keys[Int(dependent)]) }
                    }
                }
                materialised[list] = keyList
            }
            finished[slot].dependedOnBy = materialised[list]!
        }
        let groups = GroupedDependencies(groupOfNode: upstreamOfSlot,
                                         groupDependencies: upstreamLists.map { $0.map(\.slot) }, keys: keys)
        // Without a replaced node, every node depends only on nodes of earlier steps.
        return try TaskPlan(keyIndex: keyIndex, nodes: finished, rootKey: rootKey, dependencyGroups: groups,
                            acyclicByConstruction: collisions.isEmpty, rootIsBuiltSentinel: madeSentinel,
                            builtSteps: BuiltSteps(names: stepNames, stepOfNode: stepOfSlot))
    }
}

/// Slots start..<end, each appearing `repeats` times in a row.
struct DependentRun: Hashable {
    var start: Int32
    var end: Int32
    var repeats: Int32
}

/// Each slot's depended_on_by as a list of runs. Lists are shared: a slot's list is an
/// id, and appending a run to a list seen before with that run gives the id found
/// then, so the N nodes of a fan-out feeding one node share one list, built once.
struct DependentLists {
    static let empty = 0
    private var listOfSlot: [Int] = []
    private var lists: [[DependentRun]] = [[]]
    private var extensions: [Extension: Int] = [:]
    private var lastExtension: (Extension, Int)?

    private struct Extension: Hashable {
        let list: Int
        let run: DependentRun
    }

    var listCount: Int { lists.count }
    func list(of slot: Int) -> Int { listOfSlot[slot] }
    func runs(_ list: Int) -> [DependentRun] { lists[list] }

    mutating func reset(slotCount: Int) {
        listOfSlot = Array(repeating: Self.empty, count: slotCount)
    }

    mutating func addSlot() { listOfSlot.append(Self.empty) }
    mutating func clear(_ slot: Int) { listOfSlot[slot] = Self.empty }

    /// Appends `run` to the slot's list, merging it into the last run when both are
    /// single consecutive runs, so equal key lists have equal run lists.
    mutating func append(_ run: DependentRun, to slot: Int) {
        let step = Extension(list: listOfSlot[slot], run: run)
        // The slots of a step mostly take the same run onto the same list in a row.
        if let (previous, known) = lastExtension, previous == step {
            listOfSlot[slot] = known
            return
        }
        if let known = extensions[step] {
            listOfSlot[slot] = known
            lastExtension = (step, known)
            return
        }
        var runs = lists[step.list]
        if let last = runs.last, last.repeats == 1, run.repeats == 1, last.end == run.start {
            runs[runs.count - 1].end = run.end
        } else {
            runs.append(run)
        }
        lists.append(runs)
        extensions[step] = lists.count - 1
        listOfSlot[slot] = lists.count - 1
        lastExtension = (step, lists.count - 1)
    }
}
