/// What happens to the rest of a run after a node fails.
public enum FailurePolicy: Sendable {
    /// muflow's behaviour: hand out no further nodes; nodes already running finish.
    case stopOnFirstFailure
    /// Keep running every node that does not depend on a failed one.
    case continueIndependent
}

/// How a node ended.
public enum NodeOutcome: Sendable, Equatable {
    case succeeded
    case cached
    case failed
}

/// Counts of a run at one instant.
public struct RunProgress: Sendable, Equatable {
    public var total = 0
    public var succeeded = 0
    public var cached = 0
    public var failed = 0
    /// Nodes that will not run: downstream of a failure, or left when the run stopped.
    public var skipped = 0
    public var running = 0
    /// Nodes found complete whose recorded inputs had changed, run again (also counted
    /// as succeeded or failed); set by PlanRun.
    public var stale = 0
    public var finished: Bool = false
    public var cancelled: Bool = false

    public var completed: Int { succeeded + cached }
}

/// Hands out a plan's nodes as their dependencies finish: each node becomes ready the
/// moment its last dependency succeeds (a counter per dependency group, so a whole run
/// costs O(nodes + grouped edges) plus a heap operation per node). Any number of
/// workers may call `next` and `finish` concurrently.
public final class DependencyScheduler: @unchecked Sendable {
    public let graph: DependencyGraph
    public let policy: FailurePolicy
    private let lock = ConditionLock()
    private var groupWaitingOn: [Int32]
    private var ready = ReadyQueue()
    private var progress = RunProgress()
    private var stopped = false
    private var blocked: [Bool]

    public init(graph: DependencyGraph, policy: FailurePolicy = .stopOnFirstFailure) {
        self.graph = graph
        self.policy = policy
        groupWaitingOn = graph.groupDependencyCounts
        blocked = [Bool](repeating: false, count: graph.nodeCount)
        progress.total = graph.nodeCount
        for node in 0..<graph.nodeCount where groupWaitingOn[Int(graph.groupOfNode[node])] == 0 {
            ready.push(Int32(node), depth: graph.depths[node])
        }
        if graph.nodeCount == 0 { progress.finished = true }
    }

    /// The next ready node, waiting for one if others are still running; nil once no
    /// node will ever be handed out again (the run is done, stopped or cancelled).
    public func next() -> Int? {
        lock.withLock {
            while true {
                if !stopped, let node = ready.pop() {
                    progress.running += 1
                    return Int(node)
                }
                if stopped || progress.running == 0 { return nil }
                lock.wait()
            }
        }
    }

    /// A ready node without waiting, or nil if none is ready right now.
    public func tryNext() -> Int? {
        lock.withLock {
            guard !stopped, let node = ready.pop() else { return nil }
            progress.running += 1
            return Int(node)
        }
    }

    /// Up to `limit` ready nodes of the depth of the first, in order, and no more than a
    /// `workers`th of those ready (rounded up): waits for the first as `next` does when
    /// `wait` is true, and returns none without waiting otherwise. Empty once no node
    /// will be handed out again. (Stopping at a depth keeps a single worker in muflow's
    /// wave order: a node made ready by this list's nodes comes before deeper nodes
    /// ready now.)
    public func next(upTo limit: Int, workers: Int = 1, wait: Bool) -> [Int] {
        lock.withLock {
            while true {
                if !stopped, let depth = ready.firstDepth {
                    let share = (ready.count + max(workers, 1) - 1) / max(workers, 1)
                    var nodes: [Int] = []
                    while nodes.count < min(limit, share), ready.firstDepth == depth, let node = ready.pop() {
                        nodes.append(Int(node))
                    }
                    progress.running += nodes.count
                    return nodes
                }
                if !wait || stopped || progress.running == 0 { return [] }
                lock.wait()
            }
        }
    }

    /// Reports how a node handed out by `next` ended.
    public func finish(_ node: Int, _ outcome: NodeOutcome) {
        lock.withLock {
            record(node, outcome)
            settle()
            lock.broadcast()
        }
    }

    /// Reports how several nodes handed out by `next` ended, in one step.
    public func finish(_ outcomes: [(node: Int, outcome: NodeOutcome)]) {
        guard !outcomes.isEmpty else { return }
        lock.withLock {
            for (node, outcome) in outcomes { record(node, outcome) }
            settle()
            lock.broadcast()
        }
    }

    /// Takes back nodes handed out by `next` that did not start: they are ready again,
    /// or, once the run has stopped, left out like every node not handed out.
    public func putBack(_ nodes: [Int]) {
        guard !nodes.isEmpty else { return }
        lock.withLock {
            progress.running -= nodes.count
            if !stopped {
                for node in nodes { ready.push(Int32(node), depth: graph.depths[node]) }
            }
            settle()
            lock.broadcast()
        }
    }

    private func record(_ node: Int, _ outcome: NodeOutcome) {
        progress.running -= 1
        switch outcome {
        case .succeeded, .cached:
            if outcome == .cached { progress.cached += 1 } else { progress.succeeded += 1 }
            for group in graph.dependentGroups[node] {
                let g = Int(group)
                groupWaitingOn[g] -= 1
                guard groupWaitingOn[g] == 0 else { continue }
                for member in graph.groupMembers[g] where !blocked[Int(member)] {
                    ready.push(member, depth: graph.depths[Int(member)])
                }
            }
        case .failed:
            progress.failed += 1
            switch policy {
            case .stopOnFirstFailure: stopped = true
            case .continueIndependent: block(downstreamOf: node)
            }
        }
    }

    /// Stops handing out nodes; running nodes finish and are reported as usual.
    public func cancel() {
        lock.withLock {
            if !progress.finished { progress.cancelled = true }
            stopped = true
            settle()
            lock.broadcast()
        }
    }

    public var snapshot: RunProgress { lock.withLock { progress } }

    /// Waits until every node has finished or the run stopped and drained.
    public func waitUntilFinished() -> RunProgress {
        lock.withLock {
            while !progress.finished { lock.wait() }
            return progress
        }
    }

    private func block(downstreamOf node: Int) {
        var groups = graph.dependentGroups[node]
        var seenGroups = Set<Int32>()
        while let group = groups.popLast() {
            guard seenGroups.insert(group).inserted else { continue }
            for member in graph.groupMembers[Int(group)] where !blocked[Int(member)] {
                blocked[Int(member)] = true
                progress.skipped += 1
                groups.append(contentsOf: graph.dependentGroups[Int(member)])
            }
        }
    }

    private func settle() {
        guard !progress.finished, progress.running == 0 else { return }
        if stopped || ready.isEmpty {
            let accounted = progress.completed + progress.failed + progress.skipped
            progress.skipped += progress.total - accounted
            progress.finished = true
            ready.removeAll()
        }
    }
}
