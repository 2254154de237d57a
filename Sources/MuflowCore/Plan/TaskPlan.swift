/// One node of a plan, muflow's `TaskNode`.
///
/// Nodes built from one step share their `dependsOn` array, their access map and their
/// `outputFiles` (copy-on-write storage), so a fan-in over N nodes costs one array.
public struct TaskNode: Sendable {
    public var key: JSONString
    public var function: JSONString
    public var subjectKey: JSONString
    public var kwargs: JSONObject
    public var storagePrefix: JSONString
    public var dependsOn: [JSONString]
    public var dependedOnBy: [JSONString]
    public var outputFiles: [JSONString]
    /// The database id: nil, `.int` or `.bigInt` (pydantic's unbounded int).
    public var analysisID: JSONValue?
    /// Access key (`"step"` or `"step:i"`) to the storage prefix of that dependency;
    /// every value is a string.
    public var dependencyAccessMap: JSONObject

    public init(key: JSONString, function: JSONString, subjectKey: JSONString, kwargs: JSONObject,
                storagePrefix: JSONString, dependsOn: [JSONString] = [], dependedOnBy: [JSONString] = [],
                outputFiles: [JSONString] = [], analysisID: JSONValue? = nil,
                dependencyAccessMap: JSONObject = JSONObject()) {
        self.key = key
        self.function = function
        self.subjectKey = subjectKey
        self.kwargs = kwargs
        self.storagePrefix = storagePrefix
        self.dependsOn = dependsOn
        self.dependedOnBy = dependedOnBy
        self.outputFiles = outputFiles
        self.analysisID = analysisID
        self.dependencyAccessMap = dependencyAccessMap
    }
}

/// A static execution DAG, muflow's `TaskPlan`: nodes in insertion order, found by key.
public struct TaskPlan: Sendable {
    public private(set) var nodes: [TaskNode]
    /// The key each node is filed under (the keys of the JSON `nodes` object). muflow
    /// builds plans where it equals the node's `key`; its from_json accepts plans where
    /// it differs, and so does this type. Lookups and `dependsOn` use these keys.
    public let entryKeys: [JSONString]
    public let rootKey: JSONString
    public let rootIndex: Int
    /// Edges resolved to node indices, for schedulers.
    public let dependencyGroups: GroupedDependencies
    private let positions: [JSONString: Int]

    /// Fails when the root or a dependency names no node; cycles are allowed here
    /// (muflow's builder can make one from colliding keys) and reported by `levels()`.
    /// `dependencyGroups`: the edges grouped already (by a builder that knows them as
    /// node indices), else grouped here from the nodes' dependsOn keys.
    init(entryKeys: [JSONString], nodes: [TaskNode], positions: [JSONString: Int], rootKey: JSONString,
         dependencyGroups: GroupedDependencies? = nil) throws {
        guard let rootIndex = positions[rootKey] else {
            throw MuflowError(.invalidArgument, "root_key '\(rootKey)' is not a node of the plan")
        }
        self.entryKeys = entryKeys
        self.nodes = nodes
        self.positions = positions
        self.rootKey = rootKey
        self.rootIndex = rootIndex
        self.dependencyGroups = try dependencyGroups
            ?? GroupedDependencies(nodes: nodes, entryKeys: entryKeys, positions: positions)
    }

    public var count: Int { nodes.count }

    public func index(ofKey key: JSONString) -> Int? { positions[key] }

    public subscript(key: JSONString) -> TaskNode? { index(ofKey: key).map { nodes[$0] } }

    /// Sets the database id of a node (muflow sets it after creating the record).
    public mutating func setAnalysisID(_ id: JSONValue?, at index: Int) {
        nodes[index].analysisID = id
    }
}
