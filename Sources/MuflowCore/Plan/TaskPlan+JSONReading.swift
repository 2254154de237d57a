extension TaskPlan {
    /// Reads plan JSON as muflow's `TaskPlan.from_json` (pydantic, extra fields
    /// forbidden) reads it: any layout and field order, optional fields defaulted,
    /// analysis_id coerced as pydantic's lax int. Beyond muflow, the plan must be
    /// usable: its root and every depends_on key must name a node, without cycles.
    public static func fromJSON(_ bytes: UnsafeRawBufferPointer) throws -> TaskPlan {
        let document: JSONValue
        do {
            document = try parseJSON(bytes, maxDepth: 1000)
        } catch let error as MuflowError {
            throw MuflowError(error.kind, "invalid plan JSON: \(error.message)")
        }
        let plan = try PlanDecoder.plan(from: document)
        try plan.dependencyGroups.checkAcyclic()
        return plan
    }

    public static func fromJSON(_ bytes: [UInt8]) throws -> TaskPlan {
        try bytes.withUnsafeBytes { try fromJSON($0) }
    }
}

/// Validation of a parsed plan document; every error names the path of the culprit
/// as pydantic does (`nodes.<key>.depends_on.0`).
enum PlanDecoder {
    private static let planFields: Set<JSONString> = ["nodes", "root_key"]
    private static let nodeFields: Set<JSONString> = [
        "key", "function", "subject_key", "kwargs", "storage_prefix", "depends_on",
        "depended_on_by", "output_files", "analysis_id", "dependency_access_map",
    ]

    static func plan(from document: JSONValue) throws -> TaskPlan {
        let root = try object(document, at: "plan")
        try rejectUnknownFields(of: root, allowed: planFields, at: nil)
        let nodesObject = try object(try required("nodes", in: root, at: nil), at: "nodes")
        let rootKey = try string(try required("root_key", in: root, at: nil), at: "root_key")

        var nodes = [TaskNode]()
        nodes.reserveCapacity(nodesObject.count)
        var positions = [HashedKey: Int](minimumCapacity: nodesObject.count)
        for (entryKey, value) in nodesObject.pairs {
            positions[HashedKey(entryKey)] = nodes.count
            nodes.append(try node(value, at: "nodes.\(entryKey)"))
        }
        return try TaskPlan(entryKeys: nodesObject.keys, nodes: nodes, positions: positions, rootKey: rootKey)
    }

    private static func node(_ value: JSONValue, at path: String) throws -> TaskNode {
        let fields = try object(value, at: path)
        try rejectUnknownFields(of: fields, allowed: nodeFields, at: path)
        func text(_ name: JSONString) throws -> JSONString {
            try string(try required(name, in: fields, at: path), at: "\(path).\(name)")
        }
        func list(_ name: JSONString) throws -> [JSONString] {
            guard let value = fields[name] else { return [] }
            return try stringList(value, at: "\(path).\(name)")
        }
        var node = TaskNode(
            key: try text("key"),
            function: try text("function"),
            subjectKey: try text("subject_key"),
            kwargs: try object(try required("kwargs", in: fields, at: path), at: "\(path).kwargs"),
            storagePrefix: try text("storage_prefix"))
        node.dependsOn = try list("depends_on")
        node.dependedOnBy = try list("depended_on_by")
        node.outputFiles = try list("output_files")
        if let id = fields["analysis_id"] {
            node.analysisID = try LaxInteger.value(id, at: "\(path).analysis_id")
        }
        if let map = fields["dependency_access_map"] {
            let mapPath = "\(path).dependency_access_map"
            let object = try object(map, at: mapPath)
            for (key, prefix) in object.pairs { _ = try string(prefix, at: "\(mapPath).\(key)") }
            node.dependencyAccessMap = object
        }
        return node
    }

    private static func fail(_ path: String?, _ problem: String) -> MuflowError {
        MuflowError(.invalidArgument, "invalid plan JSON: \(path.map { "\($0): " } ?? "")\(problem)")
    }

    private static func rejectUnknownFields(of object: JSONObject, allowed: Set<JSONString>, at path: String?) throws {
        for key in object.keys where !allowed.contains(key) {
            throw fail(path.map { "\($0).\(key)" } ?? key.description, "extra inputs are not permitted")
        }
    }

    private static func required(_ name: JSONString, in object: JSONObject, at path: String?) throws -> JSONValue {
        guard let value = object[name] else {
            throw fail(path.map { "\($0).\(name)" } ?? name.description, "field required")
        }
        return value
    }

    private static func object(_ value: JSONValue, at path: String) throws -> JSONObject {
        guard case .object(let object) = value else { throw fail(path, "expected an object, got \(kind(of: value))") }
        return object
    }

    private static func string(_ value: JSONValue, at path: String) throws -> JSONString {
        guard case .string(let string) = value else { throw fail(path, "expected a string, got \(kind(of: value))") }
        return string
    }

    private static func stringList(_ value: JSONValue, at path: String) throws -> [JSONString] {
        guard case .array(let items) = value else { throw fail(path, "expected an array, got \(kind(of: value))") }
        var strings = [JSONString]()
        strings.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { strings.append(try string(item, at: "\(path).\(i)")) }
        return strings
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .bigInt: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
