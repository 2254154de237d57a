extension TaskPlan {
    /// The plan as muflow's `TaskPlan.model_dump_json()` writes it (pydantic v2 compact
    /// JSON, fields in declaration order), byte for byte. Fails, as pydantic does, on a
    /// string holding a lone surrogate.
    public func toJSON() throws -> [UInt8] {
        var writer = PlanJSONWriter()
        try writer.write(self)
        return writer.out
    }

    /// One node as `TaskNode.model_dump_json()` writes it.
    public func nodeJSON(at index: Int) throws -> [UInt8] {
        var writer = PlanJSONWriter()
        try writer.write(nodes[index])
        return writer.out
    }
}

/// Writes plan JSON, reusing the text of arrays and maps that nodes share (all nodes of
/// a step share one depends_on array; without this a fan-in would escape the same keys
/// once per node).
struct PlanJSONWriter {
    var out: [UInt8] = []
    private var sharedTexts: [ArrayStorageID: [UInt8]] = [:]
    private var sharedMapTexts: [MapStorageID: [UInt8]] = [:]

    private struct MapStorageID: Hashable {
        let keys: ArrayStorageID
        let values: ArrayStorageID
    }

    mutating func write(_ plan: TaskPlan) throws {
        out += Self.nodesOpening
        for (index, node) in plan.nodes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            try string(plan.entryKeys[index])
            out.append(UInt8(ascii: ":"))
            try write(node)
        }
        out += Self.rootKeyField
        try string(plan.rootKey)
        out.append(UInt8(ascii: "}"))
    }

    mutating func write(_ node: TaskNode) throws {
        out += Self.keyField
        try string(node.key)
        out += Self.functionField
        try string(node.function)
        out += Self.subjectKeyField
        try string(node.subjectKey)
        out += Self.kwargsField
        try CompactJSON.write(.object(node.kwargs), into: &out)
        out += Self.storagePrefixField
        try string(node.storagePrefix)
        out += Self.dependsOnField
        try stringList(node.dependsOn)
        out += Self.dependedOnByField
        try stringList(node.dependedOnBy)
        out += Self.outputFilesField
        try stringList(node.outputFiles)
        out += Self.analysisIDField
        try CompactJSON.write(node.analysisID ?? .null, into: &out)
        out += Self.accessMapField
        try accessMap(node.dependencyAccessMap)
        out.append(UInt8(ascii: "}"))
    }

    private mutating func string(_ s: JSONString) throws {
        try CompactJSON.write(.string(s), into: &out)
    }

    private mutating func stringList(_ list: [JSONString]) throws {
        guard let id = ArrayStorageID(list), list.count > 1 else {
            try writeList(list)
            return
        }
        if let text = sharedTexts[id] {
            out += text
            return
        }
        let start = out.count
        try writeList(list)
        sharedTexts[id] = Array(out[start...])
    }

    private mutating func writeList(_ list: [JSONString]) throws {
        out.append(UInt8(ascii: "["))
        for (i, item) in list.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            try string(item)
        }
        out.append(UInt8(ascii: "]"))
    }

    private mutating func accessMap(_ map: JSONObject) throws {
        guard map.count > 1, let keys = ArrayStorageID(map.keys), let values = ArrayStorageID(map.values) else {
            try CompactJSON.write(.object(map), into: &out)
            return
        }
        let id = MapStorageID(keys: keys, values: values)
        if let text = sharedMapTexts[id] {
            out += text
            return
        }
        let start = out.count
        try CompactJSON.write(.object(map), into: &out)
        sharedMapTexts[id] = Array(out[start...])
    }

    private static let nodesOpening = Array(#"{"nodes":{"#.utf8)
    private static let rootKeyField = Array(#"},"root_key":"#.utf8)
    private static let keyField = Array(#"{"key":"#.utf8)
    private static let functionField = Array(#","function":"#.utf8)
    private static let subjectKeyField = Array(#","subject_key":"#.utf8)
    private static let kwargsField = Array(#","kwargs":"#.utf8)
    private static let storagePrefixField = Array(#","storage_prefix":"#.utf8)
    private static let dependsOnField = Array(#","depends_on":"#.utf8)
    private static let dependedOnByField = Array(#","depended_on_by":"#.utf8)
    private static let outputFilesField = Array(#","output_files":"#.utf8)
    private static let analysisIDField = Array(#","analysis_id":"#.utf8)
    private static let accessMapField = Array(#","dependency_access_map":"#.utf8)
}
