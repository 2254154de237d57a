import CMuflowHeader
import Glibc
import MuflowCore
import MuflowPickle

/// Reads a structured value crossing the interface in one of the mf_format encodings.
/// `name` labels a size refusal; key paths in refusals start at `value` for every
/// argument, so that they read the same whatever function was called.
func readValue(_ format: mf_format, _ data: UnsafeRawPointer?, _ length: Int, name: String = "value") throws -> JSONValue {
    guard length >= 0 else { throw invalidArgument("length is negative") }
    guard data != nil || length == 0 else { throw invalidArgument("data must not be NULL") }
    try checkValueSize(length, name: name)
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    switch format {
    case MF_FORMAT_JSON: return try parseJSON(bytes, maxDepth: Int(MF_MAX_DEPTH))
    case MF_FORMAT_PICKLE: return try parsePickle(bytes, maxDepth: Int(MF_MAX_DEPTH))
    default: throw invalidArgument("unknown mf_format \(format.rawValue)")
    }
}

/// An optional NUL-terminated JSON argument as a JSON value, nil when NULL.
func optionalJSONArgument(_ pointer: UnsafePointer<CChar>?) throws -> JSONValue? {
    guard let pointer else { return nil }
    return try parseJSON(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)),
                         maxDepth: Int(MF_MAX_DEPTH))
}

@c @implementation
public func mf_json_canonical(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ outLength: UnsafeMutablePointer<Int>?,
                              _ format: mf_format, _ data: UnsafeRawPointer?, _ length: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        deliver(try withCanonicalText(format, data, length) { Array($0) }, to: out, length: outLength)
    }
}

func checkValueSize(_ length: Int, name: String) throws {
    guard length <= Int(MF_MAX_VALUE_BYTES) else {
        throw MuflowError(.limit, "\(name) is \(length) bytes encoded, over the limit of \(MF_MAX_VALUE_BYTES) bytes")
    }
}

/// Calls `body` with the canonical JSON text of a value: straight from a pickle when the
/// fast path applies, else through the full reader (which also reports every error).
func withCanonicalText<R>(_ format: mf_format, _ data: UnsafeRawPointer?, _ length: Int,
                          _ body: (UnsafeBufferPointer<UInt8>) -> R) throws -> R {
    if format == MF_FORMAT_PICKLE, let data, length <= Int(MF_MAX_VALUE_BYTES),
       let result = PickleCanonical.withText(UnsafeRawBufferPointer(start: data, count: length),
                                             maxDepth: Int(MF_MAX_DEPTH), body) {
        return result
    }
    return PythonJSON.dumps(try readValue(format, data, length)).withUnsafeBufferPointer(body)
}
