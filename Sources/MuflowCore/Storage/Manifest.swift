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
    /// The inputs the node ran with, recorded for the cache check (nil: none recorded).
    var inputs: NodeInputs?

    static let sizesKey: JSONString = "file_sizes"
    static let digestsKey: JSONString = "file_sha256"

    init(files: [String: Entry], inputs: NodeInputs? = nil) {
        self.files = files
        self.inputs = inputs
    }

    var digests: ManifestDigests { ManifestDigests(outputs: ManifestDigests.outputs(of: files), inputs: inputs?.digest) }

    /// The manifest as muflow lays out JSON (`json.dumps(indent=2)`), written straight
    /// to bytes: a run writes one per node. After muflow's fields and the files' sizes and
    /// sums come the outputs' fingerprint and, when recorded, the inputs (see
    /// ManifestDigests), the large inputs object last.
    func encoded(timestamp: String) -> [UInt8] {
        encodedWithDigests(timestamp: timestamp).text
    }

    func encodedWithDigests(timestamp: String) -> (text: [UInt8], digests: ManifestDigests) {
        let digests = self.digests
        let names = files.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(120 + 140 * names.count)
        out += #"{\#n  "files": "#.utf8
        Self.append(names, into: &out) { name, out in Self.appendString(name, to: &out) }
        out += #",\#n  "timestamp": "#.utf8
        Self.appendString(timestamp, to: &out)
        out += #",\#n  "\#(Self.sizesKey)": "#.utf8
        Self.append(names, into: &out, object: true) { name, out in out += String(files[name]!.size).utf8 }
        out += #",\#n  "\#(Self.digestsKey)": "#.utf8
        Self.append(names, into: &out, object: true) { name, out in Self.appendString(files[name]!.sha256, to: &out) }
        Self.appendDigest(ManifestDigests.outputsKey, digests.outputs, to: &out)
        if let inputs {
            Self.appendDigest(ManifestDigests.inputsDigestKey, inputs.digest, to: &out)
            if inputs.accessKeys.count <= NodeInputs.mostListed {
                out += #",\#n  "\#(ManifestDigests.inputsKey)": "#.utf8
                inputs.appendJSON(to: &out)
            }
        }
        out += "\n}".utf8
        return (out, digests)
    }

    private static func appendDigest(_ key: JSONString, _ digest: Fingerprint, to out: inout [UInt8]) {
        out += #",\#n  "\#(key)": ""#.utf8
        out += digest.hex
        out.append(UInt8(ascii: "\""))
    }

    /// A list of `names` (or, with `object`, an object keyed by them holding what
    /// `value` writes) at the second level of indentation.
    private static func append(_ names: [String], into out: inout [UInt8], object: Bool = false,
                               value: (String, inout [UInt8]) -> Void) {
        guard !names.isEmpty else {
            out += (object ? "{}" : "[]").utf8
            return
        }
        out.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        for (i, name) in names.enumerated() {
            out += (i == 0 ? "\n    " : ",\n    ").utf8
            if object {
                appendString(name, to: &out)
                out += ": ".utf8
            }
            value(name, &out)
        }
        out += (object ? "\n  }" : "\n  ]").utf8
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { PythonJSON.appendString($0, to: &out) }
    }

    /// What a manifest records of its files' sizes, and its digests.
    struct RecordedSizes {
        /// nil for a manifest that records none (muflow's own).
        let sizes: [(String, Int)]?
        let digests: ManifestDigests
    }

    /// The recorded sizes, or nil if the bytes are not a JSON object.
    static func recordedSizes(in bytes: [UInt8]) -> RecordedSizes? {
        guard let value = try? bytes.withUnsafeBytes({ try parseJSON($0) }),
              case .object(let object) = value else { return nil }
        func digest(_ key: JSONString) -> Fingerprint? {
            guard case .string(let text)? = object[key] else { return nil }
            return Fingerprint(hex: text.utf8)
        }
        let unrecorded = bytes.withUnsafeBytes { ManifestDigests.unrecorded(manifest: $0) }
        let digests = digest(ManifestDigests.outputsKey).map {
            ManifestDigests(outputs: $0, inputs: digest(ManifestDigests.inputsDigestKey))
        } ?? unrecorded
        guard case .object(let sizes)? = object[sizesKey] else { return RecordedSizes(sizes: nil, digests: digests) }
        return RecordedSizes(sizes: sizes.pairs.compactMap { key, value in
            if case .int(let n) = value { return (key.description, n) }
            return nil
        }, digests: digests)
    }
}

/// A SHA-256 in lowercase hex.
func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
    let digest = SHA256.hash(data: bytes)
    return String(decoding: ContentPrefix.hex(digest), as: UTF8.self)
}
