/// The rules of a node's storage for a backend whose bytes travel elsewhere (S3): it
/// checks each name as local storage does, claims it once, records each file's size and
/// SHA-256 when its bytes are handed over, and writes the manifest that lists them. The
/// caller moves the bytes; it claims a name before storing it, commits it after, and
/// writes the manifest only once every listed file is stored.
public final class FileLedger: Sendable {
    /// Names the task may write: nil for any, empty for none (read-only).
    public let allowedOutputs: Set<String>?
    /// A claimed name has size -1 until its bytes are committed.
    private let files = Locked<[String: Manifest.Entry]>([:])

    public init(allowedOutputs: Set<String>? = nil) {
        self.allowedOutputs = allowedOutputs
    }

    /// Checks `name` and claims it: a bad name, a protected one (unless the executor
    /// writes it), one outside the allowed outputs, or one claimed before is refused.
    public func claim(_ name: String, allowProtected: Bool = false) throws {
        try FileNames.validate(name)
        try files.withLock { files in
            try FileNames.validateWritable(name, written: Set(files.keys), allowProtected: allowProtected)
            try FileNames.validateAllowed(name, allowedOutputs: allowedOutputs, allowProtected: allowProtected)
            files[name] = Manifest.Entry(size: -1, sha256: "")
        }
    }

    /// Records the bytes stored under a claimed name.
    public func commit(_ name: String, _ bytes: UnsafeRawBufferPointer) throws {
        let entry = Manifest.Entry(size: bytes.count, sha256: sha256Hex(bytes))
        try files.withLock { files in
            guard files[name]?.size == -1 else {
                throw MuflowError(.notFound, "'\(name)' was not claimed for writing (or was committed already)")
            }
            files[name] = entry
        }
    }

    /// Gives a claimed name back (its bytes could not be stored).
    public func release(_ name: String) {
        files.withLock { files in
            if files[name]?.size == -1 { files.removeValue(forKey: name) }
        }
    }

    /// The committed names, sorted by their UTF-8 bytes.
    public var writtenFiles: [String] {
        completed.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// manifest.json's bytes, as local storage writes them, listing the committed files.
    public func manifest() -> [UInt8] {
        manifest(timestamp: UTCTimestamp.now())
    }

    /// manifest.json's bytes recording also the node's `inputs` (the manifest's
    /// `inputs` form: access key to `{"prefix", "outputs_sha256"}`, in the access map's
    /// order), for the stale-input check (RemoteCacheCheck). Throws
    /// MuflowError(.invalidArgument) for malformed inputs.
    public func manifest(inputs: JSONValue) throws -> [UInt8] {
        Manifest(files: completed, inputs: try RemoteCacheCheck.nodeInputs(inputs)).encoded(timestamp: UTCTimestamp.now())
    }

    func manifest(timestamp: String) -> [UInt8] {
        Manifest(files: completed).encoded(timestamp: timestamp)
    }

    private var completed: [String: Manifest.Entry] {
        files.withLock { $0 }.filter { $0.value.size >= 0 }
    }
}
