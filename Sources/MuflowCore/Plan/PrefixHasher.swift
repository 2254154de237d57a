/// Computes `ContentPrefix.compute` for the many hash dicts of one plan build, which
/// mostly share large values (a kwargs list repeated in every node of a fan-out).
///
/// Two savings, neither changing the result:
/// - The canonical text of a container met a second time (same storage, so the same
///   value) is written once and kept, together with the value so its storage cannot be
///   freed and reused under the same address.
/// - After each such shared value the hash state is kept; the next dict resumes from
///   the last kept state within the run of leading entries it shares with the previous
///   dict (SHA256 is a copy-on-write value, so a copy forks the state).
struct PrefixHasher {
    private final class CachedText {
        let value: JSONValue
        let bytes: [UInt8]
        init(value: JSONValue, bytes: [UInt8]) { self.value = value; self.bytes = bytes }
    }

    private struct StorageID: Hashable {
        let first: UnsafeRawPointer?
        let second: UnsafeRawPointer?
        let count: Int
        var keysPresorted = false
    }

    /// One `"key": value` entry of the canonical text: its bytes in the dict's text
    /// buffer (the whole entry, or only `"key": ` when the value is a cached container).
    private struct Entry {
        var start: Int
        var end: Int
        var shared: CachedText?
    }

    /// The canonical text of one dict, entry by entry: `text` holds the opening brace
    /// and the separators too, so a dict without shared entries is one run of bytes.
    private struct Layout {
        var text: [UInt8] = []
        var entries: [Entry] = []

        mutating func reset() {
            text.removeAll(keepingCapacity: true)
            text.append(UInt8(ascii: "{"))
            entries.removeAll(keepingCapacity: true)
        }

        func sameEntry(_ i: Int, as other: Layout) -> Bool {
            let a = entries[i], b = other.entries[i]
            guard a.shared === b.shared, a.end - a.start == b.end - b.start else { return false }
            return text[a.start..<a.end].elementsEqual(other.text[b.start..<b.end])
        }
    }

    /// Containers smaller than this are cheap to write again.
    private static let minimumCachedCount = 4

    private var seen = Set<StorageID>()
    private var cache: [StorageID: CachedText] = [:]
    private var current = Layout()
    private var previous = Layout()
    /// States kept after the previous dict's shared entries: (entries hashed, state).
    private var resumePoints: [(entries: Int, state: SHA256)] = []
    private var selected: [(JSONString, JSONValue)] = []

    private static let taskKey: JSONString = "task"
    private static let subjectKey: JSONString = "subject"
    private static let itemSeparator: [UInt8] = Array(", ".utf8)
    private static let keySeparator: [UInt8] = Array(": ".utf8)

    /// The prefix of `{"task": task, "subject": subject, **kwargs}`.
    mutating func prefix(task: JSONString, subject: JSONString, kwargs: JSONObject,
                         identityKeys: [JSONString]?, basePrefix: JSONString) -> [UInt8] {
        func lookup(_ key: JSONString) -> JSONValue? {
            if let value = kwargs[key] { return value }
            if key == Self.taskKey { return .string(task) }
            if key == Self.subjectKey { return .string(subject) }
            return nil
        }
        let taskValue = lookup(Self.taskKey)!
        selected.removeAll(keepingCapacity: true)
        if let identityKeys, !identityKeys.isEmpty {
            for key in identityKeys where key != Self.taskKey {
                if let value = lookup(key) { selected.append((key, value)) }
            }
            selected.append((Self.taskKey, taskValue))
        } else {
            selected.append((Self.taskKey, taskValue))
            selected.append((Self.subjectKey, lookup(Self.subjectKey)!))
            for (key, value) in kwargs.pairs where key != Self.taskKey && key != Self.subjectKey {
                selected.append((key, value))
            }
        }
        selected.sort { $0.0 < $1.0 }

        current.reset()
        var last: JSONString?
        for (key, value) in selected where key != last {  // identity keys may repeat
            last = key
            appendEntry(key, value)
        }
        let label: [UInt8]
        if case .string(let name) = taskValue { label = name.utf8 } else { label = PythonStr.str(taskValue) }
        var prefix = [UInt8]()
        prefix.reserveCapacity(basePrefix.utf8.count + label.count + ContentPrefix.digestLength + 2)
        prefix += basePrefix.utf8
        prefix.append(UInt8(ascii: "/"))
        prefix += label
        prefix.append(UInt8(ascii: "/"))
        appendDigest(to: &prefix)
        swap(&current, &previous)
        return prefix
    }

    private mutating func appendEntry(_ key: JSONString, _ value: JSONValue) {
        if !current.entries.isEmpty { current.text += Self.itemSeparator }
        let start = current.text.count
        PythonJSON.write(.string(key), into: &current.text, sortKeys: true)
        current.text += Self.keySeparator
        let shared = cachedText(of: value)
        if shared == nil { PythonJSON.write(value, into: &current.text, sortKeys: true) }
        current.entries.append(Entry(start: start, end: current.text.count, shared: shared))
    }

    /// Appends the 16 hex digits of the SHA-256 of `{entry, entry, ...}`, resuming
    /// where it can.
    private mutating func appendDigest(to out: inout [UInt8]) {
        var common = 0
        let limit = min(current.entries.count, previous.entries.count)
        while common < limit && current.sameEntry(common, as: previous) { common += 1 }
        while let point = resumePoints.last, point.entries > common { resumePoints.removeLast() }

        var state: SHA256
        var from: Int
        if let point = resumePoints.last {
            state = point.state
            from = point.entries
        } else if !current.entries.contains(where: { $0.shared != nil }) {
            // Nothing shared: the text is the whole canonical text but its closing brace.
            current.text.append(UInt8(ascii: "}"))
            state = SHA256()
            current.text.withUnsafeBytes { state.update(bufferPointer: $0) }
            Self.appendHex(of: state, to: &out)
            return
        } else {
            state = SHA256()
            update(&state, Self.openingBrace)
            from = 0
        }
        for i in from..<current.entries.count {
            let entry = current.entries[i]
            if i > 0 { update(&state, Self.itemSeparator) }
            current.text.withUnsafeBytes { state.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[entry.start..<entry.end])) }
            if let shared = entry.shared {
                update(&state, shared.bytes)
                resumePoints.append((i + 1, state))
            }
        }
        update(&state, Self.closingBrace)
        Self.appendHex(of: state, to: &out)
    }

    private static func appendHex(of state: SHA256, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: ContentPrefix.digestLength / 2) { digest in
            state.finalize(prefix: digest.count, into: digest.baseAddress!)
            for byte in digest {
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xf)])
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let openingBrace = [UInt8(ascii: "{")]
    private static let closingBrace = [UInt8(ascii: "}")]

    private func update(_ state: inout SHA256, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { state.update(bufferPointer: $0) }
    }

    /// The kept text of a container met before, nil for anything else (which is then
    /// written in place).
    private mutating func cachedText(of value: JSONValue) -> CachedText? {
        guard let id = Self.storageID(of: value) else { return nil }
        if let cached = cache[id] { return cached }
        guard !seen.insert(id).inserted else { return nil }
        var text = [UInt8]()
        PythonJSON.write(value, into: &text, sortKeys: true)
        let cached = CachedText(value: value, bytes: text)
        cache[id] = cached
        return cached
    }

    private static func storageID(of value: JSONValue) -> StorageID? {
        switch value {
        case .array(let items) where items.count >= minimumCachedCount:
            return items.withUnsafeBufferPointer { StorageID(first: UnsafeRawPointer($0.baseAddress), second: nil, count: $0.count) }
        case .object(let object) where object.count >= minimumCachedCount:
            let keys = object.keys.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
            return object.values.withUnsafeBufferPointer {
                StorageID(first: keys, second: UnsafeRawPointer($0.baseAddress), count: $0.count,
                          keysPresorted: object.keysPresorted)
            }
        default:
            return nil
        }
    }
}
