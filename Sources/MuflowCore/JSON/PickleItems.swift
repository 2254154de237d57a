/// The fast path for a forEach step's items as the Python binding pickles them: a list
/// of dicts whose keys are strings and whose values are strings, numbers, booleans or
/// None (`[{"i": 0}, {"i": 1}, ...]`), read straight into objects in one pass.
///
/// Items that all have the same keys, in the same order, come back as a table (the keys
/// once, then each item's values); otherwise dicts with the keys of the dict before share
/// one keys array. Anything else (nested containers,
/// tuples, non-string keys, a dict met twice, opcodes CPython does not write for such
/// data, malformed input) returns nil, and the caller takes `parsePickle`, which handles
/// and reports everything; for input read here both give the same objects.
public enum PickleItems {
    public static func read(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) -> StepJobs? {
        guard maxDepth >= 2 else { return nil }  // list at depth 0, dicts at 1
        var reader = Reader(bytes.bindMemory(to: UInt8.self))
        return reader.run()
    }

    private enum Slot {
        case mark
        case list
        /// An open dict: its pairs are `pairKeys/pairValues[start...]` up to the next
        /// open dict's start, or to the end for the last one.
        case dict(start: Int)
        case scalar(JSONValue)
    }


    private struct Reader {
        let input: UnsafeBufferPointer<UInt8>
        var pos = 0
        var stack: [Slot] = []
        var marks: [Int] = []
        /// Per memo entry, the index of its value in `memoScalars`, or -1 for a
        /// container (most entries are the items' dicts, so they take 4 bytes each).
        var memo: [Int32] = []
        var memoScalars: [JSONValue] = []
        /// The items while they all have the keys of the first (which are distinct):
        /// their values, item after item; then, from the first that differs, objects.
        var tableKeys: [JSONString]?
        var tableValues: [JSONValue] = []
        var tableCount = 0
        var objects: [JSONObject]?
        var sawList = false
        // Pairs of the open dicts, in the order the dicts were opened.
        var pairKeys: [JSONString] = []
        var pairValues: [JSONValue] = []
        var lastKeys: [JSONString] = []

        init(_ input: UnsafeBufferPointer<UInt8>) {
            self.input = input
            stack.reserveCapacity(64)
        }

        mutating func run() -> StepJobs? {
            while pos < input.count {
                let op = input[pos]
                pos += 1
                switch op {
                case 0x80: guard skip(1) else { return nil }                      // PROTO
                case 0x95: guard skip(8) else { return nil }                      // FRAME
                case 0x2E:                                                        // STOP
                    guard marks.isEmpty, stack.count == 1, case .list = stack[0] else { return nil }
                    if let objects { return StepJobs(objects) }
                    return StepJobs(keys: tableKeys ?? [], values: tableValues, count: tableCount)
                case 0x5D:                                                        // EMPTY_LIST
                    guard !sawList, stack.isEmpty else { return nil }
                    sawList = true
                    stack.append(.list)
                    // Reserved from the input's size (an item takes 4 bytes or more, a
                    // value mostly 2 or more), so that the arrays seldom grow by copying;
                    // reserved pages that are never touched cost nothing.
                    memo.reserveCapacity(input.count / 4)
                    tableValues.reserveCapacity(input.count / 2)
                case 0x7D:                                                        // EMPTY_DICT
                    guard sawList else { return nil }
                    stack.append(.dict(start: pairKeys.count))
                case 0x28: marks.append(stack.count); stack.append(.mark)     // MARK
                case 0x94:                                                        // MEMOIZE
                    guard stack.count > floor else { return nil }
                    switch stack[stack.count - 1] {
                    case .scalar(let value):
                        guard memoScalars.count < Int(Int32.max) else { return nil }
                        memo.append(Int32(memoScalars.count))
                        memoScalars.append(value)
                    case .list, .dict: memo.append(-1)
                    case .mark: return nil
                    }
                case 0x68, 0x6A:                                                  // BINGET, LONG_BINGET
                    guard let index = op == 0x68 ? unsigned(1) : unsigned(4), index < memo.count,
                          memo[index] >= 0 else { return nil }
                    stack.append(.scalar(memoScalars[Int(memo[index])]))
                case 0x4E: stack.append(.scalar(.null))                          // NONE
                case 0x88: stack.append(.scalar(.bool(true)))                    // NEWTRUE
                case 0x89: stack.append(.scalar(.bool(false)))                   // NEWFALSE
                case 0x4B:                                                        // BININT1
                    guard let v = unsigned(1) else { return nil }
                    stack.append(.scalar(.int(v)))
                case 0x4D:                                                        // BININT2
                    guard let v = unsigned(2) else { return nil }
                    stack.append(.scalar(.int(v)))
                case 0x4A:                                                        // BININT
                    guard let v = unsigned(4) else { return nil }
                    stack.append(.scalar(.int(Int(Int32(truncatingIfNeeded: v)))))
                case 0x8A:                                                        // LONG1
                    guard let n = unsigned(1), let raw = take(n),
                          let value = try? BigIntegerText.value(twosComplement: UnsafeRawBufferPointer(raw)) else { return nil }
                    stack.append(.scalar(value))
                case 0x47:                                                        // BINFLOAT, big-endian
                    guard let raw = take(8) else { return nil }
                    var bits: UInt64 = 0
                    for b in raw { bits = bits << 8 | UInt64(b) }
                    stack.append(.scalar(.double(Double(bitPattern: bits))))
                case 0x8C:                                                        // SHORT_BINUNICODE
                    guard let n = unsigned(1), pushString(length: n) else { return nil }
                case 0x58:                                                        // BINUNICODE
                    guard let n = unsigned(4), pushString(length: n) else { return nil }
                case 0x73:                                                        // SETITEM
                    guard stack.count >= floor + 3, setItems(target: stack.count - 3, from: stack.count - 2) else { return nil }
                    stack.removeLast(2)
                case 0x75:                                                        // SETITEMS
                    guard let mark = marks.popLast(), mark >= 1 + floor,
                          setItems(target: mark - 1, from: mark + 1) else { return nil }
                    stack.removeSubrange(mark...)
                case 0x61:                                                        // APPEND
                    guard stack.count >= floor + 2, append(to: stack.count - 2, from: stack.count - 1) else { return nil }
                case 0x65:                                                        // APPENDS
                    guard let mark = marks.popLast(), mark >= 1 + floor, append(to: mark - 1, from: mark + 1) else { return nil }
                default:
                    return nil
                }
            }
            return nil
        }

        /// The lowest stack index an opcode may reach: above the last mark.
        var floor: Int { marks.last.map { $0 + 1 } ?? 0 }

        /// Sets the key/value pairs at `stack[from...]` in the dict at `stack[target]`,
        /// which must be the last open dict (so its pairs are the last ones).
        mutating func setItems(target: Int, from: Int) -> Bool {
            // Above the target stand only the mark (SETITEMS) and the pairs, checked to
            // be scalars below: no dict opened after it.
            guard case .dict = stack[target], (stack.count - from) % 2 == 0 else { return false }
            var k = from
            while k < stack.count {
                guard case .scalar(.string(let key)) = stack[k], case .scalar(let value) = stack[k + 1] else { return false }
                pairKeys.append(key)
                pairValues.append(value)
                k += 2
            }
            return true
        }

        /// Moves the dicts at `stack[from...]` into the root list at `stack[list]`, and
        /// drops what stands above the list.
        mutating func append(to list: Int, from: Int) -> Bool {
            guard case .list = stack[list] else { return false }
            var ends = [Int]()
            for k in from..<stack.count {
                guard case .dict(let start) = stack[k] else { return false }
                if k > from { ends.append(start) }
            }
            ends.append(pairKeys.count)
            guard from < stack.count, case .dict(let first) = stack[from] else {
                stack.removeSubrange((list + 1)...)
                return true
            }
            for (k, end) in zip(from..<stack.count, ends) {
                guard case .dict(let start) = stack[k] else { return false }
                addItem(start, end)
            }
            stack.removeSubrange((list + 1)...)
            pairKeys.removeSubrange(first...)
            pairValues.removeSubrange(first...)
            return true
        }

        /// Adds the item of the pairs start..<end.
        mutating func addItem(_ start: Int, _ end: Int) {
            if objects == nil {
                if tableKeys == nil {
                    let keys = Array(pairKeys[start..<end])
                    if Set(keys).count == keys.count {
                        tableKeys = keys
                        lastKeys = keys
                    } else {
                        objects = []
                    }
                }
                if let tableKeys, tableKeys.count == end - start,
                   tableKeys.indices.allSatisfy({ pairKeys[start + $0] == tableKeys[$0] }) {
                    for k in start..<end { tableValues.append(pairValues[k]) }
                    tableCount += 1
                    return
                }
                objects = tableKeys.map { keys in
                    (0..<tableCount).map { row in
                        JSONObject(keys: keys, values: Array(tableValues[(row * keys.count)..<((row + 1) * keys.count)]))
                    }
                } ?? []
                tableValues = []
            }
            objects!.append(object(start, end))
        }

        /// The object of the pairs start..<end; keys equal to the last object's share
        /// its array.
        mutating func object(_ start: Int, _ end: Int) -> JSONObject {
            let count = end - start
            var same = count == lastKeys.count
            var k = 0
            while same && k < count {
                same = pairKeys[start + k] == lastKeys[k]
                k += 1
            }
            if !same { lastKeys = Array(pairKeys[start..<end]) }
            return JSONObject(keys: lastKeys, values: Array(pairValues[start..<end]))
        }

        mutating func pushString(length: Int) -> Bool {
            guard let raw = take(length), WTF8.isValid(raw) else { return false }
            stack.append(.scalar(.string(JSONString(wtf8: Array(raw)))))
            return true
        }

        mutating func skip(_ n: Int) -> Bool { take(n) != nil }

        mutating func take(_ n: Int) -> UnsafeBufferPointer<UInt8>? {
            guard n >= 0, n <= input.count - pos else { return nil }
            defer { pos += n }
            return UnsafeBufferPointer(rebasing: input[pos..<(pos + n)])
        }

        mutating func unsigned(_ n: Int) -> Int? {
            guard let raw = take(n) else { return nil }
            var v = 0
            for i in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | Int(raw[i]) }
            return v
        }
    }
}
