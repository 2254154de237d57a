import Glibc

/// Reads well-formed plan JSON straight into nodes, without building the document
/// tree first: field names are matched in place, strings a node repeats from the
/// previous node (function, subject) or from itself (key, storage prefix) are shared
/// rather than copied, and a list or access map repeating the previous node's text is
/// shared whole. kwargs and analysis_id go through the general parser.
///
/// Anything unusual (a syntax error, an unknown, repeated or escaped field name, a
/// repeated node key, a value of the wrong type) makes `read` return nil: the caller
/// then takes the general path, which parses the document and explains the problem,
/// so both paths accept the same plans and fail with the same messages.
struct PlanJSONReader {
    private var parser: JSONParser
    private var p: UnsafePointer<UInt8> { parser.p }
    private var end: Int { parser.end }

    /// The previous node's strings, for sharing.
    private var lastFunction: JSONString = ""
    private var lastSubject: JSONString = ""
    /// The previous node's list and map fields: where their text was and their value.
    private var lastLists: [(start: Int, length: Int, value: [JSONString])] = Array(repeating: (0, 0, []), count: 3)
    private var lastMap: (start: Int, length: Int, value: JSONObject) = (0, 0, JSONObject())

    /// The general parser's nesting limit, less the three levels above a node's values.
    private static let valueDepthLimit = 997

    init(_ bytes: UnsafeRawBufferPointer) {
        parser = JSONParser(base: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), end: bytes.count,
                            maxDepth: Self.valueDepthLimit)
        parser.reuseRepeats = true
        parser.allowLoneSurrogates = false
    }

    /// The plan, or nil when the general path must decide.
    mutating func readPlan() -> (keyIndex: KeyIndex, nodes: [TaskNode], rootKey: JSONString)? {
        var keyIndex = KeyIndex()
        var nodes: [TaskNode] = []
        var rootKey: JSONString?
        var sawNodes = false
        guard take(UInt8(ascii: "{")) else { return nil }
        repeat {
            guard let name = plainString() else { return nil }
            guard take(UInt8(ascii: ":")) else { return nil }
            if matches(name, "nodes") && !sawNodes {
                sawNodes = true
                guard readNodes(into: &keyIndex, &nodes) else { return nil }
            } else if matches(name, "root_key") && rootKey == nil {
                guard let key = string() else { return nil }
                rootKey = key
            } else {
                return nil
            }
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")), let rootKey, sawNodes else { return nil }
        parser.skipWhitespace()
        guard parser.pos == end else { return nil }
        return (keyIndex, nodes, rootKey)
    }

    private mutating func readNodes(into keyIndex: inout KeyIndex, _ nodes: inout [TaskNode]) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        if take(UInt8(ascii: "}")) { return true }
        repeat {
            guard let entryKey = string(), take(UInt8(ascii: ":")), let node = readNode(entryKey: entryKey),
                  keyIndex.append(entryKey) == nil else { return false }
            nodes.append(node)
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}"))
    }

    private enum Field: Int {
        case key, function, subjectKey, kwargs, storagePrefix, dependsOn, dependedOnBy, outputFiles, analysisID, accessMap
    }

    private static let fieldNames: [(name: StaticString, field: Field)] = [
        ("key", .key), ("function", .function), ("subject_key", .subjectKey), ("kwargs", .kwargs),
        ("storage_prefix", .storagePrefix), ("depends_on", .dependsOn), ("depended_on_by", .dependedOnBy),
        ("output_files", .outputFiles), ("analysis_id", .analysisID), ("dependency_access_map", .accessMap),
    ]

    private mutating func readNode(entryKey: JSONString) -> TaskNode? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var seen: UInt16 = 0
        var key: JSONString?, function: JSONString?, subject: JSONString?, prefix: JSONString?
        var kwargs: JSONObject?
        var lists: [[JSONString]] = [[], [], []]
        var analysisID: JSONValue?
        var accessMap = JSONObject()
        if !take(UInt8(ascii: "}")) {
            repeat {
                guard let name = plainString(), take(UInt8(ascii: ":")),
                      let field = Self.fieldNames.first(where: { matches(name, $0.name) })?.field,
                      seen & (1 << field.rawValue) == 0 else { return nil }
                seen |= 1 << field.rawValue
                switch field {
                case .key:
                    guard let s = string(like: entryKey) else { return nil }
                    key = s
                case .function:
                    guard let s = string(like: lastFunction) else { return nil }
                    function = s
                    lastFunction = s
                case .subjectKey:
                    guard let s = string(like: lastSubject) else { return nil }
                    subject = s
                    lastSubject = s
                case .storagePrefix:
                    guard let s = string(like: key ?? entryKey) else { return nil }
                    prefix = s
                case .kwargs:
                    guard case .object(let object)? = value() else { return nil }
                    kwargs = object
                case .dependsOn, .dependedOnBy, .outputFiles:
                    let slot = field.rawValue - Field.dependsOn.rawValue
                    guard let list = stringList(slot) else { return nil }
                    lists[slot] = list
                case .analysisID:
                    guard let id = value() else { return nil }
                    do { analysisID = try LaxInteger.value(id, at: "") } catch { return nil }
                case .accessMap:
                    guard let map = readAccessMap() else { return nil }
                    accessMap = map
                }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { return nil }
        }
        guard let key, let function, let subject, let kwargs, let prefix else { return nil }
        return TaskNode(key: key, function: function, subjectKey: subject, kwargs: kwargs, storagePrefix: prefix,
                        dependsOn: lists[0], dependedOnBy: lists[1], outputFiles: lists[2], analysisID: analysisID,
                        dependencyAccessMap: accessMap)
    }

    /// A list of strings; the previous node's list in this slot when the text repeats it.
    private mutating func stringList(_ slot: Int) -> [JSONString]? {
        parser.skipWhitespace()
        let start = parser.pos
        if let reused = repeated(start: lastLists[slot].start, length: lastLists[slot].length) {
            parser.pos += reused
            return lastLists[slot].value
        }
        guard take(UInt8(ascii: "[")) else { return nil }
        var list: [JSONString] = []
        if !take(UInt8(ascii: "]")) {
            repeat {
                guard let s = string() else { return nil }
                list.append(s)
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")) else { return nil }
        }
        if !list.isEmpty { lastLists[slot] = (start, parser.pos - start, list) }
        return list
    }

    /// An access map (every value a string); the previous node's when the text repeats it.
    private mutating func readAccessMap() -> JSONObject? {
        parser.skipWhitespace()
        let start = parser.pos
        if let reused = repeated(start: lastMap.start, length: lastMap.length) {
            parser.pos += reused
            return lastMap.value
        }
        guard take(UInt8(ascii: "{")) else { return nil }
        var keys: [JSONString] = []
        var values: [JSONValue] = []
        if !take(UInt8(ascii: "}")) {
            repeat {
                guard let name = string(), take(UInt8(ascii: ":")), let prefix = string() else { return nil }
                keys.append(name)
                values.append(.string(prefix))
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { return nil }
        }
        let map = JSONObject(keys: keys, values: values)
        if !keys.isEmpty { lastMap = (start, parser.pos - start, map) }
        return map
    }

    /// The length of the earlier text at `start` if the text at the current position
    /// repeats it (an array or object text is never a prefix of another value).
    private func repeated(start: Int, length: Int) -> Int? {
        guard length > 0, length <= end - parser.pos, memcmp(p + parser.pos, p + start, length) == 0 else { return nil }
        return length
    }

    private mutating func value() -> JSONValue? {
        try? parser.parseNested()
    }

    /// Skips whitespace, then the byte `b` if it comes next.
    private mutating func take(_ b: UInt8) -> Bool {
        parser.skipWhitespace()
        guard parser.pos < end, p[parser.pos] == b else { return false }
        parser.pos += 1
        return true
    }

    /// A string value; `like` itself when the text spells it without escapes.
    private mutating func string(like known: JSONString? = nil) -> JSONString? {
        parser.skipWhitespace()
        guard parser.pos < end, p[parser.pos] == UInt8(ascii: "\"") else { return nil }
        if let known, let span = plainSpan(), span.count == known.utf8.count,
           span.isEmpty || known.utf8.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p + span.lowerBound, span.count) == 0 }) {
            parser.pos = span.upperBound + 1
            return known
        }
        return try? parser.parseString()
    }

    /// The bytes of a string without escapes (a field name), left at its closing quote.
    private mutating func plainString() -> Range<Int>? {
        parser.skipWhitespace()
        guard parser.pos < end, p[parser.pos] == UInt8(ascii: "\""), let span = plainSpan() else { return nil }
        parser.pos = span.upperBound + 1
        return span
    }

    /// The contents of the string opening at the current position, when they hold no
    /// escape and no byte JSON refuses in a string; does not move.
    private func plainSpan() -> Range<Int>? {
        let start = parser.pos + 1
        var i = start
        while i < end {
            let b = p[i]
            if b == UInt8(ascii: "\"") { return start..<i }
            if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
            if b >= 0x80 {
                let n = WTF8.sequenceLength(p, i, end, allowSurrogates: false)
                if n == 0 { return nil }
                i += n
            } else {
                i += 1
            }
        }
        return nil
    }

    private func matches(_ span: Range<Int>, _ name: StaticString) -> Bool {
        span.count == name.utf8CodeUnitCount && memcmp(p + span.lowerBound, name.utf8Start, span.count) == 0
    }
}
