/// The content-addressed storage prefix of a node, byte for byte what muflow 0.4.0's
/// `compute_prefix` returns: `{base}/{label}/{sha256(json.dumps(id, sort_keys=True))[:16]}`.
public enum ContentPrefix {
    /// The key whose value labels a prefix and is hashed with any identity keys.
    public static let taskKey = JSONString("task")
    /// The label, and the hashed task, of a hash dict without `taskKey`.
    public static let unknownTaskName = JSONString("unknown")
    static let unknownTask = JSONValue.string(unknownTaskName)

    /// The object whose canonical text is hashed: all of `hashDict` when `identityKeys`
    /// is nil or empty (muflow tests the list for truth), else the named keys present
    /// in `hashDict` plus "task".
    public static func identity(of hashDict: JSONObject, identityKeys: [JSONString]?) -> JSONObject {
        guard let identityKeys, !identityKeys.isEmpty else { return hashDict }
        var selected = JSONObject()
        for key in identityKeys {
            if let value = hashDict[key] { selected[key] = value }
        }
        selected[taskKey] = hashDict[taskKey] ?? unknownTask
        return selected
    }

    /// The 16 lowercase hex digits naming a canonical text.
    public static func digest<Bytes: Sequence<UInt8>>(ofCanonical text: Bytes) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: digestLength) { buffer, count in
            text.withContiguousStorageIfAvailable { writeDigest(ofCanonical: $0, to: buffer.baseAddress!) }
                ?? Array(text).withUnsafeBufferPointer { writeDigest(ofCanonical: $0, to: buffer.baseAddress!) }
            count = digestLength
        }
    }

    public static let digestLength = 16

    /// Writes the `digestLength` hex digits naming `text` at `out`.
    public static func writeDigest(ofCanonical text: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) {
        var hasher = SHA256()
        hasher.update(bufferPointer: UnsafeRawBufferPointer(text))
        writeHex(of: hasher, to: out)
    }

    /// Writes the `digestLength` hex digits of the digest `hasher` has reached at `out`.
    public static func writeHex(of hasher: SHA256, to out: UnsafeMutablePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: digestLength / 2) { bytes in
            hasher.finalize(prefix: digestLength / 2, into: bytes.baseAddress!)
            writeHex(ofDigest: bytes.baseAddress!, to: out)
        }
    }

    /// Writes the `digestLength` hex digits of the first `digestLength / 2` bytes of a
    /// digest at `out`.
    public static func writeHex(ofDigest digest: UnsafePointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) {
        hexDigits.withUnsafeBufferPointer { hex in
            for k in 0..<(digestLength / 2) {
                out[2 * k] = hex[Int(digest[k] >> 4)]
                out[2 * k + 1] = hex[Int(digest[k] & 0xf)]
            }
        }
    }

    /// The prefix as WTF-8 bytes (a label taken from a Python string may hold a lone
    /// surrogate, which a Swift String cannot).
    public static func compute(hashDict: JSONObject, basePrefix: JSONString, identityKeys: [JSONString]?) -> [UInt8] {
        let canonical = PythonJSON.dumps(.object(identity(of: hashDict, identityKeys: identityKeys)))
        return assemble(basePrefix: basePrefix, label: label(of: hashDict), digest: digest(ofCanonical: canonical))
    }

    /// Python's `str(hash_dict.get("task", "unknown"))`.
    public static func label(of hashDict: JSONObject) -> [UInt8] {
        switch hashDict[taskKey] {
        case .string(let s)?: return s.utf8
        case nil: return unknownTaskName.utf8
        case let other?: return PythonStr.str(other)
        }
    }

    public static func assemble(basePrefix: JSONString, label: [UInt8], digest: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(basePrefix.utf8.count + label.count + digest.count + 2)
        out += basePrefix.utf8
        out.append(UInt8(ascii: "/"))
        out += label
        out.append(UInt8(ascii: "/"))
        out += digest
        return out
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex<D: Sequence<UInt8>>(_ bytes: D) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0xf)])
        }
        return out
    }
}
