import CMuflowHeader
import MuflowCore

// The failed-node message and error.json, formatted by the core only
// (NodeFailure); the Python backends ask for them here.

@c @implementation
public func mf_node_failure_message(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                    _ outLength: UnsafeMutablePointer<Int>?,
                                    _ function: UnsafePointer<CChar>?, _ functionLength: Int,
                                    _ message: UnsafePointer<CChar>?, _ messageLength: Int,
                                    _ details: UnsafePointer<CChar>?, _ detailsLength: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let function = try textArgument(function, functionLength, "function")
        let message = try textArgument(message, messageLength, "message")
        let details = try details.map { try textArgument($0, detailsLength, "details") }
        deliver(NodeFailure.message(function: function, message: message, details: details).utf8, to: out,
                length: outLength)
    }
}

@c @implementation
public func mf_node_error_record(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ outLength: UnsafeMutablePointer<Int>?,
                                 _ message: UnsafePointer<CChar>?, _ messageLength: Int,
                                 _ traceback: UnsafePointer<CChar>?, _ tracebackLength: Int,
                                 _ filesJSON: UnsafePointer<CChar>?, _ filesLength: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let message = try textArgument(message, messageLength, "message")
        let traceback = try textArgument(traceback, tracebackLength, "traceback")
        let files = try fileNames(filesJSON, filesLength)
        deliver(NodeFailure.errorRecord(message: message, traceback: traceback, files: files), to: out,
                length: outLength)
    }
}

/// `length` bytes at `pointer` (NUL bytes allowed) as WTF-8 text.
private func textArgument(_ pointer: UnsafePointer<CChar>?, _ length: Int, _ name: StaticString) throws -> JSONString {
    let p = try required(pointer, name)
    guard length >= 0 else { throw invalidArgument("\(name)_length must not be negative") }
    let bytes = Array(UnsafeRawBufferPointer(start: p, count: length))
    guard let text = JSONString(validatingWTF8: bytes) else { throw invalidArgument("\(name) is not valid UTF-8") }
    return text
}

/// A JSON array of file names.
private func fileNames(_ pointer: UnsafePointer<CChar>?, _ length: Int) throws -> [JSONString] {
    let p = try required(pointer, "files_json")
    guard length >= 0 else { throw invalidArgument("files_json_length must not be negative") }
    guard case .array(let items) = try parseJSON(UnsafeRawBufferPointer(start: p, count: length)) else {
        throw invalidArgument("files_json must be a JSON array of file names")
    }
    return try items.map { item in
        guard case .string(let name) = item else {
            throw invalidArgument("files_json must hold only strings (file names)")
        }
        return name
    }
}
