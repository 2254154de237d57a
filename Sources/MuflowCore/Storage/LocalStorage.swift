
/// How much a cached node's manifest is trusted.
public enum CacheVerification: Sendable {
    /// The manifest's presence, as muflow checks.
    case presence
    /// Presence, and every file the manifest records has its recorded size.
    case sizes
}

/// One node's directory: files are written once, protected names are refused to tasks,
/// nothing is written or read outside the directory (not even through a symlink), and
/// manifest.json appears atomically, after everything it lists.
public final class LocalStorage: Sendable {
    public let root: String
    /// Names the task may write: nil for any, empty for none (read-only).
    public let allowedOutputs: Set<String>?
    /// Sync files and directory entries to the disk before the manifest's rename.
    public let durable: Bool
    private let resolvedRoot = Locked<String?>(nil)
    private let written = Locked<[String: Manifest.Entry]>([:])

    public init(root: String, allowedOutputs: Set<String>? = nil, durable: Bool = false) throws {
        guard !root.isEmpty else { throw MuflowError(.invalidArgument, "storage path must not be empty") }
        guard !root.utf8.contains(0) else { throw MuflowError(.invalidArgument, "storage path must not contain a NUL byte") }
        try FileSystem.makeDirectories(root)
        self.root = root
        self.allowedOutputs = allowedOutputs
        self.durable = durable
    }

    /// The storage of a node directory that a run has created and claimed.
    init(claimedDirectory root: String, durable: Bool) {
        self.root = root
        self.allowedOutputs = nil
        self.durable = durable
    }

    public var writtenFiles: [String] {
        written.withLock { Array($0.keys) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public func path(of name: String) -> String { root + "/" + name }

    // MARK: Writing

    /// Writes `bytes` as `name` (atomically: a crash leaves no partial file).
    public func save(_ name: String, _ bytes: UnsafeRawBufferPointer, allowProtected: Bool = false) throws {
        let target = try claimForWriting(name, allowProtected: allowProtected)
        do {
            try FileSystem.writeAtomically(target, bytes, durable: durable)
        } catch {
            release(name)
            throw error
        }
        record(name, Manifest.Entry(size: bytes.count, sha256: sha256Hex(bytes)))
    }

    public func save(_ name: String, _ bytes: [UInt8], allowProtected: Bool = false) throws {
        try bytes.withUnsafeBytes { try save(name, $0, allowProtected: allowProtected) }
    }

    /// For writers that need a path (a netCDF library, say): validates `name`, claims
    /// it, creates its directory and returns the path. Finish with `commitWrite`, or
    /// `abandonWrite` if the writer failed.
    public func beginWrite(_ name: String) throws -> String {
        try claimForWriting(name, allowProtected: false)
    }

    /// Records a file written at the path `beginWrite` returned.
    public func commitWrite(_ name: String) throws {
        let bytes = try FileSystem.readFile(path(of: name))
        if durable { try FileSystem.syncFile(path(of: name)) }
        bytes.withUnsafeBytes { record(name, Manifest.Entry(size: $0.count, sha256: sha256Hex($0))) }
    }

    /// Gives the name back after a failed writer, removing whatever it left.
    public func abandonWrite(_ name: String) {
        try? FileSystem.removeIfPresent(path(of: name))
        release(name)
    }

    private func claimForWriting(_ name: String, allowProtected: Bool) throws -> String {
        try FileNames.validate(name)
        try written.withLock { files in
            try FileNames.validateWritable(name, written: Set(files.keys), allowProtected: allowProtected)
            try FileNames.validateAllowed(name, allowedOutputs: allowedOutputs, allowProtected: allowProtected)
            files[name] = Manifest.Entry(size: -1, sha256: "")
        }
        do {
            let target = path(of: name)
            let directory = FileSystem.parentDirectory(of: target)
            // A name directly in the root needs no check: rename replaces a symlink there
            // rather than writing through it.
            if directory != root {
                try FileSystem.makeDirectories(directory)
                try checkInside(directory, name: name)
            }
            return target
        } catch {
            release(name)
            throw error
        }
    }

    private func record(_ name: String, _ entry: Manifest.Entry) {
        written.withLock { $0[name] = entry }
    }

    private func release(_ name: String) {
        _ = written.withLock { $0.removeValue(forKey: name) }
    }

    // MARK: Reading

    /// The path of `name` for reading, after checking it stays inside this storage.
    public func pathForReading(_ name: String) throws -> String {
        try FileNames.validate(name)
        let target = path(of: name)
        if let real = FileSystem.realPath(target) {
            try checkContained(real, name: name)
        }
        return target
    }

    public func read(_ name: String) throws -> [UInt8] {
        try FileSystem.readFile(pathForReading(name))
    }

    public func exists(_ name: String) throws -> Bool {
        FileSystem.exists(try pathForReading(name))
    }

    private func checkInside(_ directory: String, name: String) throws {
        guard let real = FileSystem.realPath(directory) else { throw FileSystem.failure("cannot resolve", directory) }
        try checkContained(real, name: name)
    }

    /// The root with every symlink resolved, computed when first needed.
    private func realRoot() throws -> String {
        try resolvedRoot.withLock { cached in
            if let cached { return cached }
            guard let real = FileSystem.realPath(root) else { throw FileSystem.failure("cannot resolve", root) }
            cached = real
            return real
        }
    }

    private func checkContained(_ real: String, name: String) throws {
        let realRoot = try realRoot()
        if real != realRoot && !real.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") {
            throw MuflowError(.permission, "'\(name)' resolves outside the storage directory (through a symlink)")
        }
    }

    // MARK: Node state

    public func isCached(verify: CacheVerification = .sizes) -> Bool {
        Self.manifestComplete(in: root, verify: verify)
    }

    /// Writes manifest.json listing every file written through this storage: after the
    /// files themselves, atomically, so a crash leaves either no manifest or a whole one.
    public func writeManifest() throws {
        try writeManifest(in: nil)
    }

    /// `directory`: this storage's directory, open (a run's node claim), if it is.
    func writeManifest(in directory: Int32?) throws {
        try writeManifest(files: completedFiles(), in: directory)
    }

    /// The files written through this storage, as its manifest lists them.
    func completedFiles() -> [String: Manifest.Entry] {
        written.withLock { $0 }.filter { $0.value.size >= 0 }
    }

    static func recordedSizes(_ files: [String: Manifest.Entry]) -> [(name: [UInt8], size: Int)] {
        files.map { (name: Array($0.key.utf8), size: $0.value.size) }
    }

    /// Writes the manifest listing `files`; returns the identity of the file written,
    /// which it records in the ManifestMemory unless `remember` is false.
    @discardableResult
    func writeManifest(files: [String: Manifest.Entry], in directory: Int32?,
                       remember: Bool = true) throws -> ManifestMemory.Identity? {
        let text = Manifest(files: files).encoded(timestamp: UTCTimestamp.now())
        if durable {
            if let directory {
                try FileSystem.syncDirectory(directory, path: root)
            } else {
                try FileSystem.syncDirectory(root)
            }
        }
        // The manifest itself always reaches the disk whole before it is named: after a
        // power loss it is either absent or complete, and the sizes it records expose
        // any file of a non-durable storage that did not make it.
        let target = path(of: FileNames.manifest)
        let written = try text.withUnsafeBytes {
            try FileSystem.writeAtomically(directory == nil ? target : FileNames.manifest,
                                           in: directory ?? FileSystem.currentDirectory, path: target, $0,
                                           durable: durable, syncData: true, identify: true)
        }
        if let written, remember {
            ManifestMemory.remember(root, written, sizes: Self.recordedSizes(files))
        }
        return written
    }

    /// Creates a file only the executor writes (context.json, before the task runs)
    /// through this storage's open directory, in place: nothing trusts it before the
    /// manifest names it. False, with nothing written, if the name exists already.
    /// `sha256` is the digest of `bytes`. `source`: the open directory of another node
    /// the run holds whose `name` this run created with the same bytes; the file then
    /// becomes a second name of that one (a hard link) when the filesystem allows it,
    /// which saves writing a file per node. This engine replaces an executor file rather
    /// than writing it in place (muflow rewrites context.json in place only in a node
    /// without a manifest that it runs, with the same bytes), so the names keep the same
    /// contents.
    func createExecutorFile(_ name: String, _ bytes: [UInt8], sha256: String, in directory: Int32,
                            linkingFrom source: Int32? = nil) throws -> ExecutorFileCreation {
        var created = ExecutorFileCreation.present
        switch source.map({ FileSystem.link(name, in: $0, as: name, in: directory) }) {
        case .linked?:
            created = .linked
        case .exists?:
            return .present
        case .unavailable?, nil:
            let written = try bytes.withUnsafeBytes {
                try FileSystem.createFile(name, in: directory, path: path(of: name), $0, durable: durable)
            }
            if written { created = .written }
        }
        if created != .present { record(name, Manifest.Entry(size: bytes.count, sha256: sha256)) }
        return created
    }

    enum ExecutorFileCreation {
        /// Linked to the source's file.
        case linked
        /// Written as a file of its own.
        case written
        /// The name existed: nothing was done.
        case present
    }

    /// Replaces a file only the executor writes, atomically, through this storage's open
    /// directory. `sha256` is the digest of `bytes`.
    func replaceExecutorFile(_ name: String, _ bytes: [UInt8], sha256: String, in directory: Int32) throws {
        try bytes.withUnsafeBytes {
            _ = try FileSystem.writeAtomically(name, in: directory, path: path(of: name), $0, durable: durable)
        }
        record(name, Manifest.Entry(size: bytes.count, sha256: sha256))
    }

    /// Removes a manifest that no longer describes the directory (a torn node about to
    /// run again), so a crash during the rerun cannot leave the stale one in place.
    public func discardManifest() throws {
        try FileSystem.removeIfPresent(path(of: FileNames.manifest))
    }
}
