/// A declared DAG of steps, muflow's `Pipeline`: steps keep their declaration order,
/// which decides the order of the plan's nodes.
public struct Pipeline: Sendable {
    public var name: JSONString
    public var displayName: JSONString
    public private(set) var steps: [PipelineStep] = []
    private var stepIndex: [JSONString: Int] = [:]

    public init(name: JSONString, displayName: JSONString = "", steps: [PipelineStep] = []) throws {
        self.name = name
        self.displayName = displayName
        for step in steps { try addStep(step) }
    }

    /// Appends a step; step names are unique (they are the keys of muflow's steps dict).
    public mutating func addStep(_ step: PipelineStep) throws {
        guard stepIndex[step.name] == nil else {
            throw MuflowError(.alreadyExists, "Pipeline '\(name)' already has a step named '\(step.name)'.")
        }
        stepIndex[step.name] = steps.count
        steps.append(step)
    }

    public func step(named name: JSONString) -> PipelineStep? {
        stepIndex[name].map { steps[$0] }
    }

    func indexOfStep(_ name: JSONString) -> Int? { stepIndex[name] }
}

public struct PipelineStep: Sendable {
    public enum Kind: Sendable, Equatable {
        /// muflow's `Step`: one node (kwargs from `kwargs_map`, or none).
        case single
        /// muflow's `ForEach`: one node per item of `over`.
        case forEach
    }

    public var name: JSONString
    public var task: JSONString
    public var kind: Kind
    /// Names of the steps that must complete first, in declared order (repeats kept).
    public var after: [JSONString]

    public init(name: JSONString, task: JSONString, kind: Kind = .single, after: [JSONString] = []) {
        self.name = name
        self.task = task
        self.kind = kind
        self.after = after
    }
}
