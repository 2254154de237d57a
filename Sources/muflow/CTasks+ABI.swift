import CMuflowHeader
import Glibc
import MuflowCore

/// The Swift object behind `const mf_task_call *`, alive for one task call.
final class TaskCallHandle {
    let call: TaskCall
    let storage: StorageHandle
    let function: UnsafeMutablePointer<CChar>
    let kwargs: UnsafeMutablePointer<CChar>
    let dependencies: UnsafeMutablePointer<CChar>
    var failureMessage: String?

    init(_ call: TaskCall) throws {
        let kwargsText = try CompactJSON.text(.object(call.node.kwargs))
        let dependencyText = try CompactJSON.text(.object(call.dependencies))
        self.call = call
        storage = StorageHandle(call.storage)
        function = ownedCString(call.node.function.utf8)
        kwargs = ownedCString(kwargsText)
        dependencies = ownedCString(dependencyText)
    }

    deinit {
        free(function)
        free(kwargs)
        free(dependencies)
    }
}

/// A C task function and its user data, as a Swift task body. The body holds the
/// function, so the user data is destroyed once the registry has let go of the body and
/// no call of it is running: exactly once, whichever comes last.
final class CTaskFunction: @unchecked Sendable {
    let function: mf_task_fn
    let userData: UnsafeMutableRawPointer?
    let destroy: mf_destroy_fn?

    init(function: mf_task_fn, userData: UnsafeMutableRawPointer?, destroy: mf_destroy_fn?) {
        self.function = function
        self.userData = userData
        self.destroy = destroy
    }

    deinit { destroy?(userData) }

    func body() -> TaskBody {
        { call in
            let handle = try TaskCallHandle(call)
            let status = withExtendedLifetime((handle, self)) {
                self.function(self.userData, OpaquePointer(Unmanaged.passUnretained(handle).toOpaque()))
            }
            if status != MF_OK {
                throw MuflowError(.taskFailed, handle.failureMessage ?? "task returned \(String(cString: mf_status_name(status)))")
            }
        }
    }
}

private func callArgument(_ call: OpaquePointer?) -> TaskCallHandle? {
    call.map { object($0, as: TaskCallHandle.self) }
}

@c @implementation
public func mf_task_call_index(_ call: OpaquePointer?) -> Int {
    callArgument(call)?.call.index ?? 0
}

@c @implementation
public func mf_task_call_function(_ call: OpaquePointer?) -> UnsafePointer<CChar>! {
    callArgument(call).map { UnsafePointer($0.function) } ?? staticCString("")
}

@c @implementation
public func mf_task_call_kwargs_json(_ call: OpaquePointer?) -> UnsafePointer<CChar>! {
    callArgument(call).map { UnsafePointer($0.kwargs) } ?? staticCString("{}")
}

@c @implementation
public func mf_task_call_dependencies_json(_ call: OpaquePointer?) -> UnsafePointer<CChar>! {
    callArgument(call).map { UnsafePointer($0.dependencies) } ?? staticCString("{}")
}

@c @implementation
public func mf_task_call_storage(_ call: OpaquePointer?) -> OpaquePointer? {
    callArgument(call).map { OpaquePointer(Unmanaged.passUnretained($0.storage).toOpaque()) }
}

@c @implementation
public func mf_task_fail(_ call: OpaquePointer?, _ message: UnsafePointer<CChar>?) {
    callArgument(call)?.failureMessage = message.map { String(cString: $0) }
}

@c @implementation
public func mf_registry_set_function(_ registry: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                     _ function: mf_task_fn?, _ userData: UnsafeMutableRawPointer?,
                                     _ destroy: mf_destroy_fn?) -> mf_status {
    abiCall {
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        let name = try utf8Argument(name, "name")
        let function = try required(function, "function")
        registry.setBody(CTaskFunction(function: function, userData: userData, destroy: destroy).body(), for: name)
    }
}

@c @implementation
public func mf_run_execute(_ run: OpaquePointer?, _ registry: OpaquePointer?, _ threads: Int) -> mf_status {
    abiCall {
        let run = try requiredObject(run, "run", as: RunHandle.self).run
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        let progress = run.execute(threads: threads == 0 ? availableProcessors() : threads) { registry.body(for: $0) }
        if progress.failed > 0 {
            throw MuflowError(.taskFailed, run.firstFailureMessage ?? "a node failed")
        }
        if progress.cancelled { throw MuflowError(.cancelled, "the run was cancelled") }
    }
}
