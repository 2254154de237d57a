import CMuflowHeader
import MuflowCore

@c @implementation
public func mf_status_name(_ status: mf_status) -> UnsafePointer<CChar>! {
    let name: StaticString = switch status {
    case MF_OK: "MF_OK"
    case MF_ERR_INVALID_ARGUMENT: "MF_ERR_INVALID_ARGUMENT"
    case MF_ERR_NOT_FOUND: "MF_ERR_NOT_FOUND"
    case MF_ERR_ALREADY_EXISTS: "MF_ERR_ALREADY_EXISTS"
    case MF_ERR_PERMISSION: "MF_ERR_PERMISSION"
    case MF_ERR_CYCLE: "MF_ERR_CYCLE"
    case MF_ERR_IO: "MF_ERR_IO"
    case MF_ERR_TASK_FAILED: "MF_ERR_TASK_FAILED"
    case MF_ERR_CANCELLED: "MF_ERR_CANCELLED"
    case MF_ERR_TYPE: "MF_ERR_TYPE"
    case MF_ERR_LIMIT: "MF_ERR_LIMIT"
    case MF_ERR_INTERNAL: "MF_ERR_INTERNAL"
    case MF_ERR_MISSING_TASK: "MF_ERR_MISSING_TASK"
    default: "MF_ERR_UNKNOWN"
    }
    return staticCString(name)
}

@c @implementation
public func mf_last_error_message() -> UnsafePointer<CChar>! {
    LastError.message ?? staticCString("")
}

func staticCString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
