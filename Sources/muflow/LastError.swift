import CMuflowHeader
import Glibc
import MuflowCore

/// The message of each thread's latest failure, kept in thread-local storage so that
/// concurrent callers never read each other's message. Each thread owns one malloc'd
/// C string, replaced on the next failure and freed when the thread exits.
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    static var message: UnsafePointer<CChar>? {
        pthread_getspecific(key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
    }

    static func record(_ text: String) {
        let copy = strdup(text)
        free(pthread_getspecific(key))
        pthread_setspecific(key, copy)
    }
}

extension MuflowError.Kind {
    var status: mf_status {
        switch self {
        case .invalidArgument: MF_ERR_INVALID_ARGUMENT
        case .notFound: MF_ERR_NOT_FOUND
        case .alreadyExists: MF_ERR_ALREADY_EXISTS
        case .permission: MF_ERR_PERMISSION
        case .cycle: MF_ERR_CYCLE
        case .io: MF_ERR_IO
        case .taskFailed: MF_ERR_TASK_FAILED
        case .cancelled: MF_ERR_CANCELLED
        case .type: MF_ERR_TYPE
        case .limit: MF_ERR_LIMIT
        case .missingTask: MF_ERR_MISSING_TASK
        }
    }
}

/// Runs the body of an ABI function: a thrown MuflowError becomes its status code and
/// the thread's last error message; anything else thrown is reported as internal.
func abiCall(_ body: () throws -> Void) -> mf_status {
    do {
        try body()
        return MF_OK
    } catch let error as MuflowError {
        LastError.record(error.message)
        return error.kind.status
    } catch {
        LastError.record("internal error: \(error)")
        return MF_ERR_INTERNAL
    }
}

func invalidArgument(_ message: String) -> MuflowError { MuflowError(.invalidArgument, message) }

/// A required pointer argument, or an invalid-argument error naming the parameter.
func required<T>(_ pointer: T?, _ name: StaticString) throws -> T {
    guard let pointer else { throw invalidArgument("\(name) must not be NULL") }
    return pointer
}
