/// A JSON document as Python's `json` module sees it: integers of any size, floats
/// including NaN and the infinities, strings that may hold lone surrogates, and objects
/// that keep insertion order (a repeated key keeps its first position and last value).
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    /// An integer that fits in 64 bits.
    case int(Int)
    /// An integer beyond 64 bits, as canonical decimal text (`-` sign, no leading zeros).
    case bigInt(String)
    case double(Double)
    case string(JSONString)
    case array([JSONValue])
    case object(JSONObject)
}

/// A string as a sequence of code points, stored as WTF-8: UTF-8 that also admits
/// encoded lone surrogates, which Python strings may hold. Comparing the bytes
/// compares code points, which is the order Python's `sort_keys` uses.
public struct JSONString: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var utf8: [UInt8]

    public init(wtf8 bytes: [UInt8]) { utf8 = bytes }
    public init(_ string: String) { utf8 = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The text as a Swift string; a lone surrogate becomes U+FFFD.
    public var description: String { String(decoding: utf8, as: UTF8.self) }

    public static func < (a: JSONString, b: JSONString) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    public static func == (a: JSONString, b: JSONString) -> Bool { a.utf8 == b.utf8 }

    /// All bytes at once (the synthesized conformance feeds the hasher byte by byte).
    public func hash(into hasher: inout Hasher) {
        utf8.withUnsafeBytes { hasher.combine(bytes: $0) }
        hasher.combine(utf8.count)
    }
}

/// A JSON object with insertion order kept, as a Python dict keeps it.
public struct JSONObject: Sendable {
    public private(set) var keys: [JSONString] = []
    public private(set) var values: [JSONValue] = []
    /// Positions by key, kept only for objects beyond `indexThreshold` keys: a linear
    /// scan of a few keys is faster than hashing them, and most objects are small.
    private var index: [JSONString: Int]?
    static let indexThreshold = 12
    /// Set when keys already stand in the order a sorting writer must keep (objects
    /// whose keys were not strings in Python, sorted there before being made strings).
    public var keysPresorted = false

    public init() {}

    public init(_ pairs: [(JSONString, JSONValue)]) {
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    /// Pairs given as parallel arrays, a repeated key keeping its first position and
    /// last value (what `dict(pairs)` and `json.loads` do).
    package init(keys newKeys: [JSONString], values newValues: [JSONValue]) {
        if newKeys.count <= JSONObject.indexThreshold {
            var unique = true
            outer: for i in 1..<max(newKeys.count, 1) {
                for j in 0..<i where newKeys[j] == newKeys[i] { unique = false; break outer }
            }
            if unique {
                keys = newKeys
                values = newValues
                return
            }
        }
        keys.reserveCapacity(newKeys.count)
        values.reserveCapacity(newKeys.count)
        for i in newKeys.indices { self[newKeys[i]] = newValues[i] }
    }

    /// Pairs whose keys the caller knows to be distinct (not checked).
    init(distinctKeys: [JSONString], values newValues: [JSONValue]) {
        keys = distinctKeys
        values = newValues
        if keys.count > JSONObject.indexThreshold { buildIndex() }
    }

    /// Pairs whose keys the caller knows to be distinct, without the key index: for
    /// large objects written whole and not looked up in (a plan node's access map, which
    /// has an entry per dependency). A lookup then scans the keys; inserting a key
    /// builds the index.
    init(unindexedDistinctKeys: [JSONString], values newValues: [JSONValue]) {
        keys = unindexedDistinctKeys
        values = newValues
    }

    /// An object with the keys (and key index) of `template` and these values, one per
    /// key: objects of the same shape share their keys' storage.
    @inline(__always)
    init(sameKeysAs template: borrowing JSONObject, values newValues: consuming [JSONValue]) {
        precondition(newValues.count == template.keys.count)
        keys = template.keys
        values = newValues
        index = template.index
        keysPresorted = template.keysPresorted
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    func position(of key: JSONString) -> Int? {
        if let index { return index[key] }
        return keys.firstIndex(of: key)
    }

    /// Reading and writing by key; writing an existing key keeps its position.
    public subscript(key: JSONString) -> JSONValue? {
        get { position(of: key).map { values[$0] } }
        set {
            if let i = position(of: key) {
                if let newValue { values[i] = newValue } else { remove(at: i) }
            } else if let newValue {
                index?[key] = keys.count
                keys.append(key)
                values.append(newValue)
                if index == nil && keys.count > JSONObject.indexThreshold { buildIndex() }
            }
        }
    }

    public subscript(key: String) -> JSONValue? {
        get { self[JSONString(key)] }
        set { self[JSONString(key)] = newValue }
    }

    public var pairs: Zip2Sequence<[JSONString], [JSONValue]> { zip(keys, values) }

    /// `{**self, **other}`: keys of self first, then the new keys of other.
    public func merging(_ other: JSONObject) -> JSONObject {
        var merged = self
        for (k, v) in other.pairs { merged[k] = v }
        return merged
    }

    private mutating func buildIndex() {
        var built = [JSONString: Int](minimumCapacity: keys.count)
        for (i, k) in keys.enumerated() { built[k] = i }
        index = built
    }

    private mutating func remove(at i: Int) {
        keys.remove(at: i)
        values.remove(at: i)
        if index != nil {
            index = nil
            if keys.count > JSONObject.indexThreshold { buildIndex() }
        }
    }
}

extension JSONValue {
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var stringValue: JSONString? { if case .string(let s) = self { return s } else { return nil } }
}
