import MuflowCore

/// A plan's nodes as Python pickles, each node a dict with TaskNode's fields in
/// declaration order, for a binding that builds its node objects with `pickle.loads`.
///
/// Plans hold large values once and let nodes share them (every node of the ML
/// pipeline holds the whole dataset list; a fan-in's nodes one dependency list). Such a
/// value, met in more than one node by its storage, is written as a persistent id
/// (BINPERSID of an int `pid`): `pid >> 1` numbers the value, which `shared(_:)` writes
/// once; `pid & 1` tells what the node holds: 1, its own shallow copy (the kwargs dict,
/// depends_on, depended_on_by, output_files, dependency_access_map: each node has its
/// own, as in muflow), 0, the value itself (a value inside kwargs, which muflow's
/// build_plan shares between nodes by merging `{**kwargs, **item}`).
///
/// Immutable once made: any number of threads may write pickles from one pickler. It
/// holds the plan's storage, so the numbers stay valid for the pickler's life.
public struct NodePickler: Sendable {
    private let plan: TaskPlan
    private let ids: [StorageKey: Int]
    private let shared: [Shared]

    /// A shared value: what `shared(_:)` writes.
    private enum Shared: Sendable {
        case value(JSONValue)
        case strings([JSONString])
        /// Some node's kwargs (its values are written as kwargs values), as first met.
        case kwargs(JSONObject)
        case accessMap(JSONObject)
    }

    typealias StorageKey = StorageIdentity

    public var sharedCount: Int { shared.count }
    public var nodeCount: Int { plan.count }

    /// Finds the values worth sharing: kwargs objects, their values, and the edge lists
    /// and access maps, looked at by storage (values nested deeper are not), that are
    /// large and held by more than one node or field. Costs one look-up per field and
    /// kwargs value, not the size of the values.
    public init(_ plan: TaskPlan) {
        self.plan = plan
        var seen: [StorageKey: (first: Shared, count: Int, order: Int)] = [:]
        func note(_ key: StorageKey?, _ value: @autoclosure () -> Shared) {
            guard let key else { return }
            if let entry = seen[key] {
                seen[key] = (entry.first, entry.count + 1, entry.order)
            } else {
                seen[key] = (value(), 1, seen.count)
            }
        }
        plan.nodes.withUnsafeBufferPointer { nodes in
            for i in nodes.indices {
                note(StorageIdentity.of(object: nodes[i].kwargs), .kwargs(nodes[i].kwargs))
                for value in nodes[i].kwargs.values { note(StorageIdentity.of(kwargsValue: value), .value(value)) }
                note(StorageIdentity.of(strings: nodes[i].dependsOn), .strings(nodes[i].dependsOn))
                note(StorageIdentity.of(strings: nodes[i].dependedOnBy), .strings(nodes[i].dependedOnBy))
                note(StorageIdentity.of(strings: nodes[i].outputFiles), .strings(nodes[i].outputFiles))
                note(StorageIdentity.of(object: nodes[i].dependencyAccessMap), .accessMap(nodes[i].dependencyAccessMap))
            }
        }
        let repeated = seen.filter { $0.value.count > 1 }.sorted { $0.value.order < $1.value.order }
        var ids: [StorageKey: Int] = [:]
        for (id, entry) in repeated.enumerated() { ids[entry.key] = id }
        self.ids = ids
        shared = repeated.map(\.value.first)
    }

    /// Nodes `start`, `start` + 1, ... as the pickle of a list of node dicts: at most
    /// `maxCount` nodes, and no further node once the pickle reaches `byteBudget` bytes
    /// (at least one node). `start` must be a node index and `maxCount` at least 1.
    public func nodes(from start: Int, maxCount: Int, byteBudget: Int) -> [UInt8] {
        precondition(plan.nodes.indices.contains(start) && maxCount > 0)
        var w = PickleWriter()
        w.begin()
        w.emptyList()
        w.mark()
        var labels = Labels()
        plan.nodes.withUnsafeBufferPointer { nodes in
            for index in start..<min(nodes.count, start + maxCount) {
                if index > start && w.bytes.count >= byteBudget { break }
                node(nodes[index], labels: &labels, into: &w)
            }
        }
        w.appends()
        w.stop()
        return w.bytes
    }

    /// Shared value `id` (0 ..< sharedCount) as a pickle; the shared values it holds
    /// are persistent ids as in node pickles.
    public func shared(_ id: Int) -> [UInt8] {
        precondition(shared.indices.contains(id))
        var w = PickleWriter()
        w.begin()
        switch shared[id] {
        case .value(let value): kwargsValueBody(value, into: &w)
        case .strings(let list): stringsBody(list, into: &w)
        case .kwargs(let object): objectBody(object, kwargs: true, into: &w)
        case .accessMap(let object): objectBody(object, kwargs: false, into: &w)
        }
        w.stop()
        return w.bytes
    }

    /// Strings a pickle's node dicts share: the unpickler makes one str for all.
    private struct Labels {
        /// The memo indices of the field names, in field order, once the first node
        /// has written them.
        var names: [Int] = []
        var function: (text: JSONString, memo: Int)?
        var subjectKey: (text: JSONString, memo: Int)?

        /// Recalls `text` if it equals the remembered string, else writes and remembers it.
        static func write(_ text: JSONString, _ last: inout (text: JSONString, memo: Int)?, into w: inout PickleWriter) {
            if let last, last.text == text { return w.memoized(last.memo) }
            w.string(text)
            last = (text, w.memoize())
        }
    }

    /// A node's dict: field names memoized by the first node of the pickle, the storage
    /// prefix recalled when it equals the key (as in every built plan), the task name
    /// and subject when they equal the previous node's.
    private func node(_ node: TaskNode, labels: inout Labels, into w: inout PickleWriter) {
        let namesWritten = !labels.names.isEmpty
        var field = 0
        func name(_ text: JSONString, _ w: inout PickleWriter) {
            if namesWritten {
                w.memoized(labels.names[field])
            } else {
                w.string(text)
                labels.names.append(w.memoize())
            }
            field += 1
        }
        w.emptyDict()
        w.mark()
        name(Self.keyField, &w)
        w.string(node.key)
        let keyMemo = w.memoize()
        name(Self.functionField, &w)
        Labels.write(node.function, &labels.function, into: &w)
        name(Self.subjectKeyField, &w)
        Labels.write(node.subjectKey, &labels.subjectKey, into: &w)
        name(Self.kwargsField, &w)
        object(node.kwargs, kwargs: true, into: &w)
        name(Self.storagePrefixField, &w)
        if node.storagePrefix == node.key {
            w.memoized(keyMemo)
        } else {
            w.string(node.storagePrefix)
        }
        name(Self.dependsOnField, &w)
        strings(node.dependsOn, into: &w)
        name(Self.dependedOnByField, &w)
        strings(node.dependedOnBy, into: &w)
        name(Self.outputFilesField, &w)
        strings(node.outputFiles, into: &w)
        name(Self.analysisIDField, &w)
        w.value(node.analysisID ?? .null)
        name(Self.accessMapField, &w)
        object(node.dependencyAccessMap, kwargs: false, into: &w)
        w.setItems()
    }

    /// Emits the persistent id of a shared value (true), or nothing (false).
    private func reference(_ key: StorageKey?, copy: Bool, into w: inout PickleWriter) -> Bool {
        guard let key, let id = ids[key] else { return false }
        w.persistentID(id << 1 | (copy ? 1 : 0))
        return true
    }

    private func strings(_ list: [JSONString], into w: inout PickleWriter) {
        if reference(StorageIdentity.of(strings: list), copy: true, into: &w) { return }
        stringsBody(list, into: &w)
    }

    private func stringsBody(_ list: [JSONString], into w: inout PickleWriter) {
        w.list(list.count) { w in for s in list { w.string(s) } }
    }

    /// A kwargs dict (its values may be shared) or an access map.
    private func object(_ object: JSONObject, kwargs: Bool, into w: inout PickleWriter) {
        if reference(StorageIdentity.of(object: object), copy: true, into: &w) { return }
        objectBody(object, kwargs: kwargs, into: &w)
    }

    private func objectBody(_ object: JSONObject, kwargs: Bool, into w: inout PickleWriter) {
        w.dict(object.count) { w in
            for (key, value) in object.pairs {
                w.string(key)
                if kwargs { kwargsValue(value, into: &w) } else { w.value(value) }
            }
        }
    }

    private func kwargsValue(_ value: JSONValue, into w: inout PickleWriter) {
        if reference(StorageIdentity.of(kwargsValue: value), copy: false, into: &w) { return }
        kwargsValueBody(value, into: &w)
    }

    private func kwargsValueBody(_ value: JSONValue, into w: inout PickleWriter) {
        w.value(value)
    }

    private static let keyField: JSONString = "key"
    private static let functionField: JSONString = "function"
    private static let subjectKeyField: JSONString = "subject_key"
    private static let kwargsField: JSONString = "kwargs"
    private static let storagePrefixField: JSONString = "storage_prefix"
    private static let dependsOnField: JSONString = "depends_on"
    private static let dependedOnByField: JSONString = "depended_on_by"
    private static let outputFilesField: JSONString = "output_files"
    private static let analysisIDField: JSONString = "analysis_id"
    private static let accessMapField: JSONString = "dependency_access_map"
}
