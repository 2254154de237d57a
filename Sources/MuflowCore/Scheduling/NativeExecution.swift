import Glibc

/// What a task implemented in Swift (or C, through the ABI) receives for one node.
public struct TaskCall: Sendable {
    public let index: Int
    public let node: TaskNode
    public let storage: LocalStorage
    /// Access key ("step" or "step:i") to the dependency's directory.
    public var dependencies: JSONObject { node.dependencyAccessMap }
}

/// A task's body: return normally for success, throw for failure.
public typealias TaskBody = @Sendable (TaskCall) throws -> Void

extension PlanRun {
    /// Runs every node on `threads` threads, calling `body(for: function)` for each
    /// node's task, and returns the final progress. A node whose task has no body fails.
    @discardableResult
    public func execute(threads: Int, body: @escaping @Sendable (JSONString) -> TaskBody?) -> RunProgress {
        let count = max(1, threads)
        let workers = (0..<count).map { _ in
            WorkerThread { [self] in
                while let event = next() {
                    guard case .run(let index, let storage) = event else { continue }
                    let node = plan.nodes[index]
                    guard let run = body(node.function) else {
                        finish(index, storage: storage, error: ("task '\(node.function)' has no implementation", ""))
                        continue
                    }
                    do {
                        try run(TaskCall(index: index, node: node, storage: storage))
                        finish(index, storage: storage, error: nil)
                    } catch {
                        finish(index, storage: storage, error: ("\(error)", ""))
                    }
                }
            }
        }
        workers.forEach { $0.join() }
        _ = scheduler.waitUntilFinished()
        return progress
    }
}

/// The number of CPUs this process may run on.
public func availableProcessors() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// A joinable POSIX thread running one closure (no Foundation in the engine).
final class WorkerThread: @unchecked Sendable {
    private var thread = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(created == 0, "pthread_create failed: \(created)")
    }

    func join() { pthread_join(thread, nil) }

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
