/// The canonical text (`json.dumps(value, sort_keys=True)`) of a pickle, written as the
/// pickle is read, with no value tree in between: the fast path for hashing the dicts a
/// Python binding sends. It covers what such dicts hold almost always (dicts with
/// string keys, lists, strings, small integers, floats, booleans, None, shared
/// objects); for anything else (tuples, big integers, non-string keys, a container
/// referenced while it is being built, malformed input) it returns nil and the caller
/// takes `parsePickle`, which handles and reports everything.
///
/// Pickle is a stack machine, but CPython's pickler writes plain data in prefix order:
/// a container's opcode, its memo entry, then its items in batches (MARK ... SETITEMS
/// or APPENDS, 1,000 per batch) or, for exactly one item, the item and SETITEM/APPEND.
/// A container that is empty is followed directly by its parent's next opcode, so
/// reading "one item and SETITEM" is tried and undone when the SETITEM is not there.
public enum PickleCanonical {
    public static func text(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) -> [UInt8]? {
        var reader = Reader(bytes.bindMemory(to: UInt8.self), maxDepth: maxDepth)
        guard let root = reader.document() else { return nil }
        return Array(reader.arena[root])
    }

    /// Calls `body` with the canonical text of each element of a pickled list, in
    /// order, as each is read (so the texts never all sit in memory at once). Returns
    /// false when the fast path does not apply; `body` may have been called for some
    /// elements by then, and the caller must discard what it made of them.
    public static func forEachElement(_ bytes: UnsafeRawBufferPointer, maxDepth: Int,
                                      _ body: @escaping (ArraySlice<UInt8>) -> Void) -> Bool {
        var reader = Reader(bytes.bindMemory(to: UInt8.self), maxDepth: maxDepth)
        reader.onRootElement = body
        return reader.document() != nil && reader.sawRootList
    }

    private struct Pair {
        var key: Range<Int>       // the key's raw bytes in the input
        var text: Range<Int>      // "key": value, in the arena
    }

    /// A value read: its text in the arena, and for a string its raw bytes in the input.
    private struct Item {
        var text: Range<Int>
        var raw: Range<Int>? = nil
    }

    /// A memo entry: a string by its raw input bytes, a container by its text in
    /// `memoArena` (nil while the container is being built).
    private enum Memo {
        case string(Range<Int>)
        case container(Range<Int>?)
        case scalar(Range<Int>)
    }

    private struct Reader {
        let input: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var pos = 0
        var arena: [UInt8] = []
        var memoArena: [UInt8] = []
        var memo: [Memo] = []
        var pairs: [Pair] = []
        /// Set for input this reader must not guess about (memo slots out of sequence).
        var failed = false
        /// Given, a root list hands each element's text here instead of joining them.
        var onRootElement: ((ArraySlice<UInt8>) -> Void)?
        var sawRootList = false

        init(_ input: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.input = input
            self.maxDepth = maxDepth
            arena.reserveCapacity(max(64, input.count * 2))
        }

        mutating func document() -> Range<Int>? {
            guard take(0x80) != nil, byte() != nil else { return nil }      // PROTO n
            skipFrames()
            guard let root = value(depth: 0) else { return nil }
            skipFrames()
            guard !failed, take(0x2E) != nil, pos == input.count else { return nil }  // STOP
            return root.text
        }

        // MARK: Bytes

        mutating func byte() -> UInt8? {
            guard pos < input.count else { return nil }
            defer { pos += 1 }
            return input[pos]
        }

        mutating func take(_ op: UInt8) -> UInt8? {
            guard pos < input.count, input[pos] == op else { return nil }
            pos += 1
            return op
        }

        var next: UInt8? { pos < input.count ? input[pos] : nil }

        mutating func littleEndian(_ n: Int) -> UInt64? {
            guard pos + n <= input.count else { return nil }
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(input[pos + k]) << (8 * k) }
            pos += n
            return v
        }

        mutating func skipFrames() {
            while next == 0x95, pos + 9 <= input.count { pos += 9 }          // FRAME n
        }

        // MARK: Values

        /// Reads one value, appends its text to the arena and returns where it stands.
        mutating func value(depth: Int) -> Item? {
            skipFrames()
            guard let op = byte() else { return nil }
            let start = arena.count
            switch op {
            case 0x4E: arena.appendStaticText("null")                      // NONE
            case 0x88: arena.appendStaticText("true")                      // NEWTRUE
            case 0x89: arena.appendStaticText("false")                     // NEWFALSE
            case 0x4B:                                                     // BININT1
                guard let v = littleEndian(1) else { return nil }
                NumberText.appendDecimal(Int(v), to: &arena)
            case 0x4D:                                                     // BININT2
                guard let v = littleEndian(2) else { return nil }
                NumberText.appendDecimal(Int(v), to: &arena)
            case 0x4A:                                                     // BININT
                guard let v = littleEndian(4) else { return nil }
                NumberText.appendDecimal(Int(Int32(truncatingIfNeeded: v)), to: &arena)
            case 0x47:                                                     // BINFLOAT
                guard pos + 8 <= input.count else { return nil }
                var bits: UInt64 = 0
                for k in 0..<8 { bits = bits << 8 | UInt64(input[pos + k]) }
                pos += 8
                PythonJSON.appendDouble(Double(bitPattern: bits), to: &arena)
            case 0x8C, 0x58:                                               // SHORT_BINUNICODE, BINUNICODE
                guard let length = littleEndian(op == 0x8C ? 1 : 4), let raw = string(Int(length)) else { return nil }
                PythonJSON.appendString(UnsafeBufferPointer(rebasing: input[raw]), to: &arena)
                memoize(raw, text: start..<arena.count)
                return Item(text: start..<arena.count, raw: raw)
            case 0x68, 0x6A:                                               // BINGET, LONG_BINGET
                guard let index = littleEndian(op == 0x68 ? 1 : 4), Int(index) < memo.count else { return nil }
                switch memo[Int(index)] {
                case .string(let raw):
                    PythonJSON.appendString(UnsafeBufferPointer(rebasing: input[raw]), to: &arena)
                    return Item(text: start..<arena.count, raw: raw)
                case .container(let text?): arena.append(contentsOf: memoArena[text])
                case .scalar(let text): arena.append(contentsOf: memoArena[text])
                case .container(nil): return nil                           // still being built
                }
            case 0x7D, 0x5D:                                               // EMPTY_DICT, EMPTY_LIST
                guard depth < maxDepth else { return nil }
                let slot = reserveMemo()
                guard op == 0x7D ? dictionary(depth: depth) : list(depth: depth) else { return nil }
                if let slot {
                    let text = memoArena.count..<memoArena.count + (arena.count - start)
                    memoArena.append(contentsOf: arena[start...])
                    memo[slot] = .container(text)
                }
                return Item(text: start..<arena.count)
            default:
                return nil
            }
            memoize(nil, text: start..<arena.count)
            return Item(text: start..<arena.count)
        }

        mutating func string(_ length: Int) -> Range<Int>? {
            guard length >= 0, pos + length <= input.count else { return nil }
            let raw = pos..<pos + length
            guard WTF8.isValid(UnsafeBufferPointer(rebasing: input[raw])) else { return nil }
            pos += length
            return raw
        }

        /// Records a value in the memo if a memo opcode follows it.
        mutating func memoize(_ string: Range<Int>?, text: Range<Int>) {
            guard let slot = reserveMemo() else { return }
            if let string {
                memo[slot] = .string(string)
            } else {
                let copy = memoArena.count..<memoArena.count + text.count
                memoArena.append(contentsOf: arena[text])
                memo[slot] = .scalar(copy)
            }
        }

        /// Consumes a memo opcode (MEMOIZE, BINPUT, LONG_BINPUT) and returns its slot,
        /// marked as a container being built until filled.
        mutating func reserveMemo() -> Int? {
            skipFrames()
            let slot: Int
            switch next {
            case 0x94: pos += 1; slot = memo.count                          // MEMOIZE
            case 0x71: pos += 1; guard let i = littleEndian(1) else { return nil }; slot = Int(i)
            case 0x72: pos += 1; guard let i = littleEndian(4) else { return nil }; slot = Int(i)
            default: return nil
            }
            // CPython numbers memo slots in sequence; anything else goes to the full reader.
            guard slot == memo.count else {
                failed = true
                return nil
            }
            memo.append(.container(nil))
            return slot
        }

        // MARK: Containers

        /// The items of a dict, after EMPTY_DICT and its memo entry.
        mutating func dictionary(depth: Int) -> Bool {
            let firstPair = pairs.count
            let itemsStart = arena.count
            if next == 0x28 {
                guard batches(closedBy: 0x75, item: { $0.pair(depth: depth) }) else { return false }  // SETITEMS
            } else {
                let resume = checkpoint
                if !(pair(depth: depth) && take(0x73) != nil) {           // key value SETITEM
                    rewind(to: resume)
                    pairs.removeSubrange(firstPair...)
                }
            }
            var items = Array(pairs[firstPair...])
            pairs.removeSubrange(firstPair...)
            items.sort { input[$0.key].lexicographicallyPrecedes(input[$1.key]) }
            join(items.map(\.text), from: itemsStart, open: UInt8(ascii: "{"), close: UInt8(ascii: "}"))
            return true
        }

        /// One key (a string) and its value, as `"key": value` in the arena.
        mutating func pair(depth: Int) -> Bool {
            let start = arena.count
            guard let key = value(depth: depth + 1), let raw = key.raw else { return false }
            arena.append(UInt8(ascii: ":"))
            arena.append(UInt8(ascii: " "))
            guard value(depth: depth + 1) != nil else { return false }
            pairs.append(Pair(key: raw, text: start..<arena.count))
            return true
        }

        /// Where the reader stands, to undo a tentative read.
        var checkpoint: (pos: Int, arena: Int, memo: Int, memoArena: Int, failed: Bool) {
            (pos, arena.count, memo.count, memoArena.count, failed)
        }

        mutating func rewind(to point: (pos: Int, arena: Int, memo: Int, memoArena: Int, failed: Bool)) {
            pos = point.pos
            arena.removeSubrange(point.arena...)
            memo.removeSubrange(point.memo...)
            memoArena.removeSubrange(point.memoArena...)
            failed = point.failed
        }

        /// The items of a list, after EMPTY_LIST and its memo entry. At the root with
        /// `onRootElement`, each element goes there as it is read, and is then dropped.
        mutating func list(depth: Int) -> Bool {
            let itemsStart = arena.count
            let streaming = depth == 0 && onRootElement != nil
            var items: [Range<Int>] = []
            let element: (inout Reader) -> Bool = { reader in
                guard let item = reader.value(depth: depth + 1) else { return false }
                if streaming {
                    reader.onRootElement!(reader.arena[item.text])
                    reader.arena.removeSubrange(itemsStart...)
                } else {
                    items.append(item.text)
                }
                return true
            }
            if next == 0x28 {
                guard batches(closedBy: 0x65, item: element) else { return false }  // APPENDS
            } else {
                let resume = checkpoint
                // item APPEND: read the item tentatively; only an APPEND makes it ours.
                if !(element(&self) && take(0x61) != nil) {
                    rewind(to: resume)
                    items.removeAll()
                }
            }
            if streaming {
                sawRootList = true
            } else {
                join(items, from: itemsStart, open: UInt8(ascii: "["), close: UInt8(ascii: "]"))
            }
            return true
        }

        /// Reads batches `MARK item ... terminator`, calling `item` for each. CPython
        /// writes 1,000 items a batch, so a shorter batch is the last.
        mutating func batches(closedBy terminator: UInt8, item: (inout Reader) -> Bool) -> Bool {
            while take(0x28) != nil {                                      // MARK
                var count = 0
                while next != terminator {
                    guard item(&self) else { return false }
                    count += 1
                }
                pos += 1
                if count != 1000 { break }
                skipFrames()
            }
            return true
        }

        /// Replaces the arena from `start` with the texts at `ranges`, joined by ", "
        /// between `open` and `close`.
        mutating func join(_ ranges: [Range<Int>], from start: Int, open: UInt8, close: UInt8) {
            var text = [UInt8]()
            text.reserveCapacity(arena.count - start + 2 * ranges.count + 2)
            text.append(open)
            for (k, range) in ranges.enumerated() {
                if k > 0 { text.append(UInt8(ascii: ",")); text.append(UInt8(ascii: " ")) }
                text.append(contentsOf: arena[range])
            }
            text.append(close)
            arena.removeSubrange(start...)
            arena.append(contentsOf: text)
        }
    }
}
