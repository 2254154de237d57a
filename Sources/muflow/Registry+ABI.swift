import CMuflowHeader
import MuflowCore

@c @implementation
public func mf_registry_new(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> mf_status {
    abiCall {
        try required(out, "out").pointee = retainedHandle(TaskRegistry())
    }
}

@c @implementation
public func mf_registry_free(_ registry: OpaquePointer?) {
    releaseHandle(registry, as: TaskRegistry.self)
}

@c @implementation
public func mf_registry_add(_ registry: OpaquePointer?, _ descriptorJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        let value = try optionalJSONArgument(try required(descriptorJSON, "descriptor_json"))!
        try registry.add(try TaskDescriptorJSON.descriptor(from: value))
    }
}

@c @implementation
public func mf_registry_remove(_ registry: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        try registry.remove(try utf8Argument(name, "name"))
    }
}

@c @implementation
public func mf_registry_get(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ registry: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        let name = try utf8Argument(name, "name")
        guard let descriptor = registry.get(name) else {
            throw MuflowError(.notFound, "No task registered with name '\(name)'.")
        }
        deliver(asciiJSON(.object(TaskDescriptorJSON.object(of: descriptor))), to: out)
    }
}

@c @implementation
public func mf_registry_names(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ registry: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let registry = try requiredObject(registry, "registry", as: TaskRegistry.self)
        deliver(asciiJSON(.array(registry.names.map(JSONValue.string))), to: out)
    }
}

@c @implementation
public func mf_registry_clear(_ registry: OpaquePointer?) -> mf_status {
    abiCall {
        try requiredObject(registry, "registry", as: TaskRegistry.self).clear()
    }
}

/// The JSON form of a task descriptor that mf_registry_add reads and mf_registry_get
/// writes.
enum TaskDescriptorJSON {
    private static let fields: Set<JSONString> = [
        "name", "display_name", "queue", "identity_keys", "output_files", "context_type",
    ]

    static func descriptor(from value: JSONValue) throws -> TaskDescriptor {
        guard case .object(let object) = value else {
            throw invalidArgument("descriptor_json must be a JSON object")
        }
        for key in object.keys where !fields.contains(key) {
            throw invalidArgument("descriptor_json has an unknown field '\(key)'")
        }
        func string(_ key: JSONString, default fallback: JSONString?) throws -> JSONString {
            switch object[key] {
            case .string(let text)?: return text
            case nil where fallback != nil: return fallback!
            case nil: throw invalidArgument("descriptor_json needs a string '\(key)'")
            default: throw invalidArgument("descriptor_json field '\(key)' must be a string")
            }
        }
        func strings(_ key: JSONString) throws -> [JSONString]? {
            switch object[key] {
            case nil, .null?: return nil
            case .array(let items)?:
                return try items.map {
                    guard case .string(let text) = $0 else {
                        throw invalidArgument("descriptor_json field '\(key)' must be an array of strings")
                    }
                    return text
                }
            default: throw invalidArgument("descriptor_json field '\(key)' must be an array of strings")
            }
        }
        return TaskDescriptor(name: try string("name", default: nil),
                              displayName: try string("display_name", default: ""),
                              queue: try string("queue", default: "default"),
                              identityKeys: try strings("identity_keys"),
                              outputFiles: try strings("output_files") ?? [],
                              contextType: try string("context_type", default: "task"))
    }

    static func object(of descriptor: TaskDescriptor) -> JSONObject {
        JSONObject([
            ("name", .string(descriptor.name)),
            ("display_name", .string(descriptor.displayName)),
            ("queue", .string(descriptor.queue)),
            ("identity_keys", descriptor.identityKeys.map { .array($0.map(JSONValue.string)) } ?? .null),
            ("output_files", .array(descriptor.outputFiles.map(JSONValue.string))),
            ("context_type", .string(descriptor.contextType)),
        ])
    }
}
