import CMuflowHeader
import Glibc
import MuflowCore
import MuflowPickle

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
        if identityKeys?.isEmpty ?? true, format == MF_FORMAT_PICKLE, data != nil,
           let prefixes = prefixesFromPickle(UnsafeRawBufferPointer(start: data, count: length), base: base) {
            deliver(prefixes, to: out)
            return
        }
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

/// Writes the digest of each element's text side by side, as far as `capacity` allows,
/// and counts them all.
private struct DigestWriter: PickleCanonical.ElementSink {
    let out: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0
    private var digester = ResumingDigester()

    init(out: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.out = out
        self.capacity = capacity
    }

    mutating func element(_ text: UnsafeBufferPointer<UInt8>, label: PickleCanonical.Label) {
        let width = ContentPrefix.digestLength
        if (count + 1) * width <= capacity { digester.writeDigest(ofCanonical: text, to: out + count * width) }
        count += 1
    }
}

/// The JSON array of `base/label/digest` strings; unusable once an element's label is
/// not a string (the caller then leaves the label to the full reader).
private struct PrefixWriter: PickleCanonical.ElementSink {
    var json: [UInt8] = [UInt8(ascii: "[")]
    /// `"base/`, escaped.
    let opening: [UInt8]
    var usable = true
    private var digester = ResumingDigester()

    init(base: JSONString) {
        var opening = [UInt8(ascii: "\"")]
        (base.utf8 + [UInt8(ascii: "/")]).withUnsafeBufferPointer { PythonJSON.appendEscaped($0, to: &opening) }
        self.opening = opening
    }

    mutating func element(_ text: UnsafeBufferPointer<UInt8>, label: PickleCanonical.Label) {
        guard usable else { return }
        if json.count > 1 { json.append(contentsOf: ", ".utf8) }
        json.append(contentsOf: opening)
        switch label {
        case .string(let raw): PythonJSON.appendEscaped(raw, to: &json)
        case .missing: json.append(contentsOf: "unknown".utf8)
        case .notAString: usable = false; return
        }
        json.append(UInt8(ascii: "/"))
        let digestStart = json.count
        json.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: ContentPrefix.digestLength))
        json.withUnsafeMutableBufferPointer { digester.writeDigest(ofCanonical: text, to: $0.baseAddress! + digestStart) }
        json.append(UInt8(ascii: "\""))
    }
}

/// The JSON array of prefixes of a pickled list of dicts, each hashed whole, read in one
/// pass; nil when the pickle fast path does not apply or a task is not a string (the
/// full reader then decides, and reports errors).
private func prefixesFromPickle(_ bytes: UnsafeRawBufferPointer, base: JSONString) -> [UInt8]? {
    guard bytes.count <= Int(MF_MAX_VALUE_BYTES) else { return nil }
    var writer = PrefixWriter(base: base)
    writer.json.reserveCapacity(bytes.count)
    guard PickleCanonical.forEachElement(bytes, maxDepth: Int(MF_MAX_DEPTH), into: &writer), writer.usable else {
        return nil
    }
    writer.json.append(UInt8(ascii: "]"))
    return writer.json
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
        let digest = UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt8.self)
        try withCanonicalText(format, data, length) { ContentPrefix.writeDigest(ofCanonical: $0, to: digest) }
        digest[ContentPrefix.digestLength] = 0
    }
}

@c @implementation
public func mf_content_digests(_ out: UnsafeMutablePointer<CChar>?, _ outCapacity: Int,
                               _ outCount: UnsafeMutablePointer<Int>?, _ format: mf_format,
                               _ data: UnsafeRawPointer?, _ length: Int) -> mf_status {
    abiCall {
        let out = UnsafeMutableRawPointer(try required(out, "out")).assumingMemoryBound(to: UInt8.self)
        let outCount = try required(outCount, "out_count")
        let width = ContentPrefix.digestLength
        var digests = DigestWriter(out: out, capacity: outCapacity)
        let fast = format == MF_FORMAT_PICKLE && data != nil && length <= Int(MF_MAX_VALUE_BYTES)
            && PickleCanonical.forEachElement(UnsafeRawBufferPointer(start: data, count: length),
                                              maxDepth: Int(MF_MAX_DEPTH), into: &digests)
        if !fast {
            guard case .array(let values) = try readValue(format, data, length, name: "values") else {
                throw MuflowError(.type, "values must be an array")
            }
            digests.count = 0
            for value in values { PythonJSON.dumps(value).withUnsafeBufferPointer { digests.element($0, label: .missing) } }
        }
        let count = digests.count
        guard outCapacity >= width * count else {
            throw MuflowError(.limit, "out holds \(outCapacity) bytes; \(count) digests need \(width * count)")
        }
        outCount.pointee = count
    }
}
