extension TaskPlan {
    /// The plan as muflow's `TaskPlan.model_dump_json()` writes it (pydantic v2 compact
    /// JSON, fields in declaration order), byte for byte. Fails, as pydantic does, on a
    /// string holding a lone surrogate.
    public func toJSON() throws -> [UInt8] {
        try jsonText().bytes
    }

    /// The same text laid out but not yet written, so that a caller can write it
    /// straight into a buffer of its own (a Python str) once it knows the length.
    public func jsonText() throws -> PlanJSONText {
        var writer = PlanJSONWriter()
        try writer.write(self)
        return writer.finish()
    }

    /// One node as `TaskNode.model_dump_json()` writes it.
    public func nodeJSON(at index: Int) throws -> [UInt8] {
        var writer = PlanJSONWriter()
        try writer.write(nodes[index])
        return writer.finish().bytes
    }
}

/// JSON text as literal bytes interleaved with copies of stretches written earlier.
///
/// Nodes share large values (every node of the ML pipeline holds the whole dataset
/// list; a fan-in's dependency list and access map are one array for all its nodes):
/// each is laid out once and later repeats are copies of the output itself, so
/// laying out costs the plan's distinct text and writing costs one memcpy per repeat.
public struct PlanJSONText: Sendable {
    /// Literal bytes up to `literalEnd`, then `copyLength` output bytes from `copyFrom`.
    struct Piece {
        var literalEnd: Int
        var copyFrom: Int
        var copyLength: Int
    }

    var literal: [UInt8] = []
    var pieces: [Piece] = []
    /// The length of the text.
    public internal(set) var count = 0
    /// Whether every byte is below 0x80 (then the text is also Latin-1 and ASCII).
    public internal(set) var isASCII = true

    /// Writes the `count` bytes of the text to `destination`.
    public func write(to destination: UnsafeMutableRawPointer) {
        literal.withUnsafeBytes { literal in
            var literalStart = 0
            var out = 0
            for piece in pieces {
                let n = piece.literalEnd - literalStart
                if n > 0 {
                    (destination + out).copyMemory(from: literal.baseAddress! + literalStart, byteCount: n)
                    out += n
                }
                literalStart = piece.literalEnd
                if piece.copyLength > 0 {
                    // The source ends before `out`: it was written by an earlier piece.
                    (destination + out).copyMemory(from: destination + piece.copyFrom, byteCount: piece.copyLength)
                    out += piece.copyLength
                }
            }
        }
    }

    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { write(to: buffer.baseAddress!) }
            initialized = count
        }
    }
}

/// Lays out plan JSON; a container (or long string) met again by storage is copied
/// from where its text was first written.
struct PlanJSONWriter {
    private var text = PlanJSONText()
    /// Output bytes already laid out as copies.
    private var copied = 0
    private var written: [StorageKey: (start: Int, length: Int)] = [:]

    /// Where an array, object or string keeps its elements: equal keys mean the same
    /// storage, hence the same value, for as long as the plan being written lives.
    private struct StorageKey: Hashable {
        let first: UnsafeRawPointer
        let second: UnsafeRawPointer?
        let count: Int
    }

    /// Smaller containers are cheaper to write again than to look up.
    private static let minimumSharedCount = 4
    /// Shorter texts are not remembered.
    private static let minimumSharedLength = 48

    private var offset: Int { text.literal.count + copied }

    mutating func finish() -> PlanJSONText {
        text.pieces.append(.init(literalEnd: text.literal.count, copyFrom: 0, copyLength: 0))
        text.count = offset
        text.isASCII = Self.isASCII(text.literal)
        return text
    }

    mutating func write(_ plan: TaskPlan) throws {
        text.literal += Self.nodesOpening
        for (index, node) in plan.nodes.enumerated() {
            if index > 0 { text.literal.append(UInt8(ascii: ",")) }
            try string(plan.entryKeys[index])
            text.literal.append(UInt8(ascii: ":"))
            try write(node)
        }
        text.literal += Self.rootKeyField
        try string(plan.rootKey)
        text.literal.append(UInt8(ascii: "}"))
    }

    mutating func write(_ node: TaskNode) throws {
        text.literal += Self.keyField
        try string(node.key)
        text.literal += Self.functionField
        try string(node.function)
        text.literal += Self.subjectKeyField
        try string(node.subjectKey)
        text.literal += Self.kwargsField
        try object(node.kwargs)
        text.literal += Self.storagePrefixField
        try string(node.storagePrefix)
        text.literal += Self.dependsOnField
        try stringList(node.dependsOn)
        text.literal += Self.dependedOnByField
        try stringList(node.dependedOnBy)
        text.literal += Self.outputFilesField
        try stringList(node.outputFiles)
        text.literal += Self.analysisIDField
        try CompactJSON.write(node.analysisID ?? .null, into: &text.literal)
        text.literal += Self.accessMapField
        try object(node.dependencyAccessMap)
        text.literal.append(UInt8(ascii: "}"))
    }

    /// Emits the text of `key` if it was written before (true), else notes where the
    /// text about to be written starts (false; call `remember` after writing it).
    private mutating func copyIfWritten(_ key: StorageKey?) -> Bool {
        guard let key, let earlier = written[key] else { return false }
        text.pieces.append(.init(literalEnd: text.literal.count, copyFrom: earlier.start, copyLength: earlier.length))
        copied += earlier.length
        return true
    }

    private mutating func remember(_ key: StorageKey?, from start: Int) {
        guard let key, offset - start >= Self.minimumSharedLength else { return }
        written[key] = (start, offset - start)
    }

    private mutating func string(_ s: JSONString) throws {
        let key = s.utf8.count >= Self.minimumSharedLength ? Self.storageKey(s.utf8) : nil
        if copyIfWritten(key) { return }
        let start = offset
        try CompactJSON.appendString(s, to: &text.literal)
        remember(key, from: start)
    }

    private mutating func stringList(_ list: [JSONString]) throws {
        let key = list.count >= Self.minimumSharedCount ? Self.storageKey(list) : nil
        if copyIfWritten(key) { return }
        let start = offset
        text.literal.append(UInt8(ascii: "["))
        for (i, item) in list.enumerated() {
            if i > 0 { text.literal.append(UInt8(ascii: ",")) }
            try string(item)
        }
        text.literal.append(UInt8(ascii: "]"))
        remember(key, from: start)
    }

    private mutating func object(_ object: JSONObject) throws {
        let key = object.count >= Self.minimumSharedCount ? Self.storageKey(object.keys, object.values) : nil
        if copyIfWritten(key) { return }
        let start = offset
        text.literal.append(UInt8(ascii: "{"))
        for (i, (name, item)) in object.pairs.enumerated() {
            if i > 0 { text.literal.append(UInt8(ascii: ",")) }
            try string(name)
            text.literal.append(UInt8(ascii: ":"))
            try value(item)
        }
        text.literal.append(UInt8(ascii: "}"))
        remember(key, from: start)
    }

    private mutating func array(_ items: [JSONValue]) throws {
        let key = items.count >= Self.minimumSharedCount ? Self.storageKey(items) : nil
        if copyIfWritten(key) { return }
        let start = offset
        text.literal.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { text.literal.append(UInt8(ascii: ",")) }
            try value(item)
        }
        text.literal.append(UInt8(ascii: "]"))
        remember(key, from: start)
    }

    private mutating func value(_ value: JSONValue) throws {
        switch value {
        case .string(let s): try string(s)
        case .array(let items): try array(items)
        case .object(let object): try self.object(object)
        default: try CompactJSON.write(value, into: &text.literal)
        }
    }

    private static func storageKey<A>(_ array: [A]) -> StorageKey? {
        guard let a = array.withUnsafeBufferPointer({ $0.baseAddress }) else { return nil }
        return StorageKey(first: UnsafeRawPointer(a), second: nil, count: array.count)
    }

    private static func storageKey<A, B>(_ first: [A], _ second: [B]) -> StorageKey? {
        guard let a = first.withUnsafeBufferPointer({ $0.baseAddress }),
              let b = second.withUnsafeBufferPointer({ $0.baseAddress }) else { return nil }
        return StorageKey(first: UnsafeRawPointer(a), second: UnsafeRawPointer(b), count: first.count)
    }

    private static func isASCII(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var i = 0
            var high: UInt64 = 0
            while i + 8 <= raw.count {
                high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < raw.count {
                high |= UInt64(raw[i])
                i += 1
            }
            return high & 0x8080_8080_8080_8080 == 0
        }
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
