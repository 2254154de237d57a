import CMuflowHeader
import MuflowCore

/// The Swift object behind `mf_ledger *`.
final class LedgerHandle {
    let ledger: FileLedger

    init(_ ledger: FileLedger) { self.ledger = ledger }
}

private func ledgerArgument(_ handle: OpaquePointer?) throws -> FileLedger {
    try requiredObject(handle, "ledger", as: LedgerHandle.self).ledger
}

@c @implementation
public func mf_ledger_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ flags: UInt32,
                          _ allowedOutputsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let allowed = try allowedOutputsArgument(flags, allowedOutputsJSON)
        out.pointee = retainedHandle(LedgerHandle(FileLedger(allowedOutputs: allowed)))
    }
}

@c @implementation
public func mf_ledger_free(_ ledger: OpaquePointer?) {
    releaseHandle(ledger, as: LedgerHandle.self)
}

@c @implementation
public func mf_ledger_claim(_ ledger: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ allowProtected: Int32) -> mf_status {
    abiCall {
        let ledger = try ledgerArgument(ledger)
        try ledger.claim(try utf8Argument(name, "name").description, allowProtected: allowProtected != 0)
    }
}

@c @implementation
public func mf_ledger_commit(_ ledger: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ data: UnsafeRawPointer?,
                             _ length: Int) -> mf_status {
    abiCall {
        let ledger = try ledgerArgument(ledger)
        let name = try utf8Argument(name, "name").description
        guard data != nil || length == 0 else { throw invalidArgument("data must not be NULL") }
        try ledger.commit(name, UnsafeRawBufferPointer(start: data, count: length))
    }
}

@c @implementation
public func mf_ledger_release(_ ledger: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let ledger = try ledgerArgument(ledger)
        ledger.release(try utf8Argument(name, "name").description)
    }
}

@c @implementation
public func mf_ledger_written_files(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                    _ ledger: OpaquePointer?) -> mf_status {
    abiCall {
        let outJSON = try required(outJSON, "out_json")
        let names = try ledgerArgument(ledger).writtenFiles
        deliver(PythonJSON.dumps(.array(names.map { .string(JSONString($0)) })), to: outJSON)
    }
}

@c @implementation
public func mf_ledger_manifest(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                               _ outLength: UnsafeMutablePointer<Int>?, _ ledger: OpaquePointer?,
                               _ inputsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let ledger = try ledgerArgument(ledger)
        guard let inputsJSON else {
            deliver(ledger.manifest(), to: out, length: outLength)
            return
        }
        deliver(try ledger.manifest(inputs: try optionalJSONArgument(inputsJSON)!), to: out, length: outLength)
    }
}
