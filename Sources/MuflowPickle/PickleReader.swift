import MuflowCore

/// Reads a Python pickle (protocols 2 to 5) of plain data, the value `json.dumps` would
/// see: dict, list, tuple (as an array), str, int, float, bool and None.
///
/// Other objects (bytes, sets, instances of classes, ...) are read as opaque stand-ins
/// and reported as Python's `json.dumps` would, with the key path that leads to them:
/// `Object of type bytes is not JSON serializable at value['a'][3]`. A container that
/// holds itself is `Circular reference detected`; keys that are not strings are sorted
/// and converted as `json.dumps(sort_keys=True)` does.
public func parsePickle(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 1000,
                        rootName: String = "value") throws -> JSONValue {
    var machine = PickleMachine(bytes)
    let root = try machine.run()
    var freezer = PickleFreezer(containers: machine.containers, maxDepth: maxDepth, rootName: rootName)
    do {
        return try freezer.freeze(root, pythonOrder: false)
    } catch let error as MuflowError where error.kind == .type {
        // The first pass visits dicts in insertion order; find the error Python meets
        // first, visiting keys in sorted order as json.dumps(sort_keys=True) does.
        var ordered = PickleFreezer(containers: machine.containers, maxDepth: maxDepth, rootName: rootName)
        _ = try ordered.freeze(root, pythonOrder: true)
        throw error
    }
}

/// What the pickle machine's stack and memo hold.
enum PickleNode {
    case value(JSONValue)
    /// A list, tuple, dict or set still being filled, by index into the containers.
    case container(Int)
    /// An object outside the JSON data model, by its Python type name.
    case foreign(String)
    /// A class or function named by GLOBAL or STACK_GLOBAL.
    case global(module: String, name: String)
    case mark
}

struct PickleContainer {
    enum Kind { case list, tuple, dict, set }
    var kind: Kind
    /// Elements; for a dict, keys and values alternate.
    var items: [PickleNode] = []
}

/// The pickle virtual machine, restricted to the opcodes plain data needs. Containers
/// live in an array and refer to each other by index, so that shared and even
/// self-containing containers need no reference cycles.
struct PickleMachine {
    private let bytes: UnsafeRawBufferPointer
    private var pos = 0
    private let stack = MoveStack<PickleNode>()
    private var marks: [Int] = []
    private var memo: [PickleNode?] = []
    private var farMemo: [Int: PickleNode] = [:]
    private var memoCount = 0
    private(set) var containers: [PickleContainer] = []

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func run() throws -> PickleNode {
        while true {
            let opAt = pos
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                  // PROTO
            case 0x95: _ = try take(8)                                 // FRAME
            case 0x2E:                                                 // STOP
                guard stack.count > 0, marks.isEmpty else { throw malformed("STOP with a bad stack", at: opAt) }
                let top = stack.top
                if case .mark = top { throw malformed("STOP with a bad stack", at: opAt) }
                return top
            case 0x28: marks.append(stack.count); stack.push(.mark)  // MARK
            case 0x4E: stack.push(.value(.null))                     // NONE
            case 0x88: stack.push(.value(.bool(true)))               // NEWTRUE
            case 0x89: stack.push(.value(.bool(false)))              // NEWFALSE
            case 0x4B: stack.push(.value(.int(Int(try byte()))))     // BININT1
            case 0x4D: stack.push(.value(.int(Int(try littleEndian(2)))))  // BININT2
            case 0x4A: stack.push(.value(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4))))))  // BININT
            case 0x8A: stack.push(.value(try BigIntegerText.value(twosComplement: take(Int(try byte())))))  // LONG1
            case 0x8B:                                                 // LONG4
                let n = Int(Int32(truncatingIfNeeded: try littleEndian(4)))
                guard n >= 0 else { throw malformed("negative LONG4 length", at: opAt) }
                stack.push(.value(try BigIntegerText.value(twosComplement: take(n))))
            case 0x47:                                                 // BINFLOAT, big-endian
                let raw = try take(8)
                var bits: UInt64 = 0
                for b in raw { bits = bits << 8 | UInt64(b) }
                stack.push(.value(.double(Double(bitPattern: bits))))
            case 0x8C: try pushString(length: Int(try byte()), at: opAt)        // SHORT_BINUNICODE
            case 0x58: try pushString(length: Int(try littleEndian(4)), at: opAt)  // BINUNICODE
            case 0x8D: try pushString(length: try length8(), at: opAt)          // BINUNICODE8
            case 0x43: _ = try take(Int(try byte())); stack.push(.foreign("bytes"))     // SHORT_BINBYTES
            case 0x42: _ = try take(Int(try littleEndian(4))); stack.push(.foreign("bytes"))  // BINBYTES
            case 0x8E: _ = try take(try length8()); stack.push(.foreign("bytes"))       // BINBYTES8
            case 0x96: _ = try take(try length8()); stack.push(.foreign("bytearray"))   // BYTEARRAY8
            case 0x5D: stack.push(newContainer(.list))               // EMPTY_LIST
            case 0x7D: stack.push(newContainer(.dict))               // EMPTY_DICT
            case 0x29: stack.push(newContainer(.tuple))              // EMPTY_TUPLE
            case 0x8F: stack.push(newContainer(.set))                // EMPTY_SET
            case 0x85, 0x86, 0x87:                                     // TUPLE1, TUPLE2, TUPLE3
                let n = Int(op - 0x84)
                guard stack.count - (marks.last.map { $0 + 1 } ?? 0) >= n else { throw malformed("stack underflow", at: opAt) }
                stack.push(newContainer(.tuple, stack.popAll(from: stack.count - n)))
            case 0x74: stack.push(newContainer(.tuple, try popToMark(opAt)))  // TUPLE
            case 0x6C: stack.push(newContainer(.list, try popToMark(opAt)))   // LIST
            case 0x64:                                                          // DICT
                let items = try popToMark(opAt)
                guard items.count % 2 == 0 else { throw malformed("odd number of items for DICT", at: opAt) }
                stack.push(newContainer(.dict, items))
            case 0x91: _ = try popToMark(opAt); stack.push(.foreign("frozenset"))  // FROZENSET
            case 0x61:                                                 // APPEND
                let item = try pop(opAt)
                let target = try top(opAt)
                try extend(target, with: [item], at: opAt)
            case 0x65, 0x90:                                           // APPENDS, ADDITEMS
                try extendToMark(opAt, dict: false)
            case 0x73:                                                 // SETITEM
                let value = try pop(opAt), key = try pop(opAt)
                let target = try top(opAt)
                try extend(target, with: [key, value], at: opAt, dict: true)
            case 0x75:                                                 // SETITEMS
                try extendToMark(opAt, dict: true)
            case 0x94:                                                 // MEMOIZE
                let node = try top(opAt)
                remember(memoCount, node)
            case 0x71, 0x72:                                           // BINPUT, LONG_BINPUT
                let index = op == 0x71 ? Int(try byte()) : Int(try littleEndian(4))
                let node = try top(opAt)
                remember(index, node)
            case 0x68, 0x6A:                                           // BINGET, LONG_BINGET
                let index = op == 0x68 ? Int(try byte()) : Int(try littleEndian(4))
                stack.push(try recall(index, opAt))
            case 0x30: _ = try pop(opAt)                               // POP
            case 0x31: _ = try popToMark(opAt)                         // POP_MARK
            case 0x32: stack.push(try top(opAt))                     // DUP
            case 0x63:                                                 // GLOBAL
                let module = try line(), name = try line()
                stack.push(.global(module: module, name: name))
            case 0x93:                                                 // STACK_GLOBAL
                let name = try pop(opAt), module = try pop(opAt)
                stack.push(.global(module: text(of: module), name: text(of: name)))
            case 0x51:                                                 // BINPERSID
                // A value the sender could not pickle, named by its type (muflow_native
                // sends one so that the refusal and its key path are written here).
                stack.push(.foreign(text(of: try pop(opAt))))
            case 0x52:                                                 // REDUCE
                let args = try pop(opAt), callable = try pop(opAt)
                stack.push(.foreign(typeName(calling: callable, with: args)))
            case 0x81:                                                 // NEWOBJ
                _ = try pop(opAt)
                stack.push(.foreign(typeName(ofInstanceOf: try pop(opAt))))
            case 0x92:                                                 // NEWOBJ_EX
                _ = try pop(opAt); _ = try pop(opAt)
                stack.push(.foreign(typeName(ofInstanceOf: try pop(opAt))))
            case 0x62:                                                 // BUILD: state is dropped
                _ = try pop(opAt)
                _ = try top(opAt)
            default:
                throw MuflowError(.type, "Pickle opcode 0x\(String(op, radix: 16)) at byte \(opAt) is not supported: only plain data (dict, list, tuple, str, int, float, bool, None) is JSON serializable")
            }
        }
    }

    // MARK: - Stack

    private mutating func newContainer(_ kind: PickleContainer.Kind, _ items: [PickleNode] = []) -> PickleNode {
        containers.append(PickleContainer(kind: kind, items: items))
        return .container(containers.count - 1)
    }

    private mutating func pop(_ at: Int) throws -> PickleNode {
        guard stack.count > (marks.last.map { $0 + 1 } ?? 0) else { throw malformed("stack underflow", at: at) }
        return stack.pop()
    }

    private func top(_ at: Int) throws -> PickleNode {
        guard stack.count > (marks.last.map { $0 + 1 } ?? 0) else { throw malformed("stack underflow", at: at) }
        return stack.top
    }

    private mutating func popToMark(_ at: Int) throws -> [PickleNode] {
        guard let mark = marks.popLast() else { throw malformed("no MARK on the stack", at: at) }
        let items = stack.popAll(from: mark + 1)
        _ = stack.pop()
        return items
    }

    /// APPENDS, ADDITEMS, SETITEMS: moves the items above the mark into the container
    /// below it.
    private mutating func extendToMark(_ at: Int, dict: Bool) throws {
        guard let mark = marks.popLast() else { throw malformed("no MARK on the stack", at: at) }
        guard mark - 1 >= (marks.last.map { $0 + 1 } ?? 0) else { throw malformed("stack underflow", at: at) }
        if dict && (stack.count - mark - 1) % 2 != 0 { throw malformed("odd number of items for SETITEMS", at: at) }
        let target = stack[mark - 1]
        if case .container(let i) = target,
           dict ? containers[i].kind == .dict : (containers[i].kind == .list || containers[i].kind == .set) {
            stack.popAll(from: mark + 1, appendingTo: &containers[i].items)
            _ = stack.pop()
        } else {
            let items = stack.popAll(from: mark + 1)
            _ = stack.pop()
            try extend(target, with: items, at: at, dict: dict)
        }
    }

    private mutating func extend(_ target: PickleNode, with items: [PickleNode], at: Int, dict: Bool = false) throws {
        switch target {
        case .container(let i):
            let kind = containers[i].kind
            guard dict ? kind == .dict : (kind == .list || kind == .set) else {
                throw malformed(dict ? "SETITEM on a value that is not a dict" : "APPEND on a value that is not a list", at: at)
            }
            containers[i].items.append(contentsOf: items)
        case .foreign:
            break  // an instance of a list or dict subclass: it is refused anyway
        default:
            throw malformed(dict ? "SETITEM on a value that is not a dict" : "APPEND on a value that is not a list", at: at)
        }
    }

    private mutating func remember(_ index: Int, _ node: PickleNode) {
        if index < memo.count {
            if memo[index] == nil { memoCount += 1 }
            memo[index] = node
        } else if index < memo.count + 65_536 {
            memo.append(contentsOf: repeatElement(nil, count: index - memo.count))
            memo.append(node)
            memoCount += 1
        } else {
            if farMemo.updateValue(node, forKey: index) == nil { memoCount += 1 }
        }
    }

    private func recall(_ index: Int, _ at: Int) throws -> PickleNode {
        if index < memo.count, let node = memo[index] { return node }
        if let node = farMemo[index] { return node }
        throw malformed("memo key \(index) not found", at: at)
    }

    // MARK: - Reading bytes

    private func malformed(_ what: String, at: Int) -> MuflowError {
        MuflowError(.invalidArgument, "Invalid pickle at byte \(at): \(what)")
    }

    private mutating func byte() throws -> UInt8 {
        guard pos < bytes.count else { throw malformed("truncated (missing STOP)", at: pos) }
        defer { pos += 1 }
        return bytes[pos]
    }

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - pos else { throw malformed("truncated", at: pos) }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
    }

    private mutating func littleEndian(_ n: Int) throws -> UInt64 {
        let raw = try take(n)
        var v: UInt64 = 0
        for i in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | UInt64(raw[i]) }
        return v
    }

    private mutating func length8() throws -> Int {
        let v = try littleEndian(8)
        guard v <= UInt64(bytes.count) else { throw malformed("truncated", at: pos) }
        return Int(v)
    }

    private mutating func pushString(length: Int, at: Int) throws {
        let raw = try take(length)
        let utf8 = raw.bindMemory(to: UInt8.self)
        guard WTF8.isValid(utf8) else { throw malformed("string is not UTF-8", at: at) }
        stack.push(.value(.string(JSONString(wtf8: Array(utf8)))))
    }

    private mutating func line() throws -> String {
        let start = pos
        while pos < bytes.count && bytes[pos] != 0x0A { pos += 1 }
        guard pos < bytes.count else { throw malformed("truncated GLOBAL", at: start) }
        defer { pos += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
    }

    // MARK: - Names of refused objects

    private func text(of node: PickleNode) -> String {
        if case .value(.string(let s)) = node { return s.description }
        return "?"
    }

    private func typeName(ofInstanceOf cls: PickleNode) -> String {
        if case .global(_, let name) = cls { return name.split(separator: ".").last.map(String.init) ?? name }
        return "object"
    }

    private func typeName(calling callable: PickleNode, with args: PickleNode) -> String {
        guard case .global(let module, let name) = callable else { return "object" }
        switch (module, name) {
        case ("_codecs", "encode"): return "bytes"
        case ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"), ("copyreg", "__newobj__"):
            if case .container(let i) = args, let first = containers[i].items.first {
                return typeName(ofInstanceOf: first)
            }
            return "object"
        default:
            return typeName(ofInstanceOf: callable)
        }
    }
}
