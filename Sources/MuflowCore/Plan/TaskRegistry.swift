
/// What the plan builder (and later the executor) needs to know about a registered task.
public struct TaskDescriptor: Sendable {
    public var name: JSONString
    public var displayName: JSONString
    public var queue: JSONString
    /// The kwargs that define the task's identity for hashing; nil or empty hashes all.
    public var identityKeys: [JSONString]?
    /// The file names the task declares it writes, in declaration order.
    public var outputFiles: [JSONString]
    public var contextType: JSONString

    public init(name: JSONString, displayName: JSONString = "", queue: JSONString = "default",
                identityKeys: [JSONString]? = nil, outputFiles: [JSONString] = [],
                contextType: JSONString = "task") {
        self.name = name
        self.displayName = displayName
        self.queue = queue
        self.identityKeys = identityKeys
        self.outputFiles = outputFiles
        self.contextType = contextType
    }
}

/// Registered tasks by name, safe to use from several threads at once.
public final class TaskRegistry: Sendable {
    private struct Entries {
        var byName: [JSONString: TaskDescriptor] = [:]
        var order: [JSONString] = []
    }

    private let entries = Locked(Entries())
    private let bodies = Locked<[JSONString: TaskBody]>([:])

    public init() {}

    /// Registers `descriptor`; a name registered already is refused, as muflow refuses it.
    public func add(_ descriptor: TaskDescriptor) throws {
        try PrefixValidation.validateTaskName(descriptor.name)
        try entries.withLock { entries in
            guard entries.byName[descriptor.name] == nil else {
                throw MuflowError(.alreadyExists, "Task '\(descriptor.name)' is already registered.")
            }
            entries.byName[descriptor.name] = descriptor
            entries.order.append(descriptor.name)
        }
    }

    public func get(_ name: JSONString) -> TaskDescriptor? {
        entries.withLock { $0.byName[name] }
    }

    /// Unregisters `name` and drops the body attached to it; refused when it has neither.
    public func remove(_ name: JSONString) throws {
        let registered = entries.withLock { entries in
            guard entries.byName.removeValue(forKey: name) != nil else { return false }
            entries.order.removeAll { $0 == name }
            return true
        }
        let attached = bodies.withLock { $0.removeValue(forKey: name) } != nil
        guard registered || attached else {
            throw MuflowError(.notFound, "No task registered with name '\(name)'.")
        }
    }

    /// Names in registration order.
    public var names: [JSONString] { entries.withLock { $0.order } }

    public var count: Int { entries.withLock { $0.order.count } }

    /// Unregisters every task and drops every attached body.
    public func clear() {
        entries.withLock { $0 = Entries() }
        bodies.withLock { $0.removeAll() }
    }

    /// Attaches the code that runs a task natively (see `PlanRun.execute`); the task
    /// need not be registered with `add`. Replaces an earlier body.
    public func setBody(_ body: @escaping TaskBody, for name: JSONString) {
        bodies.withLock { $0[name] = body }
    }

    public func body(for name: JSONString) -> TaskBody? {
        bodies.withLock { $0[name] }
    }
}
