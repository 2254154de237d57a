import CMuflowHeader
import MuflowCore

/// The stale-input check for backends whose manifests the caller fetches (S3).

private func bytesArgument(_ data: UnsafeRawPointer?, _ length: Int, _ name: StaticString) throws -> [UInt8] {
    guard data != nil || length == 0 else { throw invalidArgument("\(name) must not be NULL") }
    return Array(UnsafeRawBufferPointer(start: data, count: length))
}

@c @implementation
public func mf_manifest_digests(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ manifest: UnsafeRawPointer?, _ length: Int) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        out.pointee = nil
        if let text = RemoteCacheCheck.digestsJSON(ofManifest: try bytesArgument(manifest, length, "manifest")) {
            deliver(text, to: out)
        }
    }
}

@c @implementation
public func mf_node_cache_state(_ outState: UnsafeMutablePointer<Int32>?, _ manifest: UnsafeRawPointer?,
                                _ length: Int, _ inputsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(outState, "out_state")
        let inputs = try optionalJSONArgument(try required(inputsJSON, "inputs_json"))!
        let bytes = manifest == nil ? nil : Array(UnsafeRawBufferPointer(start: manifest, count: length))
        out.pointee = try RemoteCacheCheck.nodeState(manifest: bytes, inputs: inputs).rawValue
    }
}

@c @implementation
public func mf_plan_cache_states(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ plan: OpaquePointer?, _ manifestsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let plan = try requiredObject(plan, "plan", as: PlanHandle.self).plan
        let manifests = try optionalJSONArgument(try required(manifestsJSON, "manifests_json"))!
        let states = try RemoteCacheCheck.planStates(plan, manifests: manifests)
        var text: [UInt8] = [UInt8(ascii: "[")]
        text.reserveCapacity(2 * states.count + 2)
        for (i, state) in states.enumerated() {
            if i > 0 { text.append(UInt8(ascii: ",")) }
            text.append(UInt8(ascii: "0") + UInt8(state.rawValue))
        }
        text.append(UInt8(ascii: "]"))
        deliver(text, to: out)
    }
}

@c @implementation
public func mf_storage_write_manifest_inputs(_ storage: OpaquePointer?, _ inputsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let storage = try requiredObject(storage, "storage", as: StorageHandle.self).storage
        try storage.writeManifest(inputs: try optionalJSONArgument(try required(inputsJSON, "inputs_json"))!)
    }
}
