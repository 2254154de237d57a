import CMuflowHeader
import MuflowCore

/// A tracker behind an mf_ready_tracker handle, with the buffer its ready list is
/// handed out in (one index per node at most).
final class ReadyTrackerHandle {
    var tracker: ReadyTracker
    let readyBuffer: UnsafeMutablePointer<Int>

    init(_ tracker: ReadyTracker) {
        self.tracker = tracker
        readyBuffer = .allocate(capacity: max(tracker.nodeCount, 1))
    }

    deinit { readyBuffer.deallocate() }

    func deliverReady(_ outReady: UnsafeMutablePointer<UnsafePointer<Int>?>, _ outCount: UnsafeMutablePointer<Int>) {
        let ready = tracker.ready
        _ = UnsafeMutableBufferPointer(start: readyBuffer, count: ready.count).initialize(from: ready)
        outReady.pointee = UnsafePointer(readyBuffer)
        outCount.pointee = ready.count
    }
}

/// NULL, or a JSON array of strings, as keys.
private func keysArgument(_ json: UnsafePointer<CChar>?, _ name: String) throws -> [JSONString] {
    guard let json else { return [] }
    guard case .array(let items)? = try optionalJSONArgument(json) else {
        throw invalidArgument("\(name) must be a JSON array of node keys")
    }
    return try items.map { item in
        guard case .string(let key) = item else { throw invalidArgument("\(name) must be a JSON array of node keys") }
        return key
    }
}

@c @implementation
public func mf_ready_tracker_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let plan = try requiredObject(plan, "plan", as: PlanHandle.self).plan
        out.pointee = retainedHandle(ReadyTrackerHandle(ReadyTracker(plan: plan)))
    }
}

@c @implementation
public func mf_ready_tracker_free(_ tracker: OpaquePointer?) {
    releaseHandle(tracker, as: ReadyTrackerHandle.self)
}

@c @implementation
public func mf_ready_tracker_add_nodes(_ outReady: UnsafeMutablePointer<UnsafePointer<Int>?>?,
                                       _ outCount: UnsafeMutablePointer<Int>?, _ tracker: OpaquePointer?,
                                       _ nodes: UnsafePointer<Int>?, _ count: Int) -> mf_status {
    abiCall {
        let outReady = try required(outReady, "out_ready")
        let outCount = try required(outCount, "out_count")
        let handle = try requiredObject(tracker, "tracker", as: ReadyTrackerHandle.self)
        if count > 0 {
            let indices = UnsafeBufferPointer(start: try required(nodes, "nodes"), count: count)
            let nodeCount = handle.tracker.nodeCount
            if let bad = indices.first(where: { $0 < 0 || $0 >= nodeCount }) {
                throw invalidArgument("node index \(UInt(bitPattern: bad)) is out of range (the plan has \(nodeCount) nodes)")
            }
            for index in indices { handle.tracker.addKey(ofNode: index) }
        }
        handle.deliverReady(outReady, outCount)
    }
}

@c @implementation
public func mf_ready_tracker_update(_ outReady: UnsafeMutablePointer<UnsafePointer<Int>?>?,
                                    _ outCount: UnsafeMutablePointer<Int>?, _ tracker: OpaquePointer?,
                                    _ addedJSON: UnsafePointer<CChar>?, _ removedJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let outReady = try required(outReady, "out_ready")
        let outCount = try required(outCount, "out_count")
        let handle = try requiredObject(tracker, "tracker", as: ReadyTrackerHandle.self)
        let added = try keysArgument(addedJSON, "added_json")
        let removed = try keysArgument(removedJSON, "removed_json")
        for key in removed { handle.tracker.remove(key) }
        for key in added { handle.tracker.add(key) }
        handle.deliverReady(outReady, outCount)
    }
}
