import CMuflowHeader
import MuflowCore

@c @implementation
public func mf_plan_state_machine(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                  _ outLength: UnsafeMutablePointer<Int>?, _ plan: OpaquePointer?,
                                  _ optionsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let plan = try requiredObject(plan, "plan", as: PlanHandle.self).plan
        guard case .object(let options)? = try optionalJSONArgument(try required(optionsJSON, "options_json")) else {
            throw invalidArgument("options_json must be a JSON object")
        }
        let known: Set<String> = ["layout", "function_arn", "bucket", "plan_key", "items_prefix", "completed",
                                  "levels", "check_limits", "comment"]
        if let unknown = options.keys.first(where: { !known.contains($0.description) }) {
            throw invalidArgument("options_json: unknown option '\(unknown)'")
        }
        let target = StateMachineTarget(functionArn: try text(options, "function_arn"),
                                        bucket: try text(options, "bucket"),
                                        comment: options["comment"] == nil ? nil : try text(options, "comment"))
        let machine: StateMachine?
        switch options["layout"].flatMap({ $0.stringValue?.description }) ?? "compact" {
        case "compact":
            let planKey = try text(options, "plan_key")
            let itemsPrefix = options["items_prefix"] == nil ? planKey + ".items" : try text(options, "items_prefix")
            let completed = try indices(options["completed"], count: plan.count)
            machine = try CompactLayout.generate(plan, target: target, options: .init(
                planKey: planKey, itemsPrefix: itemsPrefix, completed: Set(completed)))
        case "levels":
            let levels = try options["levels"].map { try levelsArgument($0, plan) }
            machine = try LevelLayout.generate(plan, levels: levels, target: target)
            if let machine, try flag(options, "check_limits", default: true) { try AWSLimits.aws.check(machine) }
        default:
            throw invalidArgument("options_json: layout must be \"compact\" or \"levels\"")
        }
        deliver(PythonJSON.dumps(report(machine)), to: out, length: outLength)
    }
}

private func report(_ machine: StateMachine?) -> JSONValue {
    guard let machine else { return .object(JSONObject([("definition", .null)])) }
    return .object(JSONObject([
        ("definition", .string(JSONString(wtf8: machine.definition))),
        ("definition_bytes", .int(machine.definitionBytes)),
        ("history_events", .int(machine.historyEvents)),
        ("largest_payload_bytes", .int(machine.largestPayloadBytes)),
        ("inline_maps", .int(machine.inlineMaps)),
        ("distributed_maps", .int(machine.distributedMaps)),
        ("nodes_run", .int(machine.nodesRun)),
        ("item_files", .array(machine.itemFiles.map {
            .object(JSONObject([("key", .string(JSONString($0.key))), ("body", .string(JSONString(wtf8: $0.body)))]))
        })),
    ]))
}

private func text(_ options: JSONObject, _ name: String) throws -> String {
    guard case .string(let value)? = options[name] else {
        throw invalidArgument("options_json: '\(name)' must be a string")
    }
    return value.description
}

private func flag(_ options: JSONObject, _ name: String, default value: Bool) throws -> Bool {
    switch options[name] {
    case nil: return value
    case .bool(let b)?: return b
    default: throw invalidArgument("options_json: '\(name)' must be true or false")
    }
}

private func indices(_ value: JSONValue?, count: Int) throws -> [Int] {
    guard let value else { return [] }
    guard case .array(let items) = value else { throw invalidArgument("options_json: 'completed' must be an array of node indices") }
    return try items.map {
        guard case .int(let i) = $0, i >= 0, i < count else {
            throw invalidArgument("options_json: 'completed' must hold node indices from 0 to \(count - 1)")
        }
        return i
    }
}

private func levelsArgument(_ value: JSONValue, _ plan: TaskPlan) throws -> [[Int]] {
    guard case .array(let levels) = value else { throw invalidArgument("options_json: 'levels' must be an array of arrays of node keys") }
    return try levels.map { level in
        guard case .array(let keys) = level else { throw invalidArgument("options_json: 'levels' must be an array of arrays of node keys") }
        return try keys.map { key in
            guard case .string(let key) = key else { throw invalidArgument("options_json: 'levels' must hold node keys") }
            guard let index = plan.index(ofKey: key) else { throw MuflowError(.notFound, "options_json: no node '\(key)' in the plan") }
            return index
        }
    }
}
