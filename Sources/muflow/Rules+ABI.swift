import CMuflowHeader
import MuflowCore

@c @implementation
public func mf_filename_protected(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        deliver(asciiJSON(.array(FileNames.protected.sorted().map { .string(JSONString($0)) })), to: out)
    }
}

@c @implementation
public func mf_filename_check_write(_ name: UnsafePointer<CChar>?, _ alreadyWritten: Int32,
                                    _ allowProtected: Int32) -> mf_status {
    abiCall {
        let name = try utf8Argument(name, "name").description
        try FileNames.validateWritable(name, alreadyWritten: alreadyWritten != 0, allowProtected: allowProtected != 0)
    }
}

@c @implementation
public func mf_prefix_selection(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        var rule = JSONObject()
        rule[JSONString("label_key")] = .string(ContentPrefix.taskKey)
        rule[JSONString("label_default")] = .string(ContentPrefix.unknownTaskName)
        deliver(asciiJSON(.object(rule)), to: out)
    }
}
