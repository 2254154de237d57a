import MuflowCore

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
        /// The n-th item read whole by `readItem`, already among the items; it must be
        /// appended to the list next.
        case item(Int)
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
        /// The memo index of each table key, -1 where unknown.
        var tableKeyMemos: [Int32] = []
        /// Whether a dict may still be read whole at its EMPTY_DICT (`readItem`): until
        /// the first dict read opcode by opcode, whose item is added at its APPEND, so
        /// that items are added in list order.
        var direct = true
        var directCount = 0
        var directAppended = 0
        // The pairs of the dict `readItem` is reading: the first `itemCount` (the
        // arrays are reused from item to item).
        var itemKeys: [JSONString] = []
        var itemKeyMemos: [Int32] = []
        var itemValues: [JSONValue] = []
        var itemCount = 0

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
                    if direct {
                        if readItem() { continue }
                        direct = false
                    }
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
                    case .mark, .item: return nil
                    }
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
                    guard let value = scalar(op) else { return nil }
                    stack.append(.scalar(value))
                }
            }
            return nil
        }

        /// The value of a scalar opcode (its operands read), or nil for any other
        /// opcode or a malformed one.
        mutating func scalar(_ op: UInt8) -> JSONValue? {
            switch op {
            case 0x68, 0x6A:                                                      // BINGET, LONG_BINGET
                guard let index = op == 0x68 ? unsigned(1) : unsigned(4), index < memo.count,
                      memo[index] >= 0 else { return nil }
                return memoScalars[Int(memo[index])]
            case 0x4E: return .null                                               // NONE
            case 0x88: return .bool(true)                                         // NEWTRUE
            case 0x89: return .bool(false)                                        // NEWFALSE
            case 0x4B: return unsigned(1).map { .int($0) }                        // BININT1
            case 0x4D: return unsigned(2).map { .int($0) }                        // BININT2
            case 0x4A:                                                            // BININT
                return unsigned(4).map { .int(Int(Int32(truncatingIfNeeded: $0))) }
            case 0x8A:                                                            // LONG1
                guard let n = unsigned(1), let raw = take(n) else { return nil }
                return try? BigIntegerText.value(twosComplement: UnsafeRawBufferPointer(raw))
            case 0x47:                                                            // BINFLOAT, big-endian
                guard let raw = take(8) else { return nil }
                var bits: UInt64 = 0
                for b in raw { bits = bits << 8 | UInt64(b) }
                return .double(Double(bitPattern: bits))
            case 0x8C:                                                            // SHORT_BINUNICODE
                return unsigned(1).flatMap { string(length: $0) }
            case 0x58:                                                            // BINUNICODE
                return unsigned(4).flatMap { string(length: $0) }
            default:
                return nil
            }
        }

        /// Reads a dict whole, from after its EMPTY_DICT through its SETITEM(S), when it
        /// is memoized and holds pairs of a string key and a scalar (what CPython writes
        /// for an item), and adds it to the items at once, an `.item` standing for it on
        /// the stack; its keys, when met before, are compared by memo index. Returns
        /// false, with nothing read or memoized, for any other dict.
        mutating func readItem() -> Bool {
            let start = pos, memoCount = memo.count, scalarCount = memoScalars.count
            if readItemPairs() {
                addReadItem()
                return true
            }
            pos = start
            memo.removeSubrange(memoCount...)
            memoScalars.removeSubrange(scalarCount...)
            return false
        }

        private mutating func readItemPairs() -> Bool {
            guard skipFrames(), input[pos] == 0x94 else { return false }        // MEMOIZE
            pos += 1
            memo.append(-1)
            itemCount = 0
            guard skipFrames() else { return false }
            if input[pos] == 0x28 {                                               // MARK
                pos += 1
                while true {
                    guard skipFrames() else { return false }
                    if input[pos] == 0x75 { break }                               // SETITEMS
                    guard readPair() else { return false }
                }
            } else {
                guard readPair(), skipFrames(), input[pos] == 0x73 else { return false }  // SETITEM
            }
            guard itemCount > 0 else { return false }
            pos += 1
            return true
        }

        /// Steps over FRAME opcodes (CPython may start a frame between any two
        /// opcodes); false at the end of the input.
        private mutating func skipFrames() -> Bool {
            while pos < input.count && input[pos] == 0x95 {
                guard input.count - pos > 8 else { return false }
                pos += 9
            }
            return pos < input.count
        }

        /// One pair of a string key and a scalar value, each memoized if a MEMOIZE follows.
        private mutating func readPair() -> Bool {
            guard skipFrames() else { return false }
            let op = input[pos]
            pos += 1
            var keyMemo: Int32 = -1
            var name: JSONString?
            if op == 0x68 || op == 0x6A {                                         // BINGET, LONG_BINGET
                guard let index = op == 0x68 ? unsigned(1) : unsigned(4), index < memo.count,
                      memo[index] >= 0 else { return false }
                keyMemo = Int32(truncatingIfNeeded: index)
                // The key of the item before at this place, by the same memo entry, is
                // this key: it stays where it is.
                let known = itemCount < itemKeyMemos.count && itemKeyMemos[itemCount] == keyMemo
                    && skipFrames() && input[pos] != 0x94
                if !known {
                    guard case .string(let text) = memoScalars[Int(memo[index])] else { return false }
                    name = text
                }
            } else {
                guard case .string(let text)? = scalar(op) else { return false }
                name = text
            }
            if let text = name {
                guard memoizeIfAsked(.string(text), index: &keyMemo) else { return false }
            }
            guard skipFrames() else { return false }
            let valueOp = input[pos]
            pos += 1
            var valueMemo: Int32 = -1
            guard let value = scalar(valueOp), memoizeIfAsked(value, index: &valueMemo) else { return false }
            if itemCount < itemKeys.count {
                if let name { itemKeys[itemCount] = name }
                itemKeyMemos[itemCount] = keyMemo
                itemValues[itemCount] = value
            } else {
                itemKeys.append(name!)
                itemKeyMemos.append(keyMemo)
                itemValues.append(value)
            }
            itemCount += 1
            return true
        }

        /// Memoizes `value` when a MEMOIZE follows, setting `index` to its memo index;
        /// false when the memo is full.
        private mutating func memoizeIfAsked(_ value: JSONValue, index: inout Int32) -> Bool {
            guard skipFrames(), input[pos] == 0x94 else { return true }
            guard memoScalars.count < Int(Int32.max), memo.count < Int(Int32.max) else { return false }
            pos += 1
            index = Int32(memo.count)
            memo.append(Int32(memoScalars.count))
            memoScalars.append(value)
            return true
        }

        /// Adds the item `readItem` read, and stands it on the stack.
        private mutating func addReadItem() {
            if objects == nil {
                if tableKeys == nil {
                    let keys = Array(itemKeys[..<itemCount])
                    if distinct(keys) {
                        tableKeys = keys
                        tableKeyMemos = Array(itemKeyMemos[..<itemCount])
                        lastKeys = keys
                    } else {
                        objects = []
                    }
                }
                if let tableKeys, tableKeys.count == itemCount, itemHasTableKeys(tableKeys) {
                    for k in 0..<itemCount { tableValues.append(itemValues[k]) }
                    tableCount += 1
                } else {
                    leaveTable()
                }
            }
            if objects != nil {
                let keys = itemKeys[..<itemCount]
                if !lastKeys.elementsEqual(keys) { lastKeys = Array(keys) }
                objects!.append(JSONObject(keys: lastKeys, values: Array(itemValues[..<itemCount])))
            }
            stack.append(.item(directCount))
            directCount += 1
        }

        private func itemHasTableKeys(_ tableKeys: [JSONString]) -> Bool {
            for k in 0..<itemCount {
                let memo = itemKeyMemos[k]
                if memo >= 0 && memo == tableKeyMemos[k] { continue }
                if itemKeys[k] != tableKeys[k] { return false }
            }
            return true
        }

        private func distinct(_ keys: [JSONString]) -> Bool {
            keys.count < 2 || Set(keys).count == keys.count
        }

        /// From the first item without the table's keys on: the items so far as objects.
        private mutating func leaveTable() {
            objects = tableKeys.map { keys in
                (0..<tableCount).map { row in
                    JSONObject(keys: keys, values: Array(tableValues[(row * keys.count)..<((row + 1) * keys.count)]))
                }
            } ?? []
            tableValues = []
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
            // Items read whole come first, in the order they were read (and added).
            var dicts = from
            while dicts < stack.count, case .item(let n) = stack[dicts] {
                guard n == directAppended else { return false }
                directAppended += 1
                dicts += 1
            }
            guard dicts < stack.count, case .dict(let first) = stack[dicts] else {
                guard dicts == stack.count else { return false }
                stack.removeSubrange((list + 1)...)
                return true
            }
            guard directAppended == directCount else { return false }
            var ends = [Int]()
            for k in dicts..<stack.count {
                guard case .dict(let start) = stack[k] else { return false }
                if k > dicts { ends.append(start) }
            }
            ends.append(pairKeys.count)
            for (k, end) in zip(dicts..<stack.count, ends) {
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
                        tableKeyMemos = Array(repeating: -1, count: keys.count)
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
                leaveTable()
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

        mutating func string(length: Int) -> JSONValue? {
            guard let raw = take(length), WTF8.isValid(raw) else { return nil }
            return .string(JSONString(wtf8: Array(raw)))
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
