/// One node of a plan, muflow's `TaskNode`.
///
/// The fields the nodes of one step have in common (function, subject, depends_on,
/// output files, access map) stand in one shared box, so a node costs one reference to
/// them rather than one per field, and a fan-in over N nodes costs one depends_on array.
public struct TaskNode: Sendable {
    public var key: JSONString
    public var kwargs: JSONObject
    public var storagePrefix: JSONString
    public var dependedOnBy: [JSONString]
    /// The database id: nil, `.int` or `.bigInt` (pydantic's unbounded int).
    public var analysisID: JSONValue?
    private var shared: TaskNodeShared

    public var function: JSONString {
        get { shared.function }
        set { shared = TaskNodeShared(shared, function: newValue) }
    }
    public var subjectKey: JSONString {
        get { shared.subjectKey }
        set { shared = TaskNodeShared(shared, subjectKey: newValue) }
    }
    public var dependsOn: [JSONString] {
        get { shared.dependsOn }
        set { shared = TaskNodeShared(shared, dependsOn: newValue) }
    }
    public var outputFiles: [JSONString] {
        get { shared.outputFiles }
        set { shared = TaskNodeShared(shared, outputFiles: newValue) }
    }
    /// Access key (`"step"` or `"step:i"`) to the storage prefix of that dependency;
    /// every value is a string.
    public var dependencyAccessMap: JSONObject {
        get { shared.dependencyAccessMap }
        set { shared = TaskNodeShared(shared, dependencyAccessMap: newValue) }
    }

    /// The identity of the box holding the access map, which the nodes of a built step
    /// share: what depends on the map alone can be worked out once per box.
    var accessMapIdentity: ObjectIdentifier { ObjectIdentifier(shared) }

    /// Whether the access map is empty, without making a derived one.
    var accessMapIsEmpty: Bool { shared.accessMapIsEmpty }

    /// The plan-fixed part of this node's inputs, made by `make` the first time any node
    /// with this access map asks.
    func inputsLayout(making make: () -> InputsLayout) -> InputsLayout { shared.inputsLayout(making: make) }

    public init(key: JSONString, function: JSONString, subjectKey: JSONString, kwargs: JSONObject,
                storagePrefix: JSONString, dependsOn: [JSONString] = [], dependedOnBy: [JSONString] = [],
                outputFiles: [JSONString] = [], analysisID: JSONValue? = nil,
                dependencyAccessMap: JSONObject = JSONObject()) {
        self.init(key: key, kwargs: kwargs, storagePrefix: storagePrefix,
                  shared: TaskNodeShared(function: function, subjectKey: subjectKey, dependsOn: dependsOn,
                                         outputFiles: outputFiles, dependencyAccessMap: dependencyAccessMap),
                  dependedOnBy: dependedOnBy, analysisID: analysisID)
    }

    init(key: JSONString, kwargs: JSONObject, storagePrefix: JSONString, shared: TaskNodeShared,
         dependedOnBy: [JSONString] = [], analysisID: JSONValue? = nil) {
        self.key = key
        self.kwargs = kwargs
        self.storagePrefix = storagePrefix
        self.shared = shared
        self.dependedOnBy = dependedOnBy
        self.analysisID = analysisID
    }
}

/// The fields of a node that the nodes of a step share; immutable (a node given a new
/// value takes a new box).
final class TaskNodeShared: Sendable {
    let function: JSONString
    let subjectKey: JSONString
    let dependsOn: [JSONString]
    let outputFiles: [JSONString]
    private let accessMap: AccessMapSource
    /// Whether the access map is empty, known without making a derived one.
    let accessMapIsEmpty: Bool
    /// The plan-fixed part of the inputs of the nodes with this map, once a run made it.
    private let inputsLayout = Locked<InputsLayout?>(nil)

    func inputsLayout(making make: () -> InputsLayout) -> InputsLayout {
        if let made = inputsLayout.withLock({ $0 }) { return made }
        let layout = make()
        return inputsLayout.withLock { made in
            if made == nil { made = layout }
            return made!
        }
    }

    /// A built node's access map is worked out from its dependsOn when first read: a
    /// fan-in's one gather node would otherwise make N keys (`step:i`) during the build
    /// that only a run of that node or a writer of the plan ever reads.
    private enum AccessMapSource: Sendable {
        case given(JSONObject)
        /// The steps the node comes after, in order, each with its node count (which
        /// takes that many keys of dependsOn), and the map once made.
        case derived(after: [(name: JSONString, count: Int)], made: Locked<JSONObject?>)
    }

    init(function: JSONString, subjectKey: JSONString, dependsOn: [JSONString], outputFiles: [JSONString],
         dependencyAccessMap: JSONObject) {
        self.function = function
        self.subjectKey = subjectKey
        self.dependsOn = dependsOn
        self.outputFiles = outputFiles
        self.accessMap = .given(dependencyAccessMap)
        self.accessMapIsEmpty = dependencyAccessMap.isEmpty
    }

    /// Fields of a built node, whose access map is muflow's for nodes after these
    /// steps (each with its number of nodes) and `dependsOn` their keys, step after step.
    init(function: JSONString, subjectKey: JSONString, dependsOn: [JSONString], outputFiles: [JSONString],
         after: [(name: JSONString, count: Int)]) {
        self.function = function
        self.subjectKey = subjectKey
        self.dependsOn = dependsOn
        self.outputFiles = outputFiles
        self.accessMap = after.isEmpty ? .given(JSONObject()) : .derived(after: after, made: Locked(nil))
        self.accessMapIsEmpty = after.allSatisfy { $0.count == 0 }
    }

    /// `other` with the fields given replaced.
    convenience init(_ other: TaskNodeShared, function: JSONString? = nil, subjectKey: JSONString? = nil,
                     dependsOn: [JSONString]? = nil, outputFiles: [JSONString]? = nil,
                     dependencyAccessMap: JSONObject? = nil) {
        self.init(function: function ?? other.function, subjectKey: subjectKey ?? other.subjectKey,
                  dependsOn: dependsOn ?? other.dependsOn, outputFiles: outputFiles ?? other.outputFiles,
                  dependencyAccessMap: dependencyAccessMap ?? other.dependencyAccessMap)
    }


    var dependencyAccessMap: JSONObject {
        switch accessMap {
        case .given(let map):
            return map
        case .derived(let after, let made):
            return made.withLock { made in
                if let made { return made }
                let map = Self.accessMap(after: after, dependsOn: dependsOn)
                made = map
                return map
            }
        }
    }

    /// muflow's dependency_access_map: `step` for a step of one node, `step:i` for the
    /// i-th node of a larger one, a later entry for a key replacing an earlier one.
    private static func accessMap(after: [(name: JSONString, count: Int)], dependsOn: [JSONString]) -> JSONObject {
        var accessKeys: [JSONString] = []
        var prefixes: [JSONValue] = []
        accessKeys.reserveCapacity(dependsOn.count)
        prefixes.reserveCapacity(dependsOn.count)
        var next = 0
        for (name, count) in after {
            if count == 1 {
                accessKeys.append(name)
                prefixes.append(.string(dependsOn[next]))
                next += 1
                continue
            }
            let stem = name.utf8 + [UInt8(ascii: ":")]
            // Through a buffer: appending the array itself retained and released it
            // for every key.
            stem.withUnsafeBufferPointer { stem in
                for i in 0..<count {
                    var text = [UInt8]()
                    text.reserveCapacity(stem.count + 20)
                    text += stem
                    NumberText.appendDecimal(i, to: &text)
                    accessKeys.append(JSONString(wtf8: text))
                    prefixes.append(.string(dependsOn[next + i]))
                }
            }
            next += count
        }
        // Step names hold no ':', so keys only repeat when a step is listed twice.
        if Set(after.map(\.name)).count < after.count {
            return JSONObject(keys: accessKeys, values: prefixes)
        }
        return JSONObject(unindexedDistinctKeys: accessKeys, values: prefixes)
    }
}

/// A static execution DAG, muflow's `TaskPlan`: nodes in insertion order, found by key.
public struct TaskPlan: Sendable {
    public private(set) var nodes: [TaskNode]
    /// The key each node is filed under (the keys of the JSON `nodes` object). muflow
    /// builds plans where it equals the node's `key`; its from_json accepts plans where
    /// it differs, and so does this type. Lookups and `dependsOn` use these keys.
    public var entryKeys: [JSONString] { keyIndex.keys }
    public let rootKey: JSONString
    public let rootIndex: Int
    /// Edges resolved to node indices, for schedulers.
    public let dependencyGroups: GroupedDependencies
    private let keyIndex: KeyIndex
    /// Whether the builder made the root as the sentinel (see `sentinelIndex`).
    let rootIsBuiltSentinel: Bool
    /// The step each node came from, for a plan this library built (plan JSON does not
    /// record steps).
    let builtSteps: BuiltSteps?

    /// The one validation of a plan, whether built or read: fails when the root or a
    /// dependency names no node, or when the dependencies form a cycle (muflow's builder
    /// can make one from colliding keys; this library refuses it when building and when
    /// reading alike). `dependencyGroups`: the edges grouped already (by a builder that
    /// knows them as node indices), else grouped here from the nodes' dependsOn keys.
    /// `acyclicByConstruction`: the builder's word that every edge points to an earlier
    /// node (steps in topological order, no key produced twice), which skips the pass.
    init(keyIndex: KeyIndex, nodes: [TaskNode], rootKey: JSONString,
         dependencyGroups: GroupedDependencies? = nil, acyclicByConstruction: Bool = false,
         rootIsBuiltSentinel: Bool = false, builtSteps: BuiltSteps? = nil) throws {
        guard let rootIndex = keyIndex.position(of: rootKey) else {
            throw MuflowError(.invalidArgument, "root_key '\(rootKey)' is not a node of the plan")
        }
        self.keyIndex = keyIndex
        self.nodes = nodes
        self.rootKey = rootKey
        self.rootIndex = rootIndex
        self.rootIsBuiltSentinel = rootIsBuiltSentinel
        self.builtSteps = builtSteps
        self.dependencyGroups = try dependencyGroups ?? GroupedDependencies(nodes: nodes, keyIndex: keyIndex)
        if !acyclicByConstruction { try self.dependencyGroups.checkAcyclic() }
    }

    public var count: Int { nodes.count }

    public func index(ofKey key: JSONString) -> Int? { keyIndex.position(of: key) }

    public subscript(key: JSONString) -> TaskNode? { index(ofKey: key).map { nodes[$0] } }

    /// Sets the database id of a node (muflow sets it after creating the record).
    public mutating func setAnalysisID(_ id: JSONValue?, at index: Int) {
        nodes[index].analysisID = id
    }
}

/// Step names and the step (an index into them, -1 for the sentinel) of each node.
struct BuiltSteps: Sendable {
    let names: [JSONString]
    let stepOfNode: [Int32]
}
