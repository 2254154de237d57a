extension TaskPlan {
    /// Fails, before anything runs, when a node other than the sentinel root (see
    /// `sentinelIndex`) has a task that `isRegistered` does not know. One error lists
    /// every missing task with the steps (or nodes) that use it.
    public func checkTasks(isRegistered: (JSONString) -> Bool) throws {
        let sentinel = sentinelIndex
        var missing: [(task: JSONString, nodes: [Int])] = []
        var known: [JSONString: Bool] = [:]
        var position: [JSONString: Int] = [:]
        var lastRegistered: JSONString?
        for index in nodes.indices where index != sentinel {
            let task = nodes[index].function
            // The nodes of a step come together and share their function.
            if task == lastRegistered { continue }
            if let registered = known[task], registered {
                lastRegistered = task
                continue
            }
            if known[task] == nil {
                let registered = isRegistered(task)
                known[task] = registered
                if registered {
                    lastRegistered = task
                    continue
                }
                position[task] = missing.count
                missing.append((task, []))
            }
            missing[position[task]!].nodes.append(index)
        }
        guard !missing.isEmpty else { return }
        let listed = missing.map { "'\($0.task)' (\(usage(of: $0.nodes)))" }.joined(separator: ", ")
        let count = missing.count == 1 ? "1 task" : "\(missing.count) tasks"
        throw MuflowError(.missingTask, "\(count) that this plan uses \(missing.count == 1 ? "is" : "are") not registered: "
            + "\(listed). Nothing was run: import the module that registers \(missing.count == 1 ? "it" : "them") "
            + "(where its @register_task or mf_registry_add runs) before running the plan.")
    }

    /// "step 'train', 3 nodes", "the root node", or the steps of several nodes.
    private func usage(of indices: [Int]) -> String {
        var steps: [String] = []
        var unnamed = 0
        for index in indices {
            if let name = stepName(of: index) {
                if !steps.contains(name) { steps.append(name) }
            } else {
                unnamed += 1
            }
        }
        var parts = steps.map { "step '\($0)'" }
        if unnamed > 0 {
            parts.append(indices.count == 1 && indices[0] == rootIndex ? "the root node" : "\(unnamed) node(s) of no known step")
        }
        let nodeCount = indices.count == 1 ? "1 node" : "\(indices.count) nodes"
        return "\(parts.joined(separator: ", ")); \(nodeCount)"
    }

    /// The step a node came from: as built, or (for plan JSON) the access key under
    /// which a dependent reads it, less its `:i` suffix.
    func stepName(of index: Int) -> String? {
        if let built = builtSteps {
            let step = built.stepOfNode[index]
            return step < 0 ? nil : built.names[Int(step)].description
        }
        let node = nodes[index]
        guard let dependentKey = node.dependedOnBy.first, let dependent = self[dependentKey] else { return nil }
        let map = dependent.dependencyAccessMap
        for (key, value) in map.pairs {
            guard case .string(let prefix) = value, prefix == node.storagePrefix else { continue }
            let text = key.description
            return text.firstIndex(of: ":").map { String(text[..<$0]) } ?? text
        }
        return nil
    }
}
