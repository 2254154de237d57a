import Crypto

/// What a node wrote, recorded in manifest.json. muflow reads only the manifest's
/// presence, so the fields beyond `files` and `timestamp` keep caches interchangeable
/// while letting this engine tell a torn node (a file cut short by a crash before it
/// reached the disk) from a complete one.
public struct Manifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var size: Int
        public var sha256: String
    }

    public var files: [String: Entry]

    static let sizesKey: JSONString = "file_sizes"
    static let digestsKey: JSONString = "file_sha256"

    func encoded(timestamp: String) -> [UInt8] {
        let names = files.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var sizes = JSONObject()
        var digests = JSONObject()
        for name in names {
            sizes[name] = .int(files[name]!.size)
            digests[name] = .string(JSONString(files[name]!.sha256))
        }
        var object = JSONObject()
        object["files"] = .array(names.map { .string(JSONString($0)) })
        object["timestamp"] = .string(JSONString(timestamp))
        object[Self.sizesKey] = .object(sizes)
        object[Self.digestsKey] = .object(digests)
        return IndentedJSON.dumps(.object(object))
    }

    /// The recorded sizes, or nil for a manifest that records none (muflow's own).
    static func recordedSizes(in bytes: [UInt8]) -> [(String, Int)]? {
        guard let value = try? bytes.withUnsafeBytes({ try parseJSON($0) }),
              case .object(let object) = value,
              case .object(let sizes)? = object[sizesKey] else { return nil }
        return sizes.pairs.compactMap { key, value in
            if case .int(let n) = value { return (key.description, n) }
            return nil
        }
    }
}

/// A SHA-256 in lowercase hex.
func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
    let digest = SHA256.hash(data: bytes)
    return String(decoding: ContentPrefix.hex(digest), as: UTF8.self)
}
