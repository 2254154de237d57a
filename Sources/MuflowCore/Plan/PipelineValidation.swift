extension Pipeline {
    /// Checks what muflow checks before building, in muflow's order, and returns the step
    /// indices in muflow's topological order: a depth-first search over the steps in
    /// declaration order that visits each step's `after` references in order.
    public func validatedOrder() throws -> [Int] {
        try validateStepNames()
        let order = try topologicalOrder()
        for step in steps { try PrefixValidation.validateTaskName(step.task, step: step.name) }
        return order
    }

    func validateStepNames() throws {
        for step in steps where step.name.utf8.contains(UInt8(ascii: ":")) {
            throw MuflowError(.invalidArgument,
                              "Step name '\(step.name)' must not contain ':' (reserved for access key indexing).")
        }
    }

    /// Iterative, so that a long chain of steps cannot exhaust the stack.
    func topologicalOrder() throws -> [Int] {
        enum Mark { case unvisited, inProgress, done }
        var marks = [Mark](repeating: .unvisited, count: steps.count)
        var order = [Int]()
        order.reserveCapacity(steps.count)
        var stack: [(step: Int, nextAfter: Int)] = []

        for root in steps.indices where marks[root] == .unvisited {
            marks[root] = .inProgress
            stack.append((root, 0))
            while let (current, position) = stack.last {
                let after = steps[current].after
                guard position < after.count else {
                    stack.removeLast()
                    marks[current] = .done
                    order.append(current)
                    continue
                }
                stack[stack.count - 1].nextAfter += 1
                let reference = after[position]
                guard let dependency = indexOfStep(reference) else {
                    throw MuflowError(.invalidArgument,
                                      "Step '\(steps[current].name)' references unknown step '\(reference)'.")
                }
                switch marks[dependency] {
                case .done:
                    continue
                case .inProgress:
                    let start = stack.firstIndex { $0.step == dependency }!
                    let names = stack[start...].map { steps[$0.step].name.description } + [reference.description]
                    throw MuflowError(.cycle, "Circular dependency among steps: \(names.joined(separator: " -> "))")
                case .unvisited:
                    marks[dependency] = .inProgress
                    stack.append((dependency, 0))
                }
            }
        }
        return order
    }
}
