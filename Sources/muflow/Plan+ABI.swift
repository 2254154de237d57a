import CMuflowHeader
import Glibc
import MuflowCore

/// The Swift object behind `mf_plan *`, with the root key kept as a C string for
/// mf_plan_root_key.
final class PlanHandle {
    let plan: TaskPlan
    let cRootKey: UnsafeMutablePointer<CChar>

    init(_ plan: TaskPlan) {
        self.plan = plan
        cRootKey = ownedCString(plan.rootKey.utf8)
    }

    deinit { free(cRootKey) }
}

private func planArgument(_ handle: OpaquePointer?) throws -> TaskPlan {
    try requiredObject(handle, "plan", as: PlanHandle.self).plan
}

/// A key argument as its bytes, unchecked: keys are compared, never interpreted.
private func keyArgument(_ pointer: UnsafePointer<CChar>?, _ name: StaticString) throws -> JSONString {
    let p = try required(pointer, name)
    return JSONString(wtf8: Array(UnsafeRawBufferPointer(start: p, count: strlen(p))))
}

private func completedArgument(_ json: UnsafePointer<CChar>?) throws -> Set<JSONString> {
    guard case .array(let items)? = try optionalJSONArgument(try required(json, "completed_json")) else {
        throw invalidArgument("completed_json must be a JSON array of node keys")
    }
    var keys = Set<JSONString>(minimumCapacity: items.count)
    for item in items {
        guard case .string(let key) = item else { throw invalidArgument("completed_json must be a JSON array of node keys") }
        keys.insert(key)
    }
    return keys
}

private func keysJSON(_ plan: TaskPlan, _ indices: [Int]) -> [UInt8] {
    asciiJSON(.array(indices.map { .string(plan.entryKeys[$0]) }))
}

/// JSON the library produces itself (key lists, descriptors): Python's json.dumps text,
/// which escapes every non-ASCII character and so can carry any key, even one holding a
/// lone surrogate.
func asciiJSON(_ value: JSONValue) -> [UInt8] {
    PythonJSON.dumps(value, sortKeys: false)
}

/// A value as the plan JSON holds it (pydantic's compact text).
private func pydanticJSON(_ value: JSONValue) throws -> [UInt8] {
    try CompactJSON.text(value)
}

@c @implementation
public func mf_plan_free(_ plan: OpaquePointer?) {
    releaseHandle(plan, as: PlanHandle.self)
}

@c @implementation
public func mf_plan_to_json(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ outLength: UnsafeMutablePointer<Int>?, _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        deliver(try planArgument(plan).toJSON(), to: out, length: outLength)
    }
}

/// The object behind `mf_plan_json *`.
final class PlanJSONHandle {
    let text: PlanJSONText
    init(_ text: PlanJSONText) { self.text = text }
}

@c @implementation
public func mf_plan_json_layout(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ outLength: UnsafeMutablePointer<Int>?,
                                _ outASCII: UnsafeMutablePointer<Int32>?, _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let outLength = try required(outLength, "out_len")
        let outASCII = try required(outASCII, "out_ascii")
        let text = try planArgument(plan).jsonText()
        outLength.pointee = text.count
        outASCII.pointee = text.isASCII ? 1 : 0
        out.pointee = retainedHandle(PlanJSONHandle(text))
    }
}

@c @implementation
public func mf_plan_json_write(_ destination: UnsafeMutablePointer<CChar>?, _ layout: OpaquePointer?) {
    guard let layout, let destination else { return }
    let text = object(layout, as: PlanJSONHandle.self).text
    adviseHugePages(UnsafeMutableRawPointer(destination), count: text.count)
    text.write(to: UnsafeMutableRawPointer(destination))
}

@c @implementation
public func mf_plan_json_free(_ layout: OpaquePointer?) {
    releaseHandle(layout, as: PlanJSONHandle.self)
}

/// Asks the kernel to back the whole 2 MiB pages inside a large, fresh destination with
/// huge pages: touching it then faults 512 times less often (a 176 MB plan text took
/// 60 ms of page faults with 4 KiB pages, 15 ms with huge pages). Only a hint: a
/// refusal (no transparent huge pages) changes nothing.
private func adviseHugePages(_ start: UnsafeMutableRawPointer, count: Int) {
    let hugePage = 2 << 20
    guard count >= 4 * hugePage else { return }
    let first = (Int(bitPattern: start) + hugePage - 1) & ~(hugePage - 1)
    let last = (Int(bitPattern: start) + count) & ~(hugePage - 1)
    guard last > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
    _ = madvise(aligned, last - first, MADV_HUGEPAGE)
}

@c @implementation
public func mf_plan_from_json(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ json: UnsafePointer<CChar>?,
                              _ length: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let json = try required(json, "json")
        let plan = try TaskPlan.fromJSON(UnsafeRawBufferPointer(start: json, count: length))
        out.pointee = retainedHandle(PlanHandle(plan))
    }
}

@c @implementation
public func mf_plan_node_count(_ plan: OpaquePointer?) -> Int {
    guard let plan else { return 0 }
    return object(plan, as: PlanHandle.self).plan.count
}

@c @implementation
public func mf_plan_root_key(_ plan: OpaquePointer?) -> UnsafePointer<CChar>! {
    guard let plan else { return staticCString("") }
    return UnsafePointer(object(plan, as: PlanHandle.self).cRootKey)
}

@c @implementation
public func mf_plan_root_index(_ plan: OpaquePointer?) -> Int {
    guard let plan else { return 0 }
    return object(plan, as: PlanHandle.self).plan.rootIndex
}

@c @implementation
public func mf_plan_node_index(_ outIndex: UnsafeMutablePointer<Int>?, _ plan: OpaquePointer?,
                               _ key: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(outIndex, "out_index")
        let plan = try planArgument(plan)
        let key = try keyArgument(key, "key")
        guard let index = plan.index(ofKey: key) else { throw MuflowError(.notFound, "the plan has no node '\(key)'") }
        out.pointee = index
    }
}

@c @implementation
public func mf_plan_node_field(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                               _ outLength: UnsafeMutablePointer<Int>?, _ plan: OpaquePointer?,
                               _ index: Int, _ field: mf_node_field) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let plan = try planArgument(plan)
        guard plan.nodes.indices.contains(index) else {
            throw MuflowError(.notFound, "node index \(index) is out of range (the plan has \(plan.count) nodes)")
        }
        let bytes = try fieldText(of: plan, at: index, field)
        deliver(bytes, to: out, length: outLength)
    }
}

/// One field of one node as mf_plan_node_field returns it: string fields as their
/// text, the others as pydantic's JSON.
private func fieldText(of plan: TaskPlan, at index: Int, _ field: mf_node_field) throws -> [UInt8] {
    let node = plan.nodes[index]
    func strings(_ list: [JSONString]) throws -> [UInt8] { try pydanticJSON(.array(list.map(JSONValue.string))) }
    switch field {
    case MF_NODE_KEY: return node.key.utf8
    case MF_NODE_FUNCTION: return node.function.utf8
    case MF_NODE_SUBJECT_KEY: return node.subjectKey.utf8
    case MF_NODE_STORAGE_PREFIX: return node.storagePrefix.utf8
    case MF_NODE_KWARGS: return try pydanticJSON(.object(node.kwargs))
    case MF_NODE_DEPENDS_ON: return try strings(node.dependsOn)
    case MF_NODE_DEPENDED_ON_BY: return try strings(node.dependedOnBy)
    case MF_NODE_OUTPUT_FILES: return try strings(node.outputFiles)
    case MF_NODE_ACCESS_MAP: return try pydanticJSON(.object(node.dependencyAccessMap))
    case MF_NODE_ANALYSIS_ID: return try pydanticJSON(node.analysisID ?? .null)
    case MF_NODE_JSON: return try plan.nodeJSON(at: index)
    default: throw invalidArgument("unknown mf_node_field \(field.rawValue)")
    }
}

@c @implementation
public func mf_plan_field_values(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ plan: OpaquePointer?, _ field: mf_node_field) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let plan = try planArgument(plan)
        guard field != MF_NODE_JSON else { throw invalidArgument("mf_plan_field_values does not take MF_NODE_JSON") }
        let isString = [MF_NODE_KEY, MF_NODE_FUNCTION, MF_NODE_SUBJECT_KEY, MF_NODE_STORAGE_PREFIX].contains(field)
        var text: [UInt8] = [UInt8(ascii: "[")]
        for index in plan.nodes.indices {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            let bytes = try fieldText(of: plan, at: index, field)
            if isString {
                PythonJSON.write(.string(JSONString(wtf8: bytes)), into: &text)
            } else {
                text += bytes
            }
        }
        text.append(UInt8(ascii: "]"))
        deliver(text, to: out)
    }
}

@c @implementation
public func mf_plan_nodes_json(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                               _ outLength: UnsafeMutablePointer<Int>?, _ plan: OpaquePointer?, _ start: Int,
                               _ maxCount: Int, _ byteBudget: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let plan = try planArgument(plan)
        guard plan.nodes.indices.contains(start) else {
            throw MuflowError(.notFound, "node index \(start) is out of range (the plan has \(plan.count) nodes)")
        }
        guard maxCount > 0 else { throw invalidArgument("max_count must be at least 1") }
        var text: [UInt8] = [UInt8(ascii: "[")]
        for index in start..<min(plan.count, start + maxCount) {
            if index > start {
                guard text.count < byteBudget else { break }
                text.append(UInt8(ascii: ","))
            }
            text += try plan.nodeJSON(at: index)
        }
        text.append(UInt8(ascii: "]"))
        deliver(text, to: out, length: outLength)
    }
}

@c @implementation
public func mf_plan_node_keys(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let plan = try planArgument(plan)
        deliver(keysJSON(plan, Array(plan.nodes.indices)), to: out)
    }
}

@c @implementation
public func mf_plan_leaf_nodes(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                               _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let plan = try planArgument(plan)
        deliver(keysJSON(plan, plan.leafNodes), to: out)
    }
}

@c @implementation
public func mf_plan_dependency_groups(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                      _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let groups = try planArgument(plan).dependencyGroups
        var text: [UInt8] = Array("[[".utf8)
        text.reserveCapacity(8 * groups.nodeCount + 16)
        var digits = [UInt8](repeating: 0, count: 10)
        func append(_ numbers: [Int32]) {
            for (i, number) in numbers.enumerated() {
                if i > 0 { text.append(UInt8(ascii: ",")) }
                var n = Int(number)  // indices: never negative
                var k = digits.count
                repeat {
                    k -= 1
                    digits[k] = UInt8(ascii: "0") + UInt8(n % 10)
                    n /= 10
                } while n > 0
                text += digits[k...]
            }
        }
        append(groups.groupOfNode)
        text += Array("],[".utf8)
        for (g, dependencies) in groups.groupDependencies.enumerated() {
            text += Array((g > 0 ? ",[" : "[").utf8)
            append(dependencies)
            text.append(UInt8(ascii: "]"))
        }
        text += Array("]]".utf8)
        deliver(text, to: out)
    }
}

@c @implementation
public func mf_plan_ready_nodes(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ plan: OpaquePointer?, _ completedJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let plan = try planArgument(plan)
        deliver(keysJSON(plan, plan.readyNodes(completed: try completedArgument(completedJSON))), to: out)
    }
}

@c @implementation
public func mf_plan_is_complete(_ outComplete: UnsafeMutablePointer<Int32>?, _ plan: OpaquePointer?,
                                _ completedJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(outComplete, "out_complete")
        let plan = try planArgument(plan)
        out.pointee = plan.isComplete(completed: try completedArgument(completedJSON)) ? 1 : 0
    }
}

@c @implementation
public func mf_plan_levels(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let plan = try planArgument(plan)
        let levels = try plan.levels()
        deliver(asciiJSON(.array(levels.map { .array($0.map { .string(plan.entryKeys[$0]) }) })), to: out)
    }
}

@c @implementation
public func mf_plan_sentinel_index(_ outFound: UnsafeMutablePointer<Int32>?, _ outIndex: UnsafeMutablePointer<Int>?,
                                   _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let outFound = try required(outFound, "out_found")
        let outIndex = try required(outIndex, "out_index")
        let plan = try planArgument(plan)
        outFound.pointee = 0
        if let sentinel = plan.sentinelIndex {
            outFound.pointee = 1
            outIndex.pointee = sentinel
        }
    }
}

@c @implementation
public func mf_plan_check_tasks(_ plan: OpaquePointer?, _ registry: OpaquePointer?) -> mf_status {
    abiCall {
        let plan = try planArgument(plan)
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        try plan.checkTasks { isRegistered($0, in: registry) }
    }
}
