/// A SHA-256 digest held as four words, so that comparing two costs four compares.
struct Fingerprint: Hashable, Sendable, CustomStringConvertible {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ hasher: SHA256) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { hasher.finalize(prefix: 32, into: $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        self.words = words
    }

    /// The digest of `bytes`.
    init(of bytes: UnsafeRawBufferPointer) {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        self.init(hasher)
    }

    /// From 64 lowercase hex digits; nil for anything else.
    init?<Hex: Collection<UInt8>>(hex: Hex) {
        guard hex.count == 64 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &words) { out -> Bool in
            var i = 0
            var high: UInt8 = 0
            for digit in hex {
                let value: UInt8
                switch digit {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = digit - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = digit - UInt8(ascii: "a") + 10
                default: return false
                }
                if i % 2 == 0 { high = value } else { out[i / 2] = high << 4 | value }
                i += 1
            }
            return true
        }
        guard parsed else { return nil }
        self.words = words
    }

    static func == (a: Fingerprint, b: Fingerprint) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: words, body)
    }

    var hex: [UInt8] { withBytes { ContentPrefix.hex($0) } }

    /// Appends `fingerprint` as a JSON string of its hex digits, or `null` when it is nil.
    static func appendJSON(_ fingerprint: Fingerprint?, to out: inout [UInt8]) {
        guard let fingerprint else {
            out += "null".utf8
            return
        }
        out.append(UInt8(ascii: "\""))
        out += fingerprint.hex
        out.append(UInt8(ascii: "\""))
    }

    var description: String { String(decoding: hex, as: UTF8.self) }
}

/// What a manifest says for the cache check beyond its files: the fingerprint of the
/// node's outputs, and the digest of the inputs the node was run with (nil when the
/// manifest records none, as muflow's do: such a node is trusted as before).
struct ManifestDigests: Equatable {
    var outputs: Fingerprint
    var inputs: Fingerprint?

    static let outputsKey: JSONString = "outputs_sha256"
    static let inputsDigestKey: JSONString = "inputs_sha256"
    static let inputsKey: JSONString = "inputs"

    /// The fingerprint of a node's outputs: their names, sizes and SHA-256 sums, not the
    /// manifest's timestamp, so a node run again with identical outputs keeps it.
    static func outputs(of files: [String: Manifest.Entry]) -> Fingerprint {
        var hasher = SHA256()
        var line: [UInt8] = []
        for name in files.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let entry = files[name]!
            line.removeAll(keepingCapacity: true)
            line += name.utf8
            line.append(0)
            NumberText.appendDecimal(entry.size, to: &line)
            line.append(0)
            line += entry.sha256.utf8
            line.append(UInt8(ascii: "\n"))
            line.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return Fingerprint(hasher)
    }

    /// The digests of a manifest that records no fingerprint (muflow's, or one written
    /// before inputs were recorded): its whole bytes stand for its outputs.
    static func unrecorded(manifest bytes: UnsafeRawBufferPointer) -> ManifestDigests {
        ManifestDigests(outputs: Fingerprint(of: bytes), inputs: nil)
    }
}

/// The inputs of a node as its manifest records them: for each entry of its dependency
/// access map (in the plan's order), the dependency's storage prefix and the
/// fingerprint of that dependency's outputs (nil where it has no manifest). The map's
/// own arrays are held, not copied entry by entry.
struct NodeInputs: Sendable, Equatable {
    let layout: InputsLayout
    let outputs: [Fingerprint?]
    /// Over the layout's digest and every fingerprint, in order; what a later cache check
    /// compares.
    let digest: Fingerprint

    var accessKeys: [JSONString] { layout.accessKeys }
    var prefixes: [JSONString] { layout.prefixes }

    static func == (a: NodeInputs, b: NodeInputs) -> Bool { a.digest == b.digest }

    init(layout: InputsLayout, outputs: [Fingerprint?]) {
        self.layout = layout
        self.outputs = outputs
        var hasher = SHA256()
        layout.digest.withBytes { hasher.update(bufferPointer: $0) }
        // 33 bytes an entry: whether the dependency has outputs, and their fingerprint.
        var scratch = [UInt8](repeating: 0, count: 33 * outputs.count)
        scratch.withUnsafeMutableBytes { out in
            for (i, fingerprint) in outputs.enumerated() {
                guard let fingerprint else { continue }
                out[33 * i] = 1
                fingerprint.withBytes { UnsafeMutableRawBufferPointer(rebasing: out[(33 * i + 1)...]).copyMemory(from: $0) }
            }
        }
        scratch.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        digest = Fingerprint(hasher)
    }

    init(accessKeys: [JSONString], prefixes: [JSONString], outputs: [Fingerprint?]) {
        self.init(layout: InputsLayout(accessKeys: accessKeys, prefixes: prefixes, dependencies: []), outputs: outputs)
    }

    static let none = NodeInputs(accessKeys: [], prefixes: [], outputs: [])

    /// The most inputs a manifest lists one by one; a node with more records their digest
    /// alone, which the cache check compares all the same. Listing them would make the
    /// manifests of a plan grow with the square of its size (the seed's ML pipeline: each
    /// of N loo_cv nodes reads all N feature nodes).
    static let mostListed = 256

    /// The record as JSON text at the manifest's second level of indentation.
    func appendJSON(to out: inout [UInt8]) {
        guard !accessKeys.isEmpty else {
            out += "{}".utf8
            return
        }
        out.append(UInt8(ascii: "{"))
        for i in accessKeys.indices {
            out += (i == 0 ? "\n    " : ",\n    ").utf8
            PythonJSON.appendString(accessKeys[i], to: &out)
            out += #": {"prefix": "#.utf8
            PythonJSON.appendString(prefixes[i], to: &out)
            out += #", "\#(ManifestDigests.outputsKey)": "#.utf8
            Fingerprint.appendJSON(outputs[i], to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out += "\n  }".utf8
    }
}

/// What a node's inputs are made of that the plan fixes: its access keys, their
/// prefixes, the node at each prefix (nil for one outside the plan), and their digest.
/// Made once per access map and kept with it, so a run hashes only the fingerprints.
final class InputsLayout: Sendable {
    let accessKeys: [JSONString]
    let prefixes: [JSONString]
    let dependencies: [Int?]
    let digest: Fingerprint

    init(accessKeys: [JSONString], prefixes: [JSONString], dependencies: [Int?]) {
        self.accessKeys = accessKeys
        self.prefixes = prefixes
        self.dependencies = dependencies
        var hasher = SHA256()
        var scratch: [UInt8] = []
        for i in accessKeys.indices {
            scratch.removeAll(keepingCapacity: true)
            scratch += accessKeys[i].utf8
            scratch.append(0)
            scratch += prefixes[i].utf8
            scratch.append(0)
            scratch.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        digest = Fingerprint(hasher)
    }
}
