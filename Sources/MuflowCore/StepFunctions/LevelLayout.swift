/// muflow 0.4.0's layout, kept for compatibility: one state per level, a Task state for
/// a one-node level, otherwise a Parallel state with one branch per node, each node's
/// whole payload written into the definition. Its size grows with nodes times levels'
/// widths, so it outgrows AWS's limits early; CompactLayout is what runs plans.
public enum LevelLayout {
    /// `levels`: node indices of `plan`, level by level (the plan's own levels if nil).
    public static func generate(_ plan: TaskPlan, levels: [[Int]]? = nil,
                                target: StateMachineTarget) throws -> StateMachine? {
        let levels = try levels ?? plan.levels()
        guard !levels.isEmpty else { return nil }
        var states: [(name: String, state: [(String, JSONValue)])] = []
        var events = HistoryEvents.execution
        var largestPayload = 2
        for (i, level) in levels.enumerated() {
            let tasks = try level.map { index -> [(String, JSONValue)] in
                let payload = payload(plan.nodes[index], target)
                largestPayload = max(largestPayload, try ASL.text(payload).count)
                return ASL.lambdaTask(target, payload: ("Payload", payload))
            }
            if tasks.count == 1 {
                states.append((name: "Level\(i)", state: tasks[0]))
                events += HistoryEvents.task
            } else {
                let branches = tasks.map { task in
                    ASL.object([("StartAt", ASL.string("Execute")),
                                ("States", ASL.object([("Execute", ASL.object(task + [("End", .bool(true))]))]))])
                }
                states.append((name: "Level\(i)", state: [("Type", ASL.string("Parallel")),
                                                         ("Branches", .array(branches)), ("ResultPath", .null)]))
                events += HistoryEvents.parallel + tasks.count * HistoryEvents.task
            }
        }
        let comment = target.comment ?? "muFlow plan: \(plan.rootKey)"
        let definition = try ASL.text(ASL.chain(states, comment: comment))
        return StateMachine(definition: definition, historyEvents: events, largestPayloadBytes: largestPayload,
                            itemFiles: [], inlineMaps: 0, distributedMaps: 0,
                            nodesRun: levels.reduce(0) { $0 + $1.count })
    }

    /// muflow's event for one node: everything it needs, inlined.
    static func payload(_ node: TaskNode, _ target: StateMachineTarget) -> JSONValue {
        ASL.object([
            ("task_name", .string(node.function)),
            ("kwargs", .object(node.kwargs)),
            ("storage_prefix", .string(node.storagePrefix)),
            ("dependency_prefixes", .object(node.dependencyAccessMap)),
            ("bucket", ASL.string(target.bucket)),
            ("node_key", .string(node.key)),
        ])
    }
}
