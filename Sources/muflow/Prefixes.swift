import CMuflowHeader
import Glibc
import MuflowCore

@c @implementation
public func mf_compute_prefix(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ format: mf_format, _ data: UnsafeRawPointer?, _ length: Int,
                              _ basePrefix: UnsafePointer<CChar>?,
                              _ identityKeysJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let base = try utf8Argument(basePrefix, "base_prefix")
        let identityKeys = try identityKeysArgument(identityKeysJSON)
        guard case .object(let hashDict) = try readValue(format, data, length, name: "hash_dict") else {
            throw MuflowError(.type, "hash_dict must be an object")
        }
        deliver(ContentPrefix.compute(hashDict: hashDict, basePrefix: base, identityKeys: identityKeys), to: out)
    }
}

@c @implementation
public func mf_compute_prefixes(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ format: mf_format, _ data: UnsafeRawPointer?, _ length: Int,
                                _ basePrefix: UnsafePointer<CChar>?,
                                _ identityKeysJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let base = try utf8Argument(basePrefix, "base_prefix")
        let identityKeys = try identityKeysArgument(identityKeysJSON)
        guard case .array(let dicts) = try readValue(format, data, length, name: "hash_dicts") else {
            throw MuflowError(.type, "hash_dicts must be an array of objects")
        }
        var prefixes = [JSONValue]()
        prefixes.reserveCapacity(dicts.count)
        for (i, element) in dicts.enumerated() {
            guard case .object(let hashDict) = element else {
                throw MuflowError(.type, "hash_dicts[\(i)] must be an object")
            }
            let prefix = ContentPrefix.compute(hashDict: hashDict, basePrefix: base, identityKeys: identityKeys)
            prefixes.append(.string(JSONString(wtf8: prefix)))
        }
        deliver(PythonJSON.dumps(.array(prefixes)), to: out)
    }
}

private func identityKeysArgument(_ json: UnsafePointer<CChar>?) throws -> [JSONString]? {
    guard let value = try optionalJSONArgument(json) else { return nil }
    guard case .array(let items) = value else {
        throw invalidArgument("identity_keys must be a JSON array of strings")
    }
    return try items.map {
        guard case .string(let key) = $0 else {
            throw invalidArgument("identity_keys must be a JSON array of strings")
        }
        return key
    }
}

@c @implementation
public func mf_content_digest(_ out: UnsafeMutablePointer<CChar>?, _ format: mf_format,
                              _ data: UnsafeRawPointer?, _ length: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        copyDigest(ContentPrefix.digest(ofCanonical: try canonicalText(format, data, length)), to: out)
        out[Int(MF_DIGEST_LENGTH)] = 0
    }
}

@c @implementation
public func mf_content_digests(_ out: UnsafeMutablePointer<CChar>?, _ outCapacity: Int,
                               _ outCount: UnsafeMutablePointer<Int>?, _ format: mf_format,
                               _ data: UnsafeRawPointer?, _ length: Int) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let outCount = try required(outCount, "out_count")
        let width = Int(MF_DIGEST_LENGTH)
        var digests: [[UInt8]] = []
        let fast = format == MF_FORMAT_PICKLE && data != nil && length <= Int(MF_MAX_VALUE_BYTES)
            && PickleCanonical.forEachElement(UnsafeRawBufferPointer(start: data, count: length),
                                              maxDepth: Int(MF_MAX_DEPTH)) { digests.append(ContentPrefix.digest(ofCanonical: $0)) }
        if !fast {
            guard case .array(let values) = try readValue(format, data, length, name: "values") else {
                throw MuflowError(.type, "values must be an array")
            }
            digests = values.map { ContentPrefix.digest(ofCanonical: PythonJSON.dumps($0)) }
        }
        guard outCapacity >= width * digests.count else {
            throw MuflowError(.limit, "out holds \(outCapacity) bytes; \(digests.count) digests need \(width * digests.count)")
        }
        for (i, digest) in digests.enumerated() { copyDigest(digest, to: out + i * width) }
        outCount.pointee = digests.count
    }
}

private func copyDigest(_ digest: [UInt8], to out: UnsafeMutablePointer<CChar>) {
    for (i, byte) in digest.enumerated() { out[i] = CChar(bitPattern: byte) }
}
