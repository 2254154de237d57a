import MuflowCore

/// The canonical text (`json.dumps(value, sort_keys=True)`) of a pickle, written as the
/// pickle is read, with no value tree in between: the fast path for hashing the dicts a
/// Python binding sends. It covers what such dicts hold almost always (dicts with
/// string keys, lists, strings, integers, floats, booleans, None, shared objects); for
/// anything else (tuples, non-string keys, a container referenced while it is being
/// built, malformed input) it returns nil and the caller takes `parsePickle`, which
/// handles and reports everything.
///
/// Pickle is a stack machine, but CPython's pickler writes plain data in prefix order:
/// a container's opcode, its memo entry, then its items in batches (MARK ... SETITEMS
/// or APPENDS, 1,000 per batch) or, for exactly one item, the item and SETITEM/APPEND.
/// A container that is empty is followed directly by its parent's next opcode, so
/// reading "one item and SETITEM" is tried and undone when the SETITEM is not there.
///
/// Texts are written once, in place: a container's opening bracket, then its items with
/// their separators. Only a dict whose keys arrive out of order is rearranged.
public enum PickleCanonical {
    /// What an element of a root list has under the key "task": Python's
    /// `d.get("task", "unknown")` when that is a string.
    public enum Label {
        case string(UnsafeBufferPointer<UInt8>)
        case missing
        case notAString
    }

    /// Receives the elements of a root list, as `forEachElement` reads them.
    public protocol ElementSink {
        mutating func element(_ text: UnsafeBufferPointer<UInt8>, label: Label)
    }

    private struct NoSink: ElementSink {
        func element(_ text: UnsafeBufferPointer<UInt8>, label: Label) {}
    }

    public static func text(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) -> [UInt8]? {
        withText(bytes, maxDepth: maxDepth) { Array($0) }
    }

    /// Calls `body` with the canonical text, valid only during the call; nil when the
    /// fast path does not apply.
    public static func withText<R>(_ bytes: UnsafeRawBufferPointer, maxDepth: Int,
                                   _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        var reader = Reader(bytes.bindMemory(to: UInt8.self), maxDepth: maxDepth, sink: NoSink(), streaming: false)
        guard let root = reader.document() else { return nil }
        return reader.arena.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[root])) }
    }

    /// Hands `sink` the canonical text of each element of a pickled list, and the
    /// element's label when it is a dict, in order, as each is read (so the texts never
    /// all sit in memory at once). Both are valid only during the call. Returns false
    /// when the fast path does not apply; `sink` may have been given some elements by
    /// then, and the caller must discard what it made of them.
    public static func forEachElement<Sink: ElementSink>(_ bytes: UnsafeRawBufferPointer, maxDepth: Int,
                                                         into sink: inout Sink) -> Bool {
        var reader = Reader(bytes.bindMemory(to: UInt8.self), maxDepth: maxDepth, sink: sink, streaming: true)
        defer { sink = reader.sink }
        return reader.document() != nil && reader.sawRootList
    }

    private struct Pair {
        var key: Range<Int>             // the key's raw bytes in the input
        var text: Range<Int>            // "key": value, in the arena
        var stringValue: Range<Int>?    // the value's raw bytes when it is a string
    }

    /// A value read: its text in the arena, and for a string its raw bytes in the input.
    private struct Item {
        var text: Range<Int>
        var raw: Range<Int>? = nil
    }

    /// A memo entry: a string by its raw input bytes and its text in `memoArena`, a
    /// container by its text in `memoArena` (nil while the container is being built) and
    /// its levels of nesting, counted the first time it is met again (a shared list met
    /// in every element of a batch is scanned once, not once per element).
    private enum Memo {
        case string(raw: Range<Int>, text: Range<Int>)
        case container(Range<Int>?, nesting: Int?)
        case scalar(Range<Int>)
        /// An element of a streamed root list: its text is not kept (a root list is
        /// long, and its elements are seldom met twice).
        case notKept
    }

    private struct Checkpoint {
        var pos, arena, memo, memoArena, pairs: Int
        var failed: Bool
    }

    private struct Reader<Sink: ElementSink> {
        let input: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var pos = 0
        var arena: [UInt8] = []
        var memoArena: [UInt8] = []
        var memo: [Memo] = []
        var pairs: [Pair] = []
        /// Where a dict out of key order is rearranged before it goes back to the arena.
        var scratch: [UInt8] = []
        /// Set for input this reader must not guess about (memo slots out of sequence).
        var failed = false
        /// Bytes read again after tentative reads were undone. Nested empty containers
        /// have each following sibling read again at every level (2^depth times), so past
        /// a budget this reader gives up and the linear full reader takes over.
        var reread = 0
        var rereadBudget: Int { input.count + 65_536 }
        /// Given, a root list hands each element's text here instead of joining them.
        var sink: Sink
        let streaming: Bool
        var sawRootList = false
        /// The label of the dict last finished at depth 1 (an element of the root).
        var elementLabel = Label.notAString

        init(_ input: UnsafeBufferPointer<UInt8>, maxDepth: Int, sink: Sink, streaming: Bool) {
            self.input = input
            self.maxDepth = maxDepth
            self.sink = sink
            self.streaming = streaming
            arena.reserveCapacity(max(64, input.count * 2))
        }

        mutating func document() -> Range<Int>? {
            guard take(0x80) != nil, byte() != nil else { return nil }      // PROTO n
            skipFrames()
            guard let root = value(depth: 0) else { return nil }
            skipFrames()
            guard !failed, reread <= rereadBudget, take(0x2E) != nil, pos == input.count else { return nil }  // STOP
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

        /// Appends bytes of one buffer to another without the retain an ArraySlice costs.
        @inline(__always)
        func copy(_ range: Range<Int>, of source: [UInt8], to target: inout [UInt8]) {
            source.withUnsafeBufferPointer { target.append(contentsOf: UnsafeBufferPointer(rebasing: $0[range])) }
        }

        mutating func appendSeparator() {
            arena.append(UInt8(ascii: ","))
            arena.append(UInt8(ascii: " "))
        }

        // MARK: Values

        /// Reads one value, appends its text to the arena and returns where it stands.
        mutating func value(depth: Int) -> Item? {
            guard reread <= rereadBudget else { return nil }
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
            case 0x8A:                                                     // LONG1
                guard let n = byte(), pos + Int(n) <= input.count else { return nil }
                let bytes = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: input[pos..<pos + Int(n)]))
                pos += Int(n)
                switch try? BigIntegerText.value(twosComplement: bytes) {
                case .int(let v)?: NumberText.appendDecimal(v, to: &arena)
                case .bigInt(let text)?: arena.append(contentsOf: text.utf8)
                default: return nil
                }
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
                case .string(let raw, let text):
                    copy(text, of: memoArena, to: &arena)
                    return Item(text: start..<arena.count, raw: raw)
                case .container(let text?, let known):
                    // A shared container nests as deep again where it is met again.
                    let levels = known ?? nesting(of: text)
                    if known == nil { memo[Int(index)] = .container(text, nesting: levels) }
                    guard depth + levels <= maxDepth else { return nil }
                    copy(text, of: memoArena, to: &arena)
                case .scalar(let text): copy(text, of: memoArena, to: &arena)
                case .container(nil, _), .notKept: return nil                 // being built, or not kept
                }
            case 0x7D, 0x5D:                                               // EMPTY_DICT, EMPTY_LIST
                // Deeper values go to the full reader, which does not recurse: four frames
                // a level here would overflow the stack of an unoptimised build near 1,000.
                guard depth < min(maxDepth, 200) else { return nil }
                let slot = reserveMemo()
                guard op == 0x7D ? dictionary(depth: depth) : list(depth: depth) else { return nil }
                if let slot, streaming && depth == 1 {
                    memo[slot] = .notKept
                } else if let slot {
                    let text = memoArena.count..<memoArena.count + (arena.count - start)
                    copy(start..<arena.count, of: arena, to: &memoArena)
                    memo[slot] = .container(text, nesting: nil)
                }
                return Item(text: start..<arena.count)
            default:
                return nil
            }
            memoize(nil, text: start..<arena.count)
            return Item(text: start..<arena.count)
        }

        /// The levels of arrays and objects in canonical JSON text of the memo arena.
        func nesting(of text: Range<Int>) -> Int {
            var level = 0, deepest = 0, inString = false, escaped = false
            for c in memoArena[text] {
                if inString {
                    if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
                } else if c == UInt8(ascii: "\"") {
                    inString = true
                } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    level += 1
                    deepest = max(deepest, level)
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    level -= 1
                }
            }
            return deepest
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
            let stored = memoArena.count..<memoArena.count + text.count
            copy(text, of: arena, to: &memoArena)
            memo[slot] = if let string { .string(raw: string, text: stored) } else { .scalar(stored) }
        }

        /// Consumes a memo opcode (MEMOIZE, BINPUT, LONG_BINPUT) and returns its slot,
        /// marked as a container being built until filled.
        mutating func reserveMemo() -> Int? {
            skipFrames()
            let slot: Int
            switch next {
            case 0x94: pos += 1; slot = memo.count                          // MEMOIZE
            case 0x71: pos += 1; guard let i = littleEndian(1) else { failed = true; return nil }; slot = Int(i)
            case 0x72: pos += 1; guard let i = littleEndian(4) else { failed = true; return nil }; slot = Int(i)
            default: return nil
            }
            // CPython numbers memo slots in sequence; anything else goes to the full reader.
            guard slot == memo.count else {
                failed = true
                return nil
            }
            memo.append(.container(nil, nesting: nil))
            return slot
        }

        // MARK: Containers

        /// The items of a dict, after EMPTY_DICT and its memo entry.
        mutating func dictionary(depth: Int) -> Bool {
            let firstPair = pairs.count
            let start = arena.count
            arena.append(UInt8(ascii: "{"))
            guard items(depth: depth, terminator: 0x75, single: 0x73, isDict: true) else { return false }  // SETITEMS, SETITEM
            if depth == 1 && streaming { elementLabel = label(of: pairs[firstPair...]) }
            let sorted = pairs[firstPair...].indices.dropFirst().allSatisfy { precedes(pairs[$0 - 1], pairs[$0]) }
            if !sorted {
                let input = self.input
                pairs.withUnsafeMutableBufferPointer { all in
                    var unsorted = UnsafeMutableBufferPointer(rebasing: all[firstPair...])
                    unsorted.sort { input[$0.key].lexicographicallyPrecedes(input[$1.key]) }
                }
                // A repeated key: Python keeps its last value, and the full reader does that.
                if pairs[firstPair...].indices.dropFirst().contains(where: { !precedes(pairs[$0 - 1], pairs[$0]) }) {
                    return false
                }
                scratch.removeAll(keepingCapacity: true)
                scratch.append(UInt8(ascii: "{"))
                for k in firstPair..<pairs.count {
                    if k > firstPair { scratch.append(UInt8(ascii: ",")); scratch.append(UInt8(ascii: " ")) }
                    copy(pairs[k].text, of: arena, to: &scratch)
                }
                arena.removeSubrange(start...)
                arena.append(contentsOf: scratch)
            }
            arena.append(UInt8(ascii: "}"))
            pairs.removeSubrange(firstPair...)
            return true
        }

        func precedes(_ a: Pair, _ b: Pair) -> Bool {
            input[a.key].lexicographicallyPrecedes(input[b.key])
        }

        func label(of pairs: ArraySlice<Pair>) -> Label {
            guard let task = pairs.first(where: { isTaskKey($0.key) }) else { return .missing }
            guard let raw = task.stringValue else { return .notAString }
            return .string(UnsafeBufferPointer(rebasing: input[raw]))
        }

        func isTaskKey(_ key: Range<Int>) -> Bool {
            key.count == 4 && input[key.lowerBound] == UInt8(ascii: "t") && input[key.lowerBound + 1] == UInt8(ascii: "a")
                && input[key.lowerBound + 2] == UInt8(ascii: "s") && input[key.lowerBound + 3] == UInt8(ascii: "k")
        }

        /// One key (a string) and its value, as `"key": value` in the arena.
        mutating func pair(depth: Int) -> Bool {
            let start = arena.count
            guard let key = value(depth: depth + 1), let raw = key.raw else { return false }
            arena.append(UInt8(ascii: ":"))
            arena.append(UInt8(ascii: " "))
            guard let item = value(depth: depth + 1) else { return false }
            pairs.append(Pair(key: raw, text: start..<arena.count, stringValue: item.raw))
            return true
        }

        /// Where the reader stands, to undo a tentative read.
        var checkpoint: Checkpoint {
            Checkpoint(pos: pos, arena: arena.count, memo: memo.count, memoArena: memoArena.count,
                       pairs: pairs.count, failed: failed)
        }

        mutating func rewind(to point: Checkpoint) {
            reread += pos - point.pos
            pos = point.pos
            arena.removeSubrange(point.arena...)
            memo.removeSubrange(point.memo...)
            memoArena.removeSubrange(point.memoArena...)
            pairs.removeSubrange(point.pairs...)
            failed = point.failed
        }

        /// The items of a list, after EMPTY_LIST and its memo entry. At the root with
        /// a sink, each element goes there as it is read, and is then dropped.
        mutating func list(depth: Int) -> Bool {
            if depth == 0, streaming {
                guard items(depth: depth, terminator: 0x65, single: 0x61, isDict: false) else { return false }
                sawRootList = true
                return true
            }
            arena.append(UInt8(ascii: "["))
            guard items(depth: depth, terminator: 0x65, single: 0x61, isDict: false) else { return false }  // APPENDS, APPEND
            arena.append(UInt8(ascii: "]"))
            return true
        }

        /// A container's items: batches `MARK item ... terminator` (CPython writes 1,000
        /// items a batch, so a shorter batch is the last), or one item and `single`, or
        /// nothing. Items after the first are preceded by ", " (except streamed ones).
        mutating func items(depth: Int, terminator: UInt8, single: UInt8, isDict: Bool) -> Bool {
            var count = 0
            if next == 0x28 {
                while take(0x28) != nil {                                  // MARK
                    var inBatch = 0
                    while next != terminator {
                        guard item(depth: depth, isDict: isDict, first: count == 0) else { return false }
                        count += 1
                        inBatch += 1
                    }
                    pos += 1
                    if inBatch != 1000 { break }
                    skipFrames()
                }
            } else {
                // One item and `single`: read tentatively; only `single` makes it ours.
                let resume = checkpoint
                if !(item(depth: depth, isDict: isDict, first: true) && take(single) != nil) {
                    rewind(to: resume)
                }
            }
            return true
        }

        mutating func item(depth: Int, isDict: Bool, first: Bool) -> Bool {
            if isDict {
                if !first { appendSeparator() }
                return pair(depth: depth)
            }
            if streaming, depth == 0 {
                let start = arena.count
                elementLabel = .notAString
                guard let element = value(depth: 1) else { return false }
                let label = elementLabel
                arena.withUnsafeBufferPointer { sink.element(UnsafeBufferPointer(rebasing: $0[element.text]), label: label) }
                arena.removeSubrange(start...)
                return true
            }
            if !first { appendSeparator() }
            return value(depth: depth + 1) != nil
        }
    }
}
