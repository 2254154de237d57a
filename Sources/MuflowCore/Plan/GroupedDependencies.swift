/// A plan's edges as node indices, grouped so that a fan-in stays linear in size.
///
/// Nodes with the same dependency list (all nodes of one step) form one group; a group
/// stores its distinct dependencies once. A scheduler keeps one counter per group: when
/// it reaches zero, every member of the group is ready. Counting through groups costs
/// O(nodes + distinct group dependencies) for a whole run, not O(edges).
public struct GroupedDependencies: Sendable {
    /// The group of each node.
    public let groupOfNode: [Int32]
    /// Each group's distinct dependencies, in first-mention order.
    public let groupDependencies: [[Int32]]
    /// Each group's nodes, in node order.
    public let groupMembers: [[Int32]]
    /// For each node, the groups that depend on it.
    public let dependentGroups: NodeGroupLists
    private let keys: [JSONString]

    /// Groups by the content of each node's dependsOn (a list shared by storage is
    /// recognised without reading it). Throws when a dependency names no node.
    init(nodes: [TaskNode], keyIndex: KeyIndex) throws {
        let entryKeys = keyIndex.keys
        var groupOfNode = [Int32]()
        groupOfNode.reserveCapacity(nodes.count)
        var groupDependencies: [[Int32]] = []
        var byStorage: [ArrayStorageID: Int32] = [:]
        var byContent: [[JSONString]: Int32] = [:]
        var lastSeenInGroup = [Int32](repeating: -1, count: nodes.count)

        for index in nodes.indices {
            let storage = ArrayStorageID(nodes[index].dependsOn)
            if let storage, let group = byStorage[storage] {
                groupOfNode.append(group)
                continue
            }
            let dependsOn = nodes[index].dependsOn
            var group = byContent[dependsOn]
            if group == nil {
                let newGroup = Int32(groupDependencies.count)
                var dependencies = [Int32]()
                for key in dependsOn {
                    guard let position = keyIndex.position(of: key) else {
                        throw MuflowError(.invalidArgument,
                                          "node '\(entryKeys[index])' depends on '\(key)', which is not a node of the plan")
                    }
                    if lastSeenInGroup[position] != newGroup {
                        lastSeenInGroup[position] = newGroup
                        dependencies.append(Int32(position))
                    }
                }
                groupDependencies.append(dependencies)
                byContent[dependsOn] = newGroup
                group = newGroup
            }
            if let storage { byStorage[storage] = group! }
            groupOfNode.append(group!)
        }
        self.init(groupOfNode: groupOfNode, groupDependencies: groupDependencies, keys: entryKeys)
    }

    /// Groups given directly: `groupDependencies[g]` the distinct nodes group g
    /// depends on, in first-mention order; `keys` name nodes in errors.
    init(groupOfNode: [Int32], groupDependencies: [[Int32]], keys: [JSONString]) {
        var groupMembers = [[Int32]](repeating: [], count: groupDependencies.count)
        for (node, group) in groupOfNode.enumerated() { groupMembers[Int(group)].append(Int32(node)) }
        // Each node's dependent groups as a list id, lists interned by (list, next group):
        // the nodes of a fan-out feeding one step share one array instead of one each.
        var listOfNode = [Int32](repeating: 0, count: groupOfNode.count)
        var lists: [[Int32]] = [[]]
        var extended: [Int64: Int32] = [:]
        var last: (key: Int64, list: Int32) = (-1, 0)
        for (group, dependencies) in groupDependencies.enumerated() {
            for dependency in dependencies.map(Int.init) {
                let key = Int64(listOfNode[dependency]) << 32 | Int64(group)
                if key != last.key {
                    if let known = extended[key] {
                        last = (key, known)
                    } else {
                        lists.append(lists[Int(listOfNode[dependency])] + [Int32(group)])
                        last = (key, Int32(lists.count - 1))
                        extended[key] = last.list
                    }
                }
                listOfNode[dependency] = last.list
            }
        }
        let dependentGroups = NodeGroupLists(listOfNode: listOfNode, lists: lists)
        self.groupOfNode = groupOfNode
        self.groupDependencies = groupDependencies
        self.groupMembers = groupMembers
        self.dependentGroups = dependentGroups
        self.keys = keys
    }

    public var nodeCount: Int { groupOfNode.count }

    /// The number of distinct dependencies of each node.
    public var inDegrees: [Int32] {
        groupOfNode.map { Int32(groupDependencies[Int($0)].count) }
    }

    /// Node indices level by level: level 0 holds the nodes without dependencies, and a
    /// node's level is one more than the highest level among its dependencies. Within a
    /// level, node order. Throws MuflowError(.cycle) naming one cycle.
    public func levels() throws -> [[Int]] {
        let nodeLevel = try levelOfEachNode()
        var levels = [[Int]](repeating: [], count: (nodeLevel.max() ?? -1) + 1)
        for (node, level) in nodeLevel.enumerated() { levels[level].append(node) }
        return levels
    }

    /// Throws MuflowError(.cycle) naming one cycle if the nodes are not a DAG.
    public func checkAcyclic() throws {
        _ = try levelOfEachNode()
    }

    private func levelOfEachNode() throws -> [Int] {
        var groupLevel = [Int](repeating: 0, count: groupDependencies.count)
        var remaining = groupDependencies.map(\.count)
        var nodeLevel = [Int](repeating: -1, count: nodeCount)
        var queue = [Int32]()
        queue.reserveCapacity(nodeCount)
        for (group, count) in remaining.enumerated() where count == 0 { queue += groupMembers[group] }
        var head = 0
        while head < queue.count {
            let node = Int(queue[head])
            head += 1
            let level = groupLevel[Int(groupOfNode[node])]
            nodeLevel[node] = level
            for group in dependentGroups[node].map(Int.init) {
                groupLevel[group] = max(groupLevel[group], level + 1)
                remaining[group] -= 1
                if remaining[group] == 0 { queue += groupMembers[group] }
            }
        }
        guard head == nodeCount else { throw cycleError(unfinished: nodeLevel.map { $0 < 0 }) }
        return nodeLevel
    }

    /// Names one cycle among `unfinished` nodes (those a topological pass could not
    /// reach): each of them has an unfinished dependency, so following those must loop.
    private func cycleError(unfinished: [Bool]) -> MuflowError {
        var node = unfinished.firstIndex(of: true)!
        var visitOrder: [Int: Int] = [:]
        var path: [Int] = []
        while visitOrder[node] == nil {
            visitOrder[node] = path.count
            path.append(node)
            let group = Int(groupOfNode[node])
            node = Int(groupDependencies[group].first { unfinished[Int($0)] }!)
        }
        let cycle = path[visitOrder[node]!...] + [node]
        return MuflowError(.cycle, "Circular dependency among plan nodes: \(cycle.map { keys[$0].description }.joined(separator: " -> "))")
    }
}

/// A list of group indices per node, nodes with equal lists sharing one (the N nodes
/// of a fan-out feeding one step hold one list id each, not one array each).
public struct NodeGroupLists: Sendable {
    private let listOfNode: [Int32]
    private let lists: [[Int32]]

    init(listOfNode: [Int32], lists: [[Int32]]) {
        self.listOfNode = listOfNode
        self.lists = lists
    }

    /// One list per node.
    init(_ lists: [[Int32]]) {
        self.init(listOfNode: Array(0..<Int32(lists.count)), lists: lists)
    }

    public var count: Int { listOfNode.count }

    public subscript(node: Int) -> [Int32] { lists[Int(listOfNode[node])] }
}

/// The identity of an array's storage, so arrays shared between nodes are recognised
/// without comparing their elements.
struct ArrayStorageID: Hashable {
    let address: UnsafeRawPointer
    let count: Int

    init?<Element>(_ array: [Element]) {
        guard let address = array.withUnsafeBufferPointer({ $0.baseAddress }) else { return nil }
        self.address = UnsafeRawPointer(address)
        self.count = array.count
    }
}
