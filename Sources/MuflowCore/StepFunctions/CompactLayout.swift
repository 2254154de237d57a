/// The layout that runs plans within AWS's limits. The plan is stored once in S3; an
/// invocation receives only what locates its node: `{"bucket", "plan_key", "node"}`,
/// the node's index in the plan. Nodes are grouped into levels (a node's level is one
/// more than its latest dependency's, counting only the nodes that run); a level of one
/// node is a Task state, a wider level one Map state: inline over the list of its node
/// indices while the execution's history allows, else a Distributed Map whose items (the
/// same list) an ItemReader takes from S3 and whose nodes run as child executions, each
/// with a history of its own. No task output enters the state (`ResultPath: null`).
public enum CompactLayout {
    public struct Options: Sendable {
        /// The key of the plan's JSON (TaskPlan.to_json) in the target's bucket.
        public var planKey: String
        /// Distributed Maps read their items from `{itemsPrefix}/level-{L}.json`.
        public var itemsPrefix: String
        /// Indices of nodes whose results are complete already: they are not run.
        public var completed: Set<Int>
        public var limits: AWSLimits

        public init(planKey: String, itemsPrefix: String, completed: Set<Int> = [], limits: AWSLimits = .aws) {
            self.planKey = planKey
            self.itemsPrefix = itemsPrefix
            self.completed = completed
            self.limits = limits
        }
    }

    /// The state machine for `plan`, or a limit error (MuflowError.limit) naming each
    /// limit it would exceed and by how much.
    public static func generate(_ plan: TaskPlan, target: StateMachineTarget, options: Options) throws -> StateMachine {
        let levels = try runLevels(plan, skipping: options.completed)
        let distributed = chooseDistributed(levels, limits: options.limits)
        var states: [(name: String, state: [(String, JSONValue)])] = []
        var itemFiles: [(key: String, body: [UInt8])] = []
        var events = HistoryEvents.execution
        var largestPayload = 2
        let locator: [(String, JSONValue)] = [("bucket", ASL.string(target.bucket)), ("plan_key", ASL.string(options.planKey))]
        func runNode(_ node: (String, JSONValue)) -> [(String, JSONValue)] {
            ASL.lambdaTask(target, payload: ("Payload", ASL.object(locator + [node])))
        }
        /// Each item's states: its input is `{"node": index}` (the ItemSelector's).
        func processor(_ config: [(String, JSONValue)]) -> JSONValue {
            let run = runNode(("node.$", ASL.string("$.node"))) + [("End", .bool(true))]
            return ASL.object([("ProcessorConfig", ASL.object(config)), ("StartAt", ASL.string("RunNode")),
                               ("States", ASL.object([("RunNode", ASL.object(run))]))])
        }
        for (l, level) in levels.enumerated() {
            let name = "Level\(l)"
            let items = indexList(level)
            if level.count == 1 {
                states.append((name: name, state: runNode(("node", .int(level[0])))))
                events += HistoryEvents.task
            } else if distributed.contains(l) {
                let key = "\(options.itemsPrefix)/level-\(l).json"
                itemFiles.append((key: key, body: items))
                states.append((name: name, state: [
                    ("Type", ASL.string("Map")),
                    ("ItemReader", ASL.object([
                        ("Resource", ASL.string("arn:aws:states:::s3:getObject")),
                        ("ReaderConfig", ASL.object([("InputType", ASL.string("JSON"))])),
                        ("Parameters", ASL.object([("Bucket", ASL.string(target.bucket)), ("Key", ASL.string(key))])),
                    ])),
                    ("ItemSelector", ASL.object([("node.$", ASL.string("$$.Map.Item.Value"))])),
                    ("ItemProcessor", processor([("Mode", ASL.string("DISTRIBUTED")), ("ExecutionType", ASL.string("STANDARD"))])),
                    ("ResultPath", .null),
                ]))
                events += HistoryEvents.distributedMap
            } else {
                let values = JSONValue.array(level.map { .int($0) })
                states.append((name: name + "Items", state: [("Type", ASL.string("Pass")), ("Result", values),
                                                             ("ResultPath", ASL.string("$.items"))]))
                states.append((name: name, state: [
                    ("Type", ASL.string("Map")),
                    ("ItemsPath", ASL.string("$.items")),
                    ("ItemSelector", ASL.object([("node.$", ASL.string("$$.Map.Item.Value"))])),
                    ("ItemProcessor", processor([("Mode", ASL.string("INLINE"))])),
                    ("ResultPath", .null),
                ]))
                events += inlineEvents(level.count)
                largestPayload = max(largestPayload, inlinePayloadBytes(items))
            }
        }
        if states.isEmpty {
            states.append((name: "AllCached", state: [("Type", ASL.string("Pass"))]))
            events += HistoryEvents.pass
        }
        let ran = levels.reduce(0) { $0 + $1.count }
        let comment = target.comment ?? "muflow plan \(plan.rootKey): \(ran) of \(plan.count) nodes to run"
        let machine = StateMachine(definition: try ASL.text(ASL.chain(states, comment: comment)), historyEvents: events,
                                   largestPayloadBytes: largestPayload, itemFiles: itemFiles,
                                   inlineMaps: levels.indices.filter { levels[$0].count > 1 && !distributed.contains($0) }.count,
                                   distributedMaps: distributed.count, nodesRun: ran)
        try options.limits.check(machine)
        return machine
    }

    /// The nodes that run, by level: cached nodes are left out, and a node waits only
    /// for the dependencies that run.
    static func runLevels(_ plan: TaskPlan, skipping completed: Set<Int>) throws -> [[Int]] {
        let groups = plan.dependencyGroups
        var level = [Int](repeating: -1, count: plan.count)
        // Nodes with the same dependencies (a group) share their level: a fan-in of N
        // nodes over N others costs N steps, not N squared.
        var groupLevel = [Int](repeating: -1, count: groups.groupDependencies.count)
        var levels: [[Int]] = []
        for index in try plan.levels().joined() where !completed.contains(index) {
            let group = Int(groups.groupOfNode[index])
            if groupLevel[group] < 0 {
                groupLevel[group] = groups.groupDependencies[group].reduce(0) { max($0, level[Int($1)] + 1) }
            }
            let mine = groupLevel[group]
            level[index] = mine
            if mine == levels.count { levels.append([]) }
            levels[mine].append(index)
        }
        return levels.map { $0.sorted() }
    }

    /// The levels to run as Distributed Maps: none while the history fits (inline Maps
    /// cost no S3 read and no child executions), then the widest inline ones first. A
    /// level whose item list would not fit in a state's payload is always distributed.
    static func chooseDistributed(_ levels: [[Int]], limits: AWSLimits) -> Set<Int> {
        var distributed = Set<Int>()
        var events = HistoryEvents.execution
        for level in levels {
            if level.count == 1 {
                events += HistoryEvents.task
            } else {
                events += inlineEvents(level.count)
            }
        }
        for (l, level) in levels.enumerated() where level.count > 1 {
            if inlinePayloadBytes(indexList(level)) > limits.payloadBytes {
                distributed.insert(l)
                events += HistoryEvents.distributedMap - inlineEvents(level.count)
            }
        }
        let widest = levels.indices.filter { levels[$0].count > 1 && !distributed.contains($0) }
            .sorted { levels[$0].count > levels[$1].count }
        for l in widest where events > limits.historyEvents {
            distributed.insert(l)
            events += HistoryEvents.distributedMap - inlineEvents(levels[l].count)
        }
        return distributed
    }

    static func inlineEvents(_ count: Int) -> Int {
        HistoryEvents.pass + HistoryEvents.inlineMap + count * (HistoryEvents.inlineIteration + HistoryEvents.task)
    }

    /// The state after the Pass state: `{"items":[...]}`.
    static func inlinePayloadBytes(_ items: [UInt8]) -> Int { items.count + 11 }

    static func indexList(_ nodes: [Int]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, node) in nodes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += String(node).utf8
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}
