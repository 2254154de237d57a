import CMuflowHeader
import Glibc
import MuflowCore

/// The Swift object behind `mf_run *`.
final class RunHandle: Sendable {
    let run: PlanRun
    /// The messages of nodes handed out as MF_EVENT_FAILED (mf_run_node_failure); only
    /// such events, which are rare, touch it.
    let preparationFailures = Locked<[Int: String]>([:])

    init(_ run: PlanRun) { self.run = run }

    /// An event as the ABI hands it out; a failure's message is kept for
    /// mf_run_node_failure (the call itself succeeded, so the thread's last error is
    /// left alone).
    func fields(of event: RunEvent) -> (mf_event_kind, Int) {
        switch event {
        case .run(let index, _): return (MF_EVENT_RUN, index)
        case .cached(let index): return (MF_EVENT_CACHED, index)
        case .builtIn(let index): return (MF_EVENT_BUILT_IN, index)
        case .failed(let index, let message):
            preparationFailures.withLock { $0[index] = message }
            return (MF_EVENT_FAILED, index)
        }
    }
}

private func runArgument(_ handle: OpaquePointer?) throws -> RunHandle {
    try requiredObject(handle, "run", as: RunHandle.self)
}

/// Whether a task is registered, as a descriptor (mf_registry_add) or as an attached C
/// function (mf_registry_set_function, which needs no descriptor).
func isRegistered(_ task: JSONString, in registry: TaskRegistry) -> Bool {
    registry.get(task) != nil || registry.body(for: task) != nil
}

/// The sentinel root completes as a built-in no-op unless a task of its name is
/// registered. With a registry, every other node's task must be registered.
func builtInNoOps(of plan: TaskPlan, registry: TaskRegistry?) throws -> Set<Int> {
    if let registry { try plan.checkTasks { isRegistered($0, in: registry) } }
    guard let sentinel = plan.sentinelIndex else { return [] }
    let isTask = registry.map { isRegistered(plan.nodes[sentinel].function, in: $0) } ?? false
    return isTask ? [] : [sentinel]
}

@c @implementation
public func mf_run_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ plan: OpaquePointer?, _ registry: OpaquePointer?,
                       _ policy: mf_failure_policy, _ flags: UInt32) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let plan = try requiredObject(plan, "plan", as: PlanHandle.self).plan
        let registry = registry.map { object($0, as: TaskRegistry.self) }
        var options = RunOptions()
        switch policy {
        case MF_FAILURE_STOP: options.failurePolicy = .stopOnFirstFailure
        case MF_FAILURE_CONTINUE_INDEPENDENT: options.failurePolicy = .continueIndependent
        default: throw invalidArgument("unknown mf_failure_policy \(policy.rawValue)")
        }
        options.durable = flags & UInt32(MF_RUN_DURABLE) != 0
        options.cacheVerification = flags & UInt32(MF_RUN_TRUST_MANIFEST_PRESENCE) != 0 ? .presence : .sizes
        options.reportSettledNodes = flags & UInt32(MF_RUN_REPORT_SETTLED) != 0
        let run = try PlanRun(plan: plan, builtInNoOps: try builtInNoOps(of: plan, registry: registry), options: options)
        out.pointee = retainedHandle(RunHandle(run))
    }
}

@c @implementation
public func mf_run_free(_ run: OpaquePointer?) {
    releaseHandle(run, as: RunHandle.self)
}

@c @implementation
public func mf_run_next(_ outKind: UnsafeMutablePointer<mf_event_kind>?, _ outIndex: UnsafeMutablePointer<Int>?,
                        _ run: OpaquePointer?) -> mf_status {
    abiCall {
        let outKind = try required(outKind, "out_kind")
        let outIndex = try required(outIndex, "out_index")
        let handle = try runArgument(run)
        (outKind.pointee, outIndex.pointee) = handle.run.next().map(handle.fields) ?? (MF_EVENT_DONE, 0)
    }
}

@c @implementation
public func mf_run_node_failure(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ run: OpaquePointer?,
                                _ index: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        if let message = try runArgument(run).preparationFailures.withLock({ $0[index] }) {
            deliver(Array(message.utf8), to: out)
        } else {
            out.pointee = nil
        }
    }
}

@c @implementation
public func mf_run_next_nodes(_ outKinds: UnsafeMutablePointer<mf_event_kind>?, _ outIndices: UnsafeMutablePointer<Int>?,
                              _ outCount: UnsafeMutablePointer<Int>?,
                              _ run: OpaquePointer?, _ capacity: Int, _ workers: Int) -> mf_status {
    abiCall {
        let handle = try runArgument(run)
        let outKinds = try required(outKinds, "out_kinds")
        let outIndices = try required(outIndices, "out_indices")
        let outCount = try required(outCount, "out_count")
        guard capacity > 0 else { throw invalidArgument("capacity must be at least 1") }
        guard workers > 0 else { throw invalidArgument("workers must be at least 1") }
        let events = handle.run.next(upTo: capacity, workers: workers)
        for (i, event) in events.enumerated() {
            (outKinds[i], outIndices[i]) = handle.fields(of: event)
        }
        outCount.pointee = events.count
    }
}

@c @implementation
public func mf_run_node_storage(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ run: OpaquePointer?, _ index: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let storage = try runArgument(run).run.storage(of: index)
        out.pointee = retainedHandle(StorageHandle(storage))
    }
}

@c @implementation
public func mf_run_finish_node(_ run: OpaquePointer?, _ index: Int, _ success: Int32,
                               _ errorMessage: UnsafePointer<CChar>?, _ errorTraceback: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let handle = try runArgument(run)
        let error = success != 0 ? nil : (errorMessage.map { String(cString: $0) } ?? "task failed",
                                          errorTraceback.map { String(cString: $0) } ?? "")
        try handle.run.finish(index, error: error)
    }
}

@c @implementation
public func mf_run_finish_nodes(_ run: OpaquePointer?, _ indices: UnsafePointer<Int>?, _ count: Int) -> mf_status {
    abiCall {
        let handle = try runArgument(run)
        try handle.run.finishSucceeded(try indexArgument(indices, count))
    }
}

@c @implementation
public func mf_run_return_nodes(_ run: OpaquePointer?, _ indices: UnsafePointer<Int>?, _ count: Int) -> mf_status {
    abiCall {
        let handle = try runArgument(run)
        try handle.run.putBack(try indexArgument(indices, count))
    }
}

private func indexArgument(_ indices: UnsafePointer<Int>?, _ count: Int) throws -> [Int] {
    guard count >= 0 else { throw invalidArgument("count must not be negative") }
    guard count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: try required(indices, "indices"), count: count))
}

@c @implementation
public func mf_run_cancel(_ run: OpaquePointer?) {
    guard let run else { return }
    object(run, as: RunHandle.self).run.cancel()
}

@c @implementation
public func mf_run_get_progress(_ out: UnsafeMutablePointer<mf_run_progress>?, _ run: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let layout = MemoryLayout<mf_run_progress>.size
        guard out.pointee.size >= layout else {
            throw invalidArgument("mf_run_progress.size is \(out.pointee.size), but this library's mf_run_progress is "
                                  + "\(layout) bytes: set size to sizeof(mf_run_progress) before the call")
        }
        let p = try runArgument(run).run.progress
        out.pointee = mf_run_progress(
            size: out.pointee.size, total: p.total, succeeded: p.succeeded, cached: p.cached, failed: p.failed, skipped: p.skipped,
            running: p.running, finished: p.finished ? 1 : 0, cancelled: p.cancelled ? 1 : 0, stale: p.stale)
    }
}

@c @implementation
public func mf_run_first_failure(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ run: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        if let message = try runArgument(run).run.firstFailureMessage {
            deliver(Array(message.utf8), to: out)
        } else {
            out.pointee = nil
        }
    }
}
