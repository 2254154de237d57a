import MuflowCore

/// Turns what the pickle machine built into a `JSONValue`, checking it the way Python's
/// `json.dumps(obj, sort_keys=True)` would: refused types, circular references, depth,
/// and keys that are not strings (sorted, then converted to strings).
struct PickleFreezer {
    private let containers: [PickleContainer]
    private let maxDepth: Int
    private let rootName: String
    /// Finished containers, so that a shared one is converted once and shared.
    private var frozen: [JSONValue?]
    /// For each frozen container, the levels of nesting it holds (1 when no container).
    private var heights: [Int]
    private var active: [Bool]
    private var path: [PathStep] = []
    private var pythonOrder = false

    private enum PathStep {
        case index(Int)
        case key(PickleNode)
    }

    init(containers: [PickleContainer], maxDepth: Int, rootName: String) {
        self.containers = containers
        self.maxDepth = maxDepth
        self.rootName = rootName
        frozen = Array(repeating: nil, count: containers.count)
        heights = Array(repeating: 0, count: containers.count)
        active = Array(repeating: false, count: containers.count)
    }

    mutating func freeze(_ root: PickleNode, pythonOrder: Bool) throws -> JSONValue {
        self.pythonOrder = pythonOrder
        return try value(of: root, depth: 0)
    }

    private mutating func value(of node: PickleNode, depth: Int) throws -> JSONValue {
        switch node {
        case .value(let v): return v
        case .foreign(let type): throw notSerializable(type)
        case .global(_, let name): throw notSerializable(name.first?.isUppercase == true ? "type" : "function")
        case .mark: throw notSerializable("mark")
        case .container(let i):
            if let done = frozen[i] {
                // A shared container nests as deep again wherever else it appears.
                if depth + heights[i] > maxDepth { throw tooDeep() }
                return done
            }
            if active[i] { throw MuflowError(.invalidArgument, "Circular reference detected") }
            if depth >= maxDepth { throw tooDeep() }
            active[i] = true
            let result: JSONValue
            switch containers[i].kind {
            case .list, .tuple:
                let items = containers[i].items
                var out: [JSONValue] = []
                out.reserveCapacity(items.count)
                for (k, item) in items.enumerated() {
                    path.append(.index(k))
                    out.append(try value(of: item, depth: depth + 1))
                    path.removeLast()
                }
                result = .array(out)
            case .dict:
                result = .object(try object(i, depth: depth))
            case .set:
                throw notSerializable("set")
            }
            active[i] = false
            frozen[i] = result
            var deepest = 0
            for case .container(let j) in containers[i].items { deepest = max(deepest, heights[j]) }
            heights[i] = 1 + deepest
            return result
        }
    }

    private mutating func object(_ i: Int, depth: Int) throws -> JSONObject {
        let items = containers[i].items
        let count = items.count / 2
        var stringKeys: [JSONString] = []
        stringKeys.reserveCapacity(count)
        for k in 0..<count {
            guard case .value(.string(let s)) = items[2 * k] else { break }
            stringKeys.append(s)
        }
        if stringKeys.count == count {
            var values = [JSONValue](repeating: .null, count: count)
            var order = Array(0..<count)
            if pythonOrder { order.sort { stringKeys[$0] < stringKeys[$1] } }
            for k in order {
                path.append(.key(items[2 * k]))
                values[k] = try value(of: items[2 * k + 1], depth: depth + 1)
                path.removeLast()
            }
            return JSONObject(keys: stringKeys, values: values)
        }
        // Keys that are not all strings: json.dumps(sort_keys=True) sorts the original
        // keys (which must be mutually comparable), then writes each as a string.
        // A pickle CPython did not write may repeat a key or hold keys Python finds equal
        // (1, 1.0 and True): the dict it unpickles to has the first with the last value.
        var keys: [PickleKey] = []
        var keyItems: [Int] = []
        var valueItems: [Int] = []
        var positions: [PickleKey.Identity: Int] = [:]
        for k in 0..<count {
            guard let key = PickleKey(items[2 * k]) else { throw badKeyType(items[2 * k]) }
            let identity = key.identity(unique: k)
            if let position = positions[identity] {
                valueItems[position] = 2 * k + 1
            } else {
                positions[identity] = keys.count
                keys.append(key)
                keyItems.append(2 * k)
                valueItems.append(2 * k + 1)
            }
        }
        let distinct = keys.count
        var order = Array(0..<distinct)
        if distinct > 1 {
            if let k = keys.firstIndex(where: { $0.sortClass != keys[0].sortClass }) {
                throw MuflowError(.type, "'<' not supported between instances of '\(keys[k].typeName)' and '\(keys[0].typeName)' (sorting the keys of \(pathText()))")
            }
            if keys[0].sortClass == .none {
                throw MuflowError(.type, "'<' not supported between instances of 'NoneType' and 'NoneType' (sorting the keys of \(pathText()))")
            }
            if distinct < PythonListSort.exactLimit {
                PythonListSort.sort(&order) { PickleKey.less(keys[$0], keys[$1]) }
            } else if keys.contains(where: \.isNaN) {
                throw MuflowError(.type, "the \(distinct) keys of \(pathText()) include NaN, which has no order to sort by")
            } else {
                order.sort { PickleKey.less(keys[$0], keys[$1]) }
            }
        }
        var names: [JSONString] = []
        var values: [JSONValue] = []
        names.reserveCapacity(distinct)
        values.reserveCapacity(distinct)
        for k in order {
            names.append(keys[k].jsonText)
            path.append(.key(items[keyItems[k]]))
            values.append(try value(of: items[valueItems[k]], depth: depth + 1))
            path.removeLast()
        }
        if Set(names).count != names.count {
            // Only distinct NaN objects get here: json.dumps would write the key twice.
            throw MuflowError(.type, "several keys of \(pathText()) are written as the same JSON key (NaN); a JSON object cannot hold them")
        }
        var object = JSONObject(keys: names, values: values)
        object.keysPresorted = true
        return object
    }

    // MARK: - Errors

    private func tooDeep() -> MuflowError {
        MuflowError(.limit, "Pickled value nesting deeper than \(maxDepth) levels at \(pathText())")
    }

    private func notSerializable(_ type: String) -> MuflowError {
        MuflowError(.type, "Object of type \(type) is not JSON serializable at \(pathText())")
    }

    private func badKeyType(_ node: PickleNode) -> MuflowError {
        let type: String
        switch node {
        case .container(let i):
            switch containers[i].kind {
            case .tuple: type = "tuple"
            case .list: type = "list"
            case .dict: type = "dict"
            case .set: type = "set"
            }
        case .foreign(let name): type = name
        default: type = "type"
        }
        return MuflowError(.type, "keys must be str, int, float, bool or None, not \(type) at \(pathText())")
    }

    private func pathText() -> String {
        var out = Array(rootName.utf8)
        for step in path {
            out.append(UInt8(ascii: "["))
            switch step {
            case .index(let k): NumberText.appendDecimal(k, to: &out)
            case .key(let node):
                if case .value(let v) = node { PythonStr.appendRepr(v, to: &out) } else { out += Array("?".utf8) }
            }
            out.append(UInt8(ascii: "]"))
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A dict key that is not a string: how Python sorts it and how json.dumps writes it.
struct PickleKey {
    enum SortClass { case string, number, none }
    let node: JSONValue

    init?(_ node: PickleNode) {
        guard case .value(let v) = node else { return nil }
        self.node = v
    }

    var sortClass: SortClass {
        switch node {
        case .string: return .string
        case .null: return .none
        default: return .number
        }
    }

    var typeName: String {
        switch node {
        case .string: return "str"
        case .null: return "NoneType"
        case .bool: return "bool"
        case .double: return "float"
        default: return "int"
        }
    }

    var jsonText: JSONString {
        switch node {
        case .string(let s): return s
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let v): return JSONString(String(v))
        case .bigInt(let t): return JSONString(t)
        case .double(let d):
            var out: [UInt8] = []
            PythonJSON.appendDouble(d, to: &out)
            return JSONString(wtf8: out)
        default: return "?"
        }
    }

    /// What makes keys one key of a Python dict: equal numbers whatever their type (1,
    /// 1.0 and True), equal strings, None; a NaN equals no other key.
    enum Identity: Hashable {
        case string(JSONString)
        case none
        case integer(Int)
        case bigInteger(String)
        case double(UInt64)
        case unique(Int)
    }

    /// The key's identity; `unique` tells a NaN apart from every other key.
    func identity(unique: Int) -> Identity {
        switch node {
        case .string(let s): return .string(s)
        case .bool(let b): return .integer(b ? 1 : 0)
        case .int(let i): return .integer(i)
        case .bigInt(let t): return .bigInteger(t)
        case .double(let d):
            if d.isNaN { return .unique(unique) }
            guard d.isFinite, d.rounded(.towardZero) == d else { return .double(d.bitPattern) }
            if d >= -9223372036854775808.0 && d < 9223372036854775808.0 { return .integer(Int(d)) }
            return .bigInteger(BigIntegerText.decimal(integral: d))
        default: return .none
        }
    }

    /// Python's exact comparison of ints, big ints, floats and bools.
    var isNaN: Bool {
        if case .double(let d) = node { return d.isNaN }
        return false
    }

    static func less(_ a: PickleKey, _ b: PickleKey) -> Bool {
        switch (a.node, b.node) {
        case (.string(let x), .string(let y)): return x < y
        case (.double(let x), .double(let y)): return x < y
        case (.double(let x), _): return compare(x, b.node) < 0
        case (_, .double(let y)): return compare(y, a.node) > 0
        default: return compareIntegers(a.node, b.node) < 0
        }
    }

    private static func integerParts(_ v: JSONValue) -> (Int?, String?) {
        switch v {
        case .int(let i): return (i, nil)
        case .bool(let b): return (b ? 1 : 0, nil)
        case .bigInt(let t): return (nil, t)
        default: return (0, nil)
        }
    }

    private static func compareIntegers(_ a: JSONValue, _ b: JSONValue) -> Int {
        switch (integerParts(a), integerParts(b)) {
        case ((let x?, _), (let y?, _)): return x < y ? -1 : x > y ? 1 : 0
        case ((_, let x?), (_, let y?)): return BigIntegerText.compare(x, y)
        case ((_, let x?), _): return x.hasPrefix("-") ? -1 : 1  // beyond Int's range
        case (_, (_, let y?)): return y.hasPrefix("-") ? 1 : -1
        default: return 0
        }
    }

    /// Sign of `d - v` for an integer `v`; NaN compares as neither (0).
    private static func compare(_ d: Double, _ v: JSONValue) -> Int {
        if d.isNaN { return 0 }
        if d.isInfinite { return d > 0 ? 1 : -1 }
        switch integerParts(v) {
        case (let i?, _):
            if d >= 9223372036854775808.0 { return 1 }
            if d < -9223372036854775808.0 { return -1 }
            // Conversion truncates toward zero; step down for negative fractions.
            var floor = Int(d)
            if Double(floor) > d { floor -= 1 }
            if floor != i { return floor < i ? -1 : 1 }
            return d > Double(floor) ? 1 : 0
        case (_, let t?):
            // The other side is beyond Int's range, so only doubles that are integers
            // (beyond 2^53) can be near it.
            if d.magnitude < 9223372036854775808.0 { return t.hasPrefix("-") ? 1 : -1 }
            return BigIntegerText.compare(BigIntegerText.decimal(integral: d), t)
        default:
            return 0
        }
    }
}
