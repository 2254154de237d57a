/// `TaskPlan.readyNodes(completed:)` kept up to date as keys join and leave the
/// completed set, for a caller that asks again after each change (muflow's loop:
/// `ready_nodes`, run them, add their keys, ask again).
///
/// Each group of nodes sharing a dependency list counts its dependencies not yet
/// completed; `ready` holds the members of the groups at zero whose own key is not
/// completed. A change costs work in proportion to the nodes and groups it touches,
/// not to the plan. At every point `ready` equals `plan.readyNodes(completed:)` for the
/// set the changes have made (ReadyTrackerTests checks it on random sequences).
public struct ReadyTracker {
    private let groups: GroupedDependencies
    private let plan: TaskPlan
    /// Nodes by their own `key`, when some differ from the keys they are filed under
    /// (hand-made plan JSON); nil when every node's key is its filing key.
    private let nodesByOwnKey: [JSONString: [Int]]?
    /// Whether each node's filing key is in the completed set.
    private var completedEntries: [Bool]
    /// Own keys in the completed set that are no node's filing key.
    private var completedOthers: Set<JSONString> = []
    private var remaining: [Int32]
    private var done: [Bool]
    private var readySet: Set<Int>

    public init(plan: TaskPlan) {
        self.plan = plan
        groups = plan.dependencyGroups
        if zip(plan.nodes, plan.entryKeys).allSatisfy({ $0.key == $1 }) {
            nodesByOwnKey = nil
        } else {
            nodesByOwnKey = Dictionary(grouping: plan.nodes.indices, by: { plan.nodes[$0].key })
        }
        remaining = groups.groupDependencies.map { Int32($0.count) }
        done = [Bool](repeating: false, count: plan.count)
        completedEntries = done
        readySet = []
        for (group, count) in remaining.enumerated() where count == 0 {
            readySet.formUnion(groups.groupMembers[group].lazy.map(Int.init))
        }
    }

    /// The ready nodes' indices, in node order.
    public var ready: [Int] { readySet.sorted() }

    /// The number of nodes.
    public var nodeCount: Int { done.count }

    /// Nodes whose own key is `key` (`entry`: the node filed under `key`, if any).
    private func nodes(keyed key: JSONString, entry: Int?) -> [Int] {
        if let nodesByOwnKey { return nodesByOwnKey[key] ?? [] }
        return entry.map { [$0] } ?? []
    }

    /// `key` joined the completed set. A key already in it, or naming no node, changes nothing.
    public mutating func add(_ key: JSONString) {
        if let entry = plan.index(ofKey: key) {
            add(entry: entry)
        } else if let keyed = nodesByOwnKey?[key], completedOthers.insert(key).inserted {
            markDone(keyed)
        }
    }

    /// The own key of node `index` joined the completed set (`add` of that key).
    public mutating func addKey(ofNode index: Int) {
        if nodesByOwnKey == nil {
            add(entry: index)  // its own key is its filing key
        } else {
            add(plan.nodes[index].key)
        }
    }

    /// The filing key of node `entry` joined the completed set.
    private mutating func add(entry: Int) {
        guard !completedEntries[entry] else { return }
        completedEntries[entry] = true
        if let nodesByOwnKey {
            markDone(nodesByOwnKey[plan.entryKeys[entry]] ?? [])
        } else {
            markDone(CollectionOfOne(entry))
        }
        for group in groups.dependentGroups[entry] {
            let group = Int(group)
            remaining[group] -= 1
            if remaining[group] == 0 {
                for member in groups.groupMembers[group] where !done[Int(member)] { readySet.insert(Int(member)) }
            }
        }
    }

    private mutating func markDone<Nodes: Collection<Int>>(_ nodes: Nodes) {
        for node in nodes {
            done[node] = true
            readySet.remove(node)
        }
    }

    /// `key` left the completed set. A key not in it changes nothing.
    public mutating func remove(_ key: JSONString) {
        let entry = plan.index(ofKey: key)
        if let entry {
            guard completedEntries[entry] else { return }
            completedEntries[entry] = false
        } else {
            guard completedOthers.remove(key) != nil else { return }
        }
        for node in nodes(keyed: key, entry: entry) {
            done[node] = false
            if remaining[Int(groups.groupOfNode[node])] == 0 { readySet.insert(node) }
        }
        guard let entry else { return }
        for group in groups.dependentGroups[entry].map(Int.init) {
            if remaining[group] == 0 {
                for member in groups.groupMembers[group] { readySet.remove(Int(member)) }
            }
            remaining[group] += 1
        }
    }
}
