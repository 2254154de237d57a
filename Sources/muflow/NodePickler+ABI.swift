import CMuflowHeader
import MuflowCore
import MuflowPickle

/// The Swift object behind `mf_node_pickler *`.
final class NodePicklerHandle {
    let pickler: NodePickler
    init(_ pickler: NodePickler) { self.pickler = pickler }
}

private func picklerArgument(_ handle: OpaquePointer?) throws -> NodePickler {
    try requiredObject(handle, "pickler", as: NodePicklerHandle.self).pickler
}

@c @implementation
public func mf_node_pickler_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ plan: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let plan = try requiredObject(plan, "plan", as: PlanHandle.self).plan
        out.pointee = retainedHandle(NodePicklerHandle(NodePickler(plan)))
    }
}

@c @implementation
public func mf_node_pickler_free(_ pickler: OpaquePointer?) {
    releaseHandle(pickler, as: NodePicklerHandle.self)
}

@c @implementation
public func mf_node_pickler_shared_count(_ pickler: OpaquePointer?) -> Int {
    guard let pickler else { return 0 }
    return object(pickler, as: NodePicklerHandle.self).pickler.sharedCount
}

@c @implementation
public func mf_node_pickler_nodes(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                  _ outLength: UnsafeMutablePointer<Int>?, _ pickler: OpaquePointer?, _ start: Int,
                                  _ maxCount: Int, _ byteBudget: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let outLength = try required(outLength, "out_len")
        let pickler = try picklerArgument(pickler)
        guard start >= 0 && start < pickler.nodeCount else {
            throw MuflowError(.notFound, "node index \(start) is out of range (the plan has \(pickler.nodeCount) nodes)")
        }
        guard maxCount > 0 else { throw invalidArgument("max_count must be at least 1") }
        deliver(pickler.nodes(from: start, maxCount: maxCount, byteBudget: byteBudget), to: out, length: outLength)
    }
}

@c @implementation
public func mf_node_pickler_shared(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                   _ outLength: UnsafeMutablePointer<Int>?, _ pickler: OpaquePointer?,
                                   _ id: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let outLength = try required(outLength, "out_len")
        let pickler = try picklerArgument(pickler)
        guard id >= 0 && id < pickler.sharedCount else {
            throw MuflowError(.notFound, "shared value \(id) is out of range (the pickler has \(pickler.sharedCount))")
        }
        deliver(pickler.shared(id), to: out, length: outLength)
    }
}
