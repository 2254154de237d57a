/// A plan's edges in the form a scheduler counts them: nodes sharing one dependency
/// list (the nodes of one step) form a group, and a counter per group reaches zero
/// when the group's last dependency finishes. A fan-in of N nodes into M costs N + M,
/// not N * M, so the whole run stays linear in the size of the plan.
public struct DependencyGraph: Sendable {
    public let nodeCount: Int
    public let groupOfNode: [Int32]
    public let groupDependencyCounts: [Int32]
    public let groupMembers: [[Int32]]
    public let dependentGroups: NodeGroupLists
    /// Longest path from a node without dependencies, per node.
    public let depths: [Int32]

    /// From a plan's grouped edges. Throws MuflowError(.cycle) if they form a cycle.
    public init(_ groups: GroupedDependencies) throws {
        try self.init(groupOfNode: groups.groupOfNode, groupDependencies: groups.groupDependencies,
                      groupMembers: groups.groupMembers, dependentGroups: groups.dependentGroups)
    }

    /// One group per node: `dependencies[i]` lists the distinct nodes node i depends on.
    public init(dependencies: [[Int32]]) throws {
        let n = dependencies.count
        var dependents = [[Int32]](repeating: [], count: n)
        for (node, deps) in dependencies.enumerated() {
            for d in deps {
                guard d >= 0 && Int(d) < n else { throw MuflowError(.invalidArgument, "dependency index \(d) out of range") }
                dependents[Int(d)].append(Int32(node))
            }
        }
        try self.init(groupOfNode: (0..<n).map(Int32.init), groupDependencies: dependencies,
                      groupMembers: (0..<n).map { [Int32($0)] }, dependentGroups: NodeGroupLists(dependents))
    }

    init(groupOfNode: [Int32], groupDependencies: [[Int32]], groupMembers: [[Int32]],
         dependentGroups: NodeGroupLists) throws {
        nodeCount = groupOfNode.count
        self.groupOfNode = groupOfNode
        self.groupDependencyCounts = groupDependencies.map { Int32($0.count) }
        self.groupMembers = groupMembers
        self.dependentGroups = dependentGroups
        depths = try Self.depths(groupDependencyCounts, groupMembers, dependentGroups, nodeCount: groupOfNode.count)
    }

    /// Kahn's algorithm over groups; a group left unreached lies on a cycle.
    private static func depths(_ counts: [Int32], _ members: [[Int32]], _ dependents: NodeGroupLists,
                               nodeCount: Int) throws -> [Int32] {
        var remaining = counts
        var groupDepth = [Int32](repeating: 0, count: counts.count)
        var nodeDepth = [Int32](repeating: 0, count: nodeCount)
        var queue = counts.indices.filter { counts[$0] == 0 }
        var head = 0
        var reached = 0
        while head < queue.count {
            let group = queue[head]
            head += 1
            for member in members[group] {
                reached += 1
                nodeDepth[Int(member)] = groupDepth[group]
                for next in dependents[Int(member)] {
                    let g = Int(next)
                    groupDepth[g] = max(groupDepth[g], groupDepth[group] + 1)
                    remaining[g] -= 1
                    if remaining[g] == 0 { queue.append(g) }
                }
            }
        }
        guard reached == nodeCount else {
            throw MuflowError(.cycle, "the plan's dependencies form a cycle (\(nodeCount - reached) nodes never become ready)")
        }
        return nodeDepth
    }
}
