extension TaskPlan {
    /// Indices of the nodes with no dependencies, in node order (muflow's leaf_nodes).
    public var leafNodes: [Int] {
        nodes.indices.filter { nodes[$0].dependsOn.isEmpty }
    }

    /// muflow's ready_nodes: the nodes whose `key` is not in `completed` and whose
    /// `dependsOn` keys all are, in node order. Each group of nodes sharing a dependency
    /// list is checked once, so a call costs O(nodes + distinct dependencies).
    public func readyNodes(completed: Set<JSONString>) -> [Int] {
        var groupReady = [Bool?](repeating: nil, count: dependencyGroups.groupDependencies.count)
        var ready = [Int]()
        for (index, node) in nodes.enumerated() where !completed.contains(node.key) {
            let group = Int(dependencyGroups.groupOfNode[index])
            if groupReady[group] == nil {
                groupReady[group] = node.dependsOn.allSatisfy { completed.contains($0) }
            }
            if groupReady[group]! { ready.append(index) }
        }
        return ready
    }

    /// muflow's is_complete: the root is among the completed keys.
    public func isComplete(completed: Set<JSONString>) -> Bool {
        completed.contains(rootKey)
    }

    /// Node indices by topological level (see GroupedDependencies.levels).
    public func levels() throws -> [[Int]] {
        try dependencyGroups.levels()
    }
}
