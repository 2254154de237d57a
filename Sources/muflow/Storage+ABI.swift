import CMuflowHeader
import Glibc
import MuflowCore

/// The Swift object behind `mf_storage *`, with its path kept as a C string for
/// mf_storage_path.
final class StorageHandle {
    let storage: LocalStorage
    let cPath: UnsafeMutablePointer<CChar>

    init(_ storage: LocalStorage) {
        self.storage = storage
        cPath = strdup(storage.root)
    }

    deinit { free(cPath) }
}

private func storageArgument(_ handle: OpaquePointer?) throws -> LocalStorage {
    try requiredObject(handle, "storage", as: StorageHandle.self).storage
}

private func nameArgument(_ name: UnsafePointer<CChar>?) throws -> String {
    try utf8Argument(name, "name").description
}

@c @implementation
public func mf_storage_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ path: UnsafePointer<CChar>?,
                           _ flags: UInt32, _ allowedOutputsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let root = try utf8Argument(path, "path").description
        let allowed = try allowedOutputsArgument(flags, allowedOutputsJSON)
        let durable = flags & UInt32(MF_STORAGE_DURABLE) != 0
        let storage = try LocalStorage(root: root, allowedOutputs: allowed, durable: durable)
        out.pointee = retainedHandle(StorageHandle(storage))
    }
}

@c @implementation
public func mf_storage_new_in(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ base: UnsafePointer<CChar>?,
                              _ prefix: UnsafePointer<CChar>?, _ flags: UInt32,
                              _ allowedOutputsJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let base = try utf8Argument(base, "base").description
        let prefix = try utf8Argument(prefix, "prefix").description
        let allowed = try allowedOutputsArgument(flags, allowedOutputsJSON)
        let durable = flags & UInt32(MF_STORAGE_DURABLE) != 0
        let storage = try LocalStorage(base: base, prefix: prefix, allowedOutputs: allowed, durable: durable)
        out.pointee = retainedHandle(StorageHandle(storage))
    }
}

func allowedOutputsArgument(_ flags: UInt32, _ json: UnsafePointer<CChar>?) throws -> Set<String>? {
    guard flags & UInt32(MF_STORAGE_RESTRICT_OUTPUTS) != 0 else { return nil }
    guard case .array(let names)? = try optionalJSONArgument(json) else {
        throw invalidArgument("allowed_outputs_json must be a JSON array of names")
    }
    return Set(try names.map {
        guard case .string(let name) = $0 else { throw invalidArgument("allowed_outputs_json must hold strings") }
        return name.description
    })
}

@c @implementation
public func mf_storage_free(_ storage: OpaquePointer?) {
    releaseHandle(storage, as: StorageHandle.self)
}

@c @implementation
public func mf_storage_path(_ storage: OpaquePointer?) -> UnsafePointer<CChar>! {
    guard let storage else { return staticCString("") }
    return UnsafePointer(object(storage, as: StorageHandle.self).cPath)
}

@c @implementation
public func mf_storage_save(_ storage: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ data: UnsafeRawPointer?,
                            _ length: Int, _ allowProtected: Int32) -> mf_status {
    abiCall {
        let storage = try storageArgument(storage)
        let name = try nameArgument(name)
        guard data != nil || length == 0 else { throw invalidArgument("data must not be NULL") }
        try storage.save(name, UnsafeRawBufferPointer(start: data, count: length), allowProtected: allowProtected != 0)
    }
}

@c @implementation
public func mf_storage_begin_write(_ outPath: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                   _ storage: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let outPath = try required(outPath, "out_path")
        let path = try storageArgument(storage).beginWrite(try nameArgument(name))
        deliver(Array(path.utf8), to: outPath)
    }
}

@c @implementation
public func mf_storage_end_write(_ storage: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ success: Int32) -> mf_status {
    abiCall {
        let storage = try storageArgument(storage)
        let name = try nameArgument(name)
        if success != 0 {
            try storage.commitWrite(name)
        } else {
            storage.abandonWrite(name)
        }
    }
}

@c @implementation
public func mf_storage_read_path(_ outPath: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ storage: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let outPath = try required(outPath, "out_path")
        let path = try storageArgument(storage).pathForReading(try nameArgument(name))
        deliver(Array(path.utf8), to: outPath)
    }
}

@c @implementation
public func mf_storage_exists(_ outExists: UnsafeMutablePointer<Int32>?, _ storage: OpaquePointer?,
                              _ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let outExists = try required(outExists, "out_exists")
        outExists.pointee = try storageArgument(storage).exists(try nameArgument(name)) ? 1 : 0
    }
}

@c @implementation
public func mf_storage_written_files(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                     _ storage: OpaquePointer?) -> mf_status {
    abiCall {
        let outJSON = try required(outJSON, "out_json")
        let names = try storageArgument(storage).writtenFiles
        deliver(PythonJSON.dumps(.array(names.map { .string(JSONString($0)) })), to: outJSON)
    }
}

@c @implementation
public func mf_storage_is_cached(_ storage: OpaquePointer?, _ check: mf_cache_check) -> Int32 {
    guard let storage else { return 0 }
    let verification: CacheVerification = check == MF_CACHE_CHECK_PRESENCE ? .presence : .sizes
    return object(storage, as: StorageHandle.self).storage.isCached(verify: verification) ? 1 : 0
}

@c @implementation
public func mf_storage_write_manifest(_ storage: OpaquePointer?) -> mf_status {
    abiCall { try storageArgument(storage).writeManifest() }
}

@c @implementation
public func mf_filename_validate(_ name: UnsafePointer<CChar>?) -> mf_status {
    abiCall { try FileNames.validate(try nameArgument(name)) }
}

@c @implementation
public func mf_storage_check_manifests(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                       _ prefixesJSON: UnsafePointer<CChar>?, _ check: mf_cache_check) -> mf_status {
    abiCall {
        let outJSON = try required(outJSON, "out_json")
        guard case .array(let items)? = try optionalJSONArgument(try required(prefixesJSON, "prefixes_json")) else {
            throw invalidArgument("prefixes_json must be a JSON array of directories")
        }
        let prefixes = try items.map {
            guard case .string(let prefix) = $0 else { throw invalidArgument("prefixes_json must hold strings") }
            return prefix.description
        }
        let verification: CacheVerification = check == MF_CACHE_CHECK_PRESENCE ? .presence : .sizes
        let present = LocalStorage.manifestsComplete(prefixes, verify: verification)
        deliver(PythonJSON.dumps(.array(present.map { .bool($0) })), to: outJSON)
    }
}
