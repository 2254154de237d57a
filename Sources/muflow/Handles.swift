/// Swift objects behind opaque C handles: a handle holds one retain of its object,
/// taken by `retainedHandle` and dropped by `releaseHandle` (the `mf_x_free` functions).
func retainedHandle<T: AnyObject>(_ object: T) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

func object<T: AnyObject>(_ handle: OpaquePointer, as type: T.Type = T.self) -> T {
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

func releaseHandle<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) {
    guard let handle else { return }
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// A required handle argument, as its object.
func requiredObject<T: AnyObject>(_ handle: OpaquePointer?, _ name: StaticString, as type: T.Type = T.self) throws -> T {
    object(try required(handle, name), as: type)
}
