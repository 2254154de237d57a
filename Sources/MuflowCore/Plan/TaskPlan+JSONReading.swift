extension TaskPlan {
    /// Reads plan JSON as muflow's `TaskPlan.from_json` (pydantic, extra fields
    /// forbidden) reads it: any layout and field order, optional fields defaulted,
    /// analysis_id coerced as pydantic's lax int. Beyond muflow, the plan must be
    /// usable: its root and every depends_on key must name a node, without cycles.
    public static func fromJSON(_ bytes: UnsafeRawBufferPointer) throws -> TaskPlan {
        var reader = bytes.count > 0 ? PlanJSONReader(bytes) : nil
        if let read = reader?.readPlan() {
            return try TaskPlan(keyIndex: read.keyIndex, nodes: read.nodes, rootKey: read.rootKey)
        }
        let document: JSONValue
        do {
            // Nodes repeat large values (kwargs lists, a step's dependencies): parsed once.
            document = try parseJSON(bytes, maxDepth: 1000, reuseRepeats: true, allowLoneSurrogates: false)
        } catch let error as MuflowError {
            throw MuflowError(error.kind, "invalid plan JSON: \(error.message)")
        }
        return try PlanDecoder.plan(from: document)
    }

    public static func fromJSON(_ bytes: [UInt8]) throws -> TaskPlan {
        try bytes.withUnsafeBytes { try fromJSON($0) }
    }
}

/// Validation of a parsed plan document; every error names the path of the culprit
/// as pydantic does (`nodes.<key>.depends_on.0`).
struct PlanDecoder {
    private static let planFields: Set<JSONString> = ["nodes", "root_key"]

    /// A node's fields, in declaration order (the order they are checked in).
    private enum Field: Int, CaseIterable {
        case key, function, subjectKey, kwargs, storagePrefix, dependsOn, dependedOnBy, outputFiles, analysisID,
             accessMap

        static let names: [JSONString] = [
            "key", "function", "subject_key", "kwargs", "storage_prefix", "depends_on", "depended_on_by",
            "output_files", "analysis_id", "dependency_access_map",
        ]

        /// The field named `name`, found by its length and first byte.
        init?(named name: JSONString) {
            let bytes = name.utf8
            let candidate: Field?
            switch (bytes.count, bytes.first) {
            case (3, _): candidate = .key
            case (8, _): candidate = .function
            case (11, UInt8(ascii: "s")): candidate = .subjectKey
            case (11, _): candidate = .analysisID
            case (6, _): candidate = .kwargs
            case (14, UInt8(ascii: "s")): candidate = .storagePrefix
            case (14, _): candidate = .dependedOnBy
            case (10, _): candidate = .dependsOn
            case (12, _): candidate = .outputFiles
            case (21, _): candidate = .accessMap
            default: candidate = nil
            }
            guard let candidate, Field.names[candidate.rawValue].utf8 == bytes else { return nil }
            self = candidate
        }
    }

    /// Key lists already checked, by the storage of their parsed array: nodes of one
    /// step repeat the same list, which the parser shares, so the converted list is
    /// shared too (and schedulers see one dependency group).
    private var stringLists: [StorageKey: [JSONString]] = [:]
    /// Access maps already checked, by storage.
    private var checkedMaps: Set<StorageKey> = []

    private struct StorageKey: Hashable {
        let first: UnsafeRawPointer
        let second: UnsafeRawPointer?
        let count: Int
    }

    static func plan(from document: JSONValue) throws -> TaskPlan {
        let root = try object(document, at: "plan")
        try rejectUnknownFields(of: root, allowed: planFields)
        let nodesObject = try object(try required("nodes", in: root, at: nil), at: "nodes")
        let rootKey = try string(try required("root_key", in: root, at: nil), at: "root_key")

        var decoder = PlanDecoder()
        var nodes = [TaskNode]()
        nodes.reserveCapacity(nodesObject.count)
        var keyIndex = KeyIndex(minimumCapacity: nodesObject.count)
        for (entryKey, value) in nodesObject.pairs {
            // A JSONObject's keys are distinct.
            _ = keyIndex.append(entryKey)
            nodes.append(try decoder.node(value, entryKey: entryKey))
        }
        return try TaskPlan(keyIndex: keyIndex, nodes: nodes, rootKey: rootKey)
    }

    private mutating func node(_ value: JSONValue, entryKey: JSONString) throws -> TaskNode {
        // Paths are only spelled out for an error.
        func path(_ field: Field? = nil) -> String {
            field.map { "nodes.\(entryKey).\(Field.names[$0.rawValue])" } ?? "nodes.\(entryKey)"
        }
        guard case .object(let object) = value else {
            throw Self.fail(path(), "expected an object, got \(Self.kind(of: value))")
        }
        var fields = [JSONValue?](repeating: nil, count: Field.allCases.count)
        for (name, value) in object.pairs {
            guard let field = Field(named: name) else {
                throw Self.fail("\(path()).\(name)", "extra inputs are not permitted")
            }
            fields[field.rawValue] = value
        }
        func required(_ field: Field) throws -> JSONValue {
            guard let value = fields[field.rawValue] else { throw Self.fail(path(field), "field required") }
            return value
        }
        func text(_ field: Field) throws -> JSONString {
            let value = try required(field)
            guard case .string(let s) = value else {
                throw Self.fail(path(field), "expected a string, got \(Self.kind(of: value))")
            }
            return s
        }
        let key = try text(.key)
        let function = try text(.function)
        let subjectKey = try text(.subjectKey)
        let kwargsValue = try required(.kwargs)
        guard case .object(let kwargs) = kwargsValue else {
            throw Self.fail(path(.kwargs), "expected an object, got \(Self.kind(of: kwargsValue))")
        }
        let storagePrefix = try text(.storagePrefix)
        let dependsOn = try stringList(fields[Field.dependsOn.rawValue], at: path(.dependsOn))
        let dependedOnBy = try stringList(fields[Field.dependedOnBy.rawValue], at: path(.dependedOnBy))
        let outputFiles = try stringList(fields[Field.outputFiles.rawValue], at: path(.outputFiles))
        var analysisID: JSONValue?
        if let id = fields[Field.analysisID.rawValue] {
            analysisID = try LaxInteger.value(id, at: path(.analysisID))
        }
        var dependencyAccessMap = JSONObject()
        if let map = fields[Field.accessMap.rawValue] {
            dependencyAccessMap = try accessMap(map, at: path(.accessMap))
        }
        return TaskNode(key: key, function: function, subjectKey: subjectKey, kwargs: kwargs,
                        storagePrefix: storagePrefix, dependsOn: dependsOn, dependedOnBy: dependedOnBy,
                        outputFiles: outputFiles, analysisID: analysisID, dependencyAccessMap: dependencyAccessMap)
    }

    private mutating func stringList(_ value: JSONValue?, at path: @autoclosure () -> String) throws -> [JSONString] {
        guard let value else { return [] }
        guard case .array(let items) = value else {
            throw Self.fail(path(), "expected an array, got \(Self.kind(of: value))")
        }
        if items.isEmpty { return [] }
        let storage = Self.storageKey(items, Optional<[Int]>.none)
        if let storage, let known = stringLists[storage] { return known }
        var strings = [JSONString]()
        strings.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
                throw Self.fail("\(path()).\(i)", "expected a string, got \(Self.kind(of: item))")
            }
            strings.append(s)
        }
        if let storage { stringLists[storage] = strings }
        return strings
    }

    private mutating func accessMap(_ value: JSONValue, at path: @autoclosure () -> String) throws -> JSONObject {
        guard case .object(let map) = value else {
            throw Self.fail(path(), "expected an object, got \(Self.kind(of: value))")
        }
        let storage = Self.storageKey(map.keys, map.values)
        if let storage, checkedMaps.contains(storage) { return map }
        for (key, prefix) in map.pairs {
            guard case .string = prefix else {
                throw Self.fail("\(path()).\(key)", "expected a string, got \(Self.kind(of: prefix))")
            }
        }
        if let storage { checkedMaps.insert(storage) }
        return map
    }

    /// Equal keys mean the same storage, hence the same contents, while the document lives.
    private static func storageKey<A, B>(_ first: [A], _ second: [B]?) -> StorageKey? {
        guard let a = first.withUnsafeBufferPointer({ $0.baseAddress }) else { return nil }
        let b = second?.withUnsafeBufferPointer { $0.baseAddress }
        return StorageKey(first: UnsafeRawPointer(a), second: b.map(UnsafeRawPointer.init), count: first.count)
    }

    private static func fail(_ path: String?, _ problem: String) -> MuflowError {
        MuflowError(.invalidArgument, "invalid plan JSON: \(path.map { "\($0): " } ?? "")\(problem)")
    }

    private static func rejectUnknownFields(of object: JSONObject, allowed: Set<JSONString>) throws {
        for key in object.keys where !allowed.contains(key) {
            throw fail(key.description, "extra inputs are not permitted")
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
