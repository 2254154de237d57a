import CSHA256

/// Computes `ContentPrefix.compute` for the many hash dicts of one plan build, which
/// mostly share large values (a kwargs list repeated in every node of a fan-out).
///
/// Savings, none changing the result:
/// - The entries every node of a step shares (`{"task", "subject", **kwargs}`, selected
///   by the identity keys) are sorted and written once per step (`beginStep`); a node
///   only adds its job's entries, merged in key order.
/// - The canonical text of a container met a second time (same storage, so the same
///   value), or in every node of a step, is written once and kept, together with the
///   value so its storage cannot be freed and reused under the same address.
/// - After each such shared value the hash state is kept; the next dict resumes from
///   the last kept state within the run of leading entries it shares with the previous
///   dict (SHA256 is a copy-on-write value, so a copy forks the state).
/// - With no kept container in it, a node's text is the step's template with the job's
///   values filled in, hashed whole; jobs given as a table are hashed two at a time.
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

    /// One entry that every node of the current step starts from: `"key": value`, or
    /// only `"key": ` when the value is a cached container.
    private struct BaseEntry {
        let key: JSONString
        let text: [UInt8]
        let shared: CachedText?
    }

    /// Where one entry of a node's canonical text comes from, in key order: the step's
    /// base entries or the job's own keys (which replace base entries of the same key).
    private enum Source {
        case base(Int)
        case job(Int)
    }

    /// Containers smaller than this are cheap to write again.
    private static let minimumCachedCount = 4

    private var seen = Set<StorageID>()
    private var cache: [StorageID: CachedText] = [:]
    private var current = Layout()
    private var previous = Layout()
    /// States kept after the previous dict's shared entries: (entries hashed, state).
    private var resumePoints: [(entries: Int, state: SHA256)] = []

    // The current step: what `beginStep` works out once for all its nodes.
    private var base: [BaseEntry] = []
    /// The keys that are hashed, nil for all (no identity keys).
    private var hashedKeys: Set<JSONString>?
    /// `{base}/{label}/` when the label is the step's (no job has a "task" key).
    private var baseHead: [UInt8] = []
    private var basePrefix: JSONString = ""
    // The merge of the base entries with the keys of the last job seen (jobs of a step
    // mostly have the same keys), and each job key's `"key": ` text.
    private var sources: [Source] = []
    private var sourcesJobKeys: [JSONString]?
    private var jobKeyTexts: [[UInt8]] = []
    private var jobTaskIndex: Int?
    /// When no base entry is a cached container: the whole canonical text but the job
    /// values, which go at `flatSlots` (each after `template[..<end]`), and a buffer.
    private var flatTemplate: [UInt8]?
    private var flatSlots: [(end: Int, job: Int)] = []
    private var flat: [UInt8] = []
    /// The text of the second job of a pair hashed together.
    private var secondFlat: [UInt8] = []

    private static let taskKey: JSONString = "task"
    private static let subjectKey: JSONString = "subject"
    private static let itemSeparator: [UInt8] = Array(", ".utf8)
    private static let keySeparator: [UInt8] = Array(": ".utf8)

    /// The prefix of `{"task": task, "subject": subject, **kwargs}`.
    mutating func prefix(task: JSONString, subject: JSONString, kwargs: JSONObject,
                         identityKeys: [JSONString]?, basePrefix: JSONString) -> [UInt8] {
        beginStep(task: task, subject: subject, kwargs: kwargs, identityKeys: identityKeys, basePrefix: basePrefix)
        return prefix(jobKeys: [], jobValues: UnsafeBufferPointer(start: nil, count: 0))
    }

    /// Prepares for the nodes of one step, whose hash dicts are
    /// `{"task": task, "subject": subject, **kwargs, **job}` for each job: the entries
    /// they share are selected, sorted and written here, once.
    mutating func beginStep(task: JSONString, subject: JSONString, kwargs: JSONObject,
                            identityKeys: [JSONString]?, basePrefix: JSONString) {
        if let identityKeys, !identityKeys.isEmpty {
            hashedKeys = Set(identityKeys).union([Self.taskKey])
        } else {
            hashedKeys = nil
        }
        var pairs: [(JSONString, JSONValue)] = []
        if kwargs[Self.taskKey] == nil { pairs.append((Self.taskKey, .string(task))) }
        if kwargs[Self.subjectKey] == nil { pairs.append((Self.subjectKey, .string(subject))) }
        pairs += kwargs.pairs
        pairs.sort { $0.0 < $1.0 }
        base.removeAll(keepingCapacity: true)
        for (key, value) in pairs where hashedKeys?.contains(key) ?? true {
            var text = [UInt8]()
            PythonJSON.write(.string(key), into: &text, sortKeys: true)
            text += Self.keySeparator
            let shared = cachedText(of: value, sharedByStep: true)
            if shared == nil { PythonJSON.write(value, into: &text, sortKeys: true) }
            base.append(BaseEntry(key: key, text: text, shared: shared))
        }
        self.basePrefix = basePrefix
        baseHead = Self.head(basePrefix: basePrefix, task: kwargs[Self.taskKey] ?? .string(task))
        sourcesJobKeys = nil
    }

    /// The prefix of one node of the current step, whose job has these keys (distinct)
    /// and values.
    mutating func prefix(jobKeys: [JSONString], jobValues values: UnsafeBufferPointer<JSONValue>) -> [UInt8] {
        if sourcesJobKeys != jobKeys { mergeSources(jobKeys: jobKeys) }
        let state = flatDigest(values) ?? layoutDigest(values)
        let head = jobTaskIndex.map { Self.head(basePrefix: basePrefix, task: values[$0]) } ?? baseHead
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: ContentPrefix.digestLength / 2) { digest in
            state.finalize(prefix: digest.count, into: digest.baseAddress!)
            return Self.prefix(head: head, digest: digest.baseAddress!)
        }
    }

    /// The digest of a text with no shared entries, written from the flat template;
    /// nil when there is none or a job value is a container (which may be shared).
    private mutating func flatDigest(_ values: UnsafeBufferPointer<JSONValue>) -> SHA256? {
        guard let template = flatTemplate, Self.writeFlat(values, template, flatSlots, into: &flat) else { return nil }
        // `previous` and `resumePoints` stay as they are: they still describe each other.
        var state = SHA256()
        flat.withUnsafeBytes { state.update(bufferPointer: $0) }
        return state
    }

    /// Writes the canonical text from the flat template; false when a job value is a
    /// container (which may be shared, so it takes the layout path). Static, so that
    /// closures calling it need no copy of the hasher.
    private static func writeFlat(_ values: UnsafeBufferPointer<JSONValue>, _ template: [UInt8],
                                  _ flatSlots: [(end: Int, job: Int)], into text: inout [UInt8]) -> Bool {
        for slot in flatSlots {
            switch values[slot.job] {
            case .array, .object: return false
            default: continue
            }
        }
        text.removeAll(keepingCapacity: true)
        var from = 0
        template.withUnsafeBufferPointer { constant in
            for slot in flatSlots {
                text.append(contentsOf: UnsafeBufferPointer(rebasing: constant[from..<slot.end]))
                PythonJSON.write(values[slot.job], into: &text, sortKeys: true)
                from = slot.end
            }
            text.append(contentsOf: UnsafeBufferPointer(rebasing: constant[from...]))
        }
        return true
    }

    /// The prefixes of all the jobs of the current step, in order: those
    /// `prefix(jobKeys:jobValues:)` gives, one job after the other. Jobs given as a
    /// table with flat texts are hashed two at a time (SHA-256's rounds for one fill the
    /// gaps in the other's).
    mutating func prefixes(of jobs: StepJobs) -> [JSONString] {
        var prefixes = [JSONString]()
        prefixes.reserveCapacity(jobs.count)
        let tabled = jobs.withTable { keys, values in tablePrefixes(keys, values, count: jobs.count, into: &prefixes) }
        if tabled == nil {
            for index in 0..<jobs.count {
                prefixes.append(JSONString(wtf8: jobs.withJob(index) { prefix(jobKeys: $0, jobValues: $1) }))
            }
        }
        return prefixes
    }

    private mutating func tablePrefixes(_ keys: [JSONString], _ values: UnsafeBufferPointer<JSONValue>, count: Int,
                                        into prefixes: inout [JSONString]) {
        if sourcesJobKeys != keys { mergeSources(jobKeys: keys) }
        let width = keys.count
        func row(_ index: Int) -> UnsafeBufferPointer<JSONValue> {
            UnsafeBufferPointer(rebasing: values[(index * width)..<((index + 1) * width)])
        }
        // The buffers are moved out for the loop, so writing them needs no access to self.
        var first = flat, second = secondFlat
        flat = []
        secondFlat = []
        defer {
            flat = first
            secondFlat = second
        }
        let template = flatTemplate ?? []
        let slots = flatSlots, taskIndex = jobTaskIndex, base = basePrefix, head = baseHead
        let pairs = flatTemplate != nil
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { digests in
            var index = 0
            while index < count {
                let a = row(index)
                if pairs && index + 1 < count {
                    let b = row(index + 1)
                    if Self.writeFlat(a, template, slots, into: &first) && Self.writeFlat(b, template, slots, into: &second) {
                        first.withUnsafeBufferPointer { textA in
                            second.withUnsafeBufferPointer { textB in
                                muflow_sha256_pair(textA.baseAddress, textA.count, textB.baseAddress, textB.count,
                                                   digests.baseAddress, digests.baseAddress! + 32)
                            }
                        }
                        let headA = taskIndex.map { Self.head(basePrefix: base, task: a[$0]) } ?? head
                        let headB = taskIndex.map { Self.head(basePrefix: base, task: b[$0]) } ?? head
                        prefixes.append(JSONString(wtf8: Self.prefix(head: headA, digest: digests.baseAddress!)))
                        prefixes.append(JSONString(wtf8: Self.prefix(head: headB, digest: digests.baseAddress! + 32)))
                        index += 2
                        continue
                    }
                }
                prefixes.append(JSONString(wtf8: prefix(jobKeys: keys, jobValues: a)))
                index += 1
            }
        }
    }

    /// `{head}{hex of the digest's first bytes}`.
    private static func prefix(head: [UInt8], digest: UnsafePointer<UInt8>) -> [UInt8] {
        // Reserved, then appended: Array(unsafeUninitializedCapacity:) and
        // Array(repeating:count:) allocate through unspecialized generic code. The hex is
        // written into a buffer, then appended at once: appending byte by byte checked
        // the array's capacity and uniqueness 16 times. The head is appended through a
        // buffer: appending the array retained and released it.
        var prefix = [UInt8]()
        prefix.reserveCapacity(head.count + ContentPrefix.digestLength)
        head.withUnsafeBufferPointer { prefix += $0 }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: ContentPrefix.digestLength) { text in
            ContentPrefix.writeHex(ofDigest: digest, to: text.baseAddress!)
            prefix += text
        }
        return prefix
    }

    private mutating func layoutDigest(_ values: UnsafeBufferPointer<JSONValue>) -> SHA256 {
        current.reset()
        for source in sources {
            if !current.entries.isEmpty { current.text += Self.itemSeparator }
            let start = current.text.count
            switch source {
            case .base(let i):
                current.text += base[i].text
                current.entries.append(Entry(start: start, end: current.text.count, shared: base[i].shared))
            case .job(let k):
                current.text += jobKeyTexts[k]
                let shared = cachedText(of: values[k], sharedByStep: false)
                if shared == nil { PythonJSON.write(values[k], into: &current.text, sortKeys: true) }
                current.entries.append(Entry(start: start, end: current.text.count, shared: shared))
            }
        }
        let state = digest()
        swap(&current, &previous)
        return state
    }

    /// `{base}/{label}/`, the label being Python's `str(task)`.
    private static func head(basePrefix: JSONString, task: JSONValue) -> [UInt8] {
        let label: [UInt8]
        if case .string(let name) = task { label = name.utf8 } else { label = PythonStr.str(task) }
        var head = ContentPrefix.assemble(basePrefix: basePrefix, label: label, digest: [])
        head.reserveCapacity(head.count + ContentPrefix.digestLength)
        return head
    }

    /// Works out, for jobs with these keys, which entries their texts hold in which order.
    private mutating func mergeSources(jobKeys: [JSONString]) {
        sourcesJobKeys = jobKeys
        jobTaskIndex = jobKeys.firstIndex(of: Self.taskKey)
        jobKeyTexts = jobKeys.map { key in
            var text = [UInt8]()
            PythonJSON.write(.string(key), into: &text, sortKeys: true)
            return text + Self.keySeparator
        }
        let hashedJobKeys = jobKeys.indices
            .filter { hashedKeys?.contains(jobKeys[$0]) ?? true }
            .sorted { jobKeys[$0] < jobKeys[$1] }
        sources.removeAll(keepingCapacity: true)
        var j = 0
        for (i, entry) in base.enumerated() {
            while j < hashedJobKeys.count && jobKeys[hashedJobKeys[j]] < entry.key {
                sources.append(.job(hashedJobKeys[j]))
                j += 1
            }
            if j < hashedJobKeys.count && jobKeys[hashedJobKeys[j]] == entry.key { continue }  // replaced by the job's
            sources.append(.base(i))
        }
        sources += hashedJobKeys[j...].map { .job($0) }

        flatSlots.removeAll(keepingCapacity: true)
        var template = [UInt8(ascii: "{")]
        for (n, source) in sources.enumerated() {
            if n > 0 { template += Self.itemSeparator }
            switch source {
            case .base(let i):
                guard base[i].shared == nil else {
                    flatTemplate = nil
                    return
                }
                template += base[i].text
            case .job(let k):
                template += jobKeyTexts[k]
                flatSlots.append((template.count, k))
            }
        }
        template.append(UInt8(ascii: "}"))
        flatTemplate = template
    }

    /// The SHA-256 state after `{entry, entry, ...}`, resuming where it can.
    private mutating func digest() -> SHA256 {
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
            return state
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
        return state
    }

    private static let openingBrace = [UInt8(ascii: "{")]
    private static let closingBrace = [UInt8(ascii: "}")]

    private func update(_ state: inout SHA256, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { state.update(bufferPointer: $0) }
    }

    /// The kept text of a container met before (or, `sharedByStep`, in every node of a
    /// step), nil for anything else (which is then written in place).
    private mutating func cachedText(of value: JSONValue, sharedByStep: Bool) -> CachedText? {
        guard let id = Self.storageID(of: value) else { return nil }
        if let cached = cache[id] { return cached }
        guard sharedByStep || !seen.insert(id).inserted else { return nil }
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
