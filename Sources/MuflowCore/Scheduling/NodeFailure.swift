/// How a failed node is reported: the run's failure message and the node's error.json.
/// The only place either is formatted; Python reaches both through the C API.
public enum NodeFailure {
    /// "Node <function> failed: <message>", then a newline and `details` when given (the
    /// traceback a Python backend appends; muflow's LocalBackend raises this text).
    public static func message(function: JSONString, message: JSONString, details: JSONString? = nil) -> JSONString {
        var text = Array("Node ".utf8)
        text += function.utf8
        text += " failed: ".utf8
        text += message.utf8
        if let details {
            text.append(UInt8(ascii: "\n"))
            text += details.utf8
        }
        return JSONString(wtf8: text)
    }

    /// The bytes of error.json, as muflow 0.4.0 writes it: json.dumps(indent=2) of
    /// error_message, error_traceback and partial_manifest.files (the files written so
    /// far, sorted).
    public static func errorRecord(message: JSONString, traceback: JSONString, files: [JSONString]) -> [UInt8] {
        var partial = JSONObject()
        partial["files"] = .array(files.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { .string($0) })
        var record = JSONObject()
        record["error_message"] = .string(message)
        record["error_traceback"] = .string(traceback)
        record["partial_manifest"] = .object(partial)
        return IndentedJSON.dumps(.object(record))
    }
}

extension JSONString {
    /// `bytes` as a string if they are UTF-8, lone surrogates allowed (WTF-8, as Python's
    /// "surrogatepass" encodes any str); nil otherwise.
    public init?(validatingWTF8 bytes: [UInt8]) {
        let valid = bytes.withUnsafeBufferPointer { WTF8.isValid($0, allowSurrogates: true) }
        guard valid else { return nil }
        self.init(wtf8: bytes)
    }
}
