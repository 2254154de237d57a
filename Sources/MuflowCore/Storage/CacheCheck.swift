import Glibc

/// What a node directory's manifest.json says about the node.
enum ManifestState {
    /// No manifest: the node has not completed.
    case absent
    /// A manifest whose recorded files all have their recorded sizes (or one that
    /// records none, as muflow's own do).
    case complete
    /// A manifest that does not describe the directory (a torn node) or cannot be read.
    case incomplete
}

extension LocalStorage {
    /// Whether each directory holds a complete manifest, without opening storages (no
    /// directory is created); checked on several threads for long lists. Nodes of one
    /// step share a parent directory, which is opened once: each node then costs a
    /// lookup of a short name, and none at all while that parent does not exist.
    public static func manifestsComplete(_ directories: [String], verify: CacheVerification) -> [Bool] {
        manifestStates(directories, verify: verify).map { $0 == .complete }
    }

    /// The manifest state of each directory, as `manifestsComplete` checks it.
    static func manifestStates(_ directories: [String], verify: CacheVerification) -> [ManifestState] {
        manifestChecks(directories, verify: verify).states
    }

    /// The manifest state of each directory, and the digests of each complete one (nil
    /// for the others, and for all with `.presence`, which reads no manifest).
    static func manifestChecks(_ directories: [String], verify: CacheVerification)
        -> (states: [ManifestState], digests: [ManifestDigests?]) {
        let results = UnsafeMutableBufferPointer<ManifestState>.allocate(capacity: directories.count)
        results.initialize(repeating: .absent)
        defer { results.deallocate() }
        let digests = UnsafeMutableBufferPointer<ManifestDigests?>.allocate(capacity: directories.count)
        digests.initialize(repeating: nil)
        defer { digests.deinitialize().deallocate() }
        let digestOutput = UncheckedBuffer(digests)
        let chunks = directories.count < 512 ? 1 : min(availableProcessors(), 8)
        let chunkSize = (directories.count + chunks - 1) / max(chunks, 1)
        let output = UncheckedBuffer(results)
        let check = { @Sendable (chunk: Int) in
            var parents = ParentDirectory()
            defer { parents.close() }
            let range = (chunk * chunkSize)..<min(chunk * chunkSize + chunkSize, directories.count)
            // Recalled at once: one lock for the chunk rather than one per node.
            let records = verify == .sizes ? ManifestMemory.recall(directories[range]) : []
            for i in range {
                let recalled: ManifestMemory.Record?? = records.isEmpty ? .none : .some(records[i - range.lowerBound])
                output.buffer[i] = parents.manifestState(of: directories[i], verify: verify, recalled: recalled)
                if output.buffer[i] == .complete { digestOutput.buffer[i] = parents.digests }
            }
        }
        if chunks == 1 {
            check(0)
        } else {
            let workers = (0..<chunks).map { chunk in WorkerThread { check(chunk) } }
            workers.forEach { $0.join() }
        }
        return (Array(results), Array(digests))
    }

    static func manifestComplete(in directory: String, verify: CacheVerification) -> Bool {
        manifestState(of: directory, in: FileSystem.currentDirectory, verify: verify, key: directory) == .complete
    }

    /// The manifest state of the node directory `node`, a path relative to the open
    /// `directory` ("" for that directory itself). `key`: the node directory's path, to
    /// use and update the ManifestMemory.
    static func manifestState(of node: String, in directory: Int32, verify: CacheVerification,
                              key: String? = nil) -> ManifestState {
        manifestCheck(of: node, in: directory, verify: verify, key: key).state
    }

    /// `manifestState`, with the digests of a complete manifest.
    static func manifestCheck(of node: String, in directory: Int32, verify: CacheVerification,
                              key: String? = nil) -> (state: ManifestState, digests: ManifestDigests?) {
        var checker = ManifestChecker()
        let state = checker.state(of: node.utf8, in: directory, verify: verify, key: key)
        return (state, state == .complete ? checker.digests : nil)
    }
}

/// Checks manifests one after another on one thread, reusing its buffers: the path of
/// each file it looks at and the manifest's bytes.
struct ManifestChecker {
    private var path: [UInt8] = []
    private var contents = [UInt8](repeating: 0, count: 4096)
    /// Whether each SharedGroup met so far is intact (held, so that its identifier stays
    /// its own).
    private var groups: [ObjectIdentifier: (group: ManifestMemory.SharedGroup, intact: Bool)] = [:]
    private static let manifestName = Array(FileNames.manifest.utf8)
    /// The digests of the manifest last found complete with `.sizes` (nil otherwise).
    private(set) var digests: ManifestDigests?

    /// The state of the node directory `node` (path bytes relative to the open
    /// `directory`; empty for that directory itself). With `key` (the node directory's
    /// path), a manifest remembered unchanged is not read again, and one read is
    /// remembered.
    mutating func state<Node: Collection<UInt8>>(of node: Node, in directory: Int32, verify: CacheVerification,
                                                key: String? = nil,
                                                recalled: ManifestMemory.Record?? = nil) -> ManifestState {
        digests = nil
        setPath(node, Self.manifestName)
        guard verify == .sizes else {
            return withPath { faccessat(directory, $0, F_OK, 0) } == 0 ? .complete : .absent
        }
        if key != nil, let record = recalled ?? key.flatMap(ManifestMemory.recall) {
            if let group = record.group, let expected = record.directory,
               directoryIdentity(of: node, in: directory) == expected, isIntact(group) {
                digests = record.digests
                return .complete
            }
            setPath(node, Self.manifestName)
            var info = stat()
            guard withPath({ fstatat(directory, $0, &info, 0) }) == 0 else {
                return errno == ENOENT || errno == ENOTDIR ? .absent : .incomplete
            }
            if ManifestMemory.Identity(info) == record.identity {
                guard filesMatch(record.sizes, node: node, in: directory) else { return .incomplete }
                digests = record.digests
                return .complete
            }
            setPath(node, Self.manifestName)
        }
        let fd = withPath { openat(directory, $0, O_RDONLY | O_CLOEXEC) }
        if fd < 0 { return errno == ENOENT || errno == ENOTDIR ? .absent : .incomplete }
        var info = stat()
        let identified = key != nil && fstat(fd, &info) == 0
        let count = readAll(fd)
        close(fd)
        guard count >= 0 else { return .incomplete }
        let scanned = contents.withUnsafeBytes { ManifestScan.scan(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        let sizes: [(name: [UInt8], size: Int)]?
        var found: ManifestDigests
        switch scanned.result {
        case .noSizes, .sizes:
            if case .sizes(let ranges) = scanned.result {
                sizes = ranges.map { (Array(contents[$0.name]), $0.size) }
            } else {
                sizes = nil
            }
            found = scanned.outputs.map { ManifestDigests(outputs: $0, inputs: scanned.inputs) }
                ?? contents.withUnsafeBytes { ManifestDigests.unrecorded(manifest: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        case .unknown:
            guard let parsed = fullyParsed(Array(contents[..<count]), node: node, in: directory) else {
                return .incomplete
            }
            sizes = parsed.sizes
            found = parsed.digests
        }
        if identified, let key {
            ManifestMemory.remember(key, ManifestMemory.Identity(info), sizes: sizes, digests: found)
        }
        guard filesMatch(sizes, node: node, in: directory) else { return .incomplete }
        digests = found
        return .complete
    }

    private mutating func directoryIdentity<Node: Collection<UInt8>>(of node: Node, in directory: Int32)
        -> ManifestMemory.Identity? {
        var info = stat()
        if node.isEmpty {
            guard fstat(directory, &info) == 0 else { return nil }
        } else {
            path.removeAll(keepingCapacity: true)
            path.append(contentsOf: node)
            path.append(0)
            guard withPath({ fstatat(directory, $0, &info, 0) }) == 0 else { return nil }
        }
        return (info.st_mode & S_IFMT) == S_IFDIR ? ManifestMemory.Identity(info) : nil
    }

    private mutating func isIntact(_ group: ManifestMemory.SharedGroup) -> Bool {
        let id = ObjectIdentifier(group)
        if let known = groups[id] { return known.intact }
        let intact = group.isIntact()
        groups[id] = (group, intact)
        return intact
    }

    /// Whether every recorded file (if any are) has its recorded size.
    private mutating func filesMatch<Node: Collection<UInt8>>(_ sizes: [(name: [UInt8], size: Int)]?, node: Node,
                                                              in directory: Int32) -> Bool {
        for (name, size) in sizes ?? [] {
            setPath(node, name)
            if fileSize(in: directory) != size { return false }
        }
        return true
    }

    /// The sizes of a manifest the scan does not read, parsed as JSON (read again to the
    /// end if it does not parse): none recorded for one that still does not parse; nil
    /// if it cannot be read again.
    private mutating func fullyParsed<Node: Collection<UInt8>>(_ bytes: [UInt8], node: Node, in directory: Int32)
        -> (sizes: [(name: [UInt8], size: Int)]?, digests: ManifestDigests)? {
        var recorded = Manifest.recordedSizes(in: bytes)
        var read = bytes
        if recorded == nil {
            setPath(node, Self.manifestName)
            let name = String(decoding: path.dropLast(), as: UTF8.self)
            guard let whole = try? FileSystem.readFile(name, in: directory, path: name) else { return nil }
            recorded = Manifest.recordedSizes(in: whole)
            read = whole
        }
        let digests = recorded?.digests ?? read.withUnsafeBytes { ManifestDigests.unrecorded(manifest: $0) }
        return (recorded?.sizes?.map { (Array($0.0.utf8), $0.1) }, digests)
    }

    /// `node/name` (or `name` alone), NUL-terminated, into `path`.
    private mutating func setPath<Node: Collection<UInt8>, Name: Collection<UInt8>>(_ node: Node, _ name: Name) {
        path.removeAll(keepingCapacity: true)
        if !node.isEmpty {
            path.append(contentsOf: node)
            path.append(UInt8(ascii: "/"))
        }
        path.append(contentsOf: name)
        path.append(0)
    }

    /// `path` as a C string.
    private func withPath<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    private func fileSize(in directory: Int32) -> Int? {
        var info = stat()
        let found = withPath { fstatat(directory, $0, &info, 0) } == 0
        guard found, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// Reads `fd` into `contents` (grown as needed) to the end, taking a short read as the
    /// end, as it is for regular files on local filesystems; -1 on failure.
    private mutating func readAll(_ fd: Int32) -> Int {
        var filled = 0
        while true {
            let wanted = contents.count - filled
            let n = contents.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, wanted) }
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            filled += n
            if n < wanted { return filled }
            contents += [UInt8](repeating: 0, count: contents.count)
        }
    }
}

/// The parent directory of the last node checked, kept open for the next node of the
/// same step (node prefixes are `{base}/{task}/{digest}`).
private struct ParentDirectory {
    private var path: [UInt8] = []
    private var descriptor: Int32 = -1
    /// The parent does not exist: neither do its nodes.
    private var missing = false
    private var opened = false
    private var checker = ManifestChecker()
    var digests: ManifestDigests? { checker.digests }

    /// `recalled`: the directory's ManifestMemory record, if looked up already.
    mutating func manifestState(of directory: String, verify: CacheVerification,
                                recalled: ManifestMemory.Record?? = nil) -> ManifestState {
        // On the path's bytes in place: a cache check of a large plan does this per node.
        var text = directory
        return text.withUTF8 { manifestState(of: $0, verify: verify, key: directory, recalled: recalled) }
    }

    private mutating func manifestState(of bytes: UnsafeBufferPointer<UInt8>, verify: CacheVerification,
                                        key directory: String, recalled: ManifestMemory.Record??) -> ManifestState {
        // A path with a NUL byte names no file (the system would read it cut short).
        if bytes.isEmpty || memchr(bytes.baseAddress!, 0, bytes.count) != nil { return .absent }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")), slash != 0, slash + 1 != bytes.count else {
            return checker.state(of: bytes, in: FileSystem.currentDirectory, verify: verify, key: directory,
                                 recalled: recalled)
        }
        let parent = UnsafeBufferPointer(rebasing: bytes[..<slash])
        if !opened || parent.count != path.count || memcmp(parent.baseAddress!, path, parent.count) != 0 {
            close()
            path = Array(parent)
            opened = true
            descriptor = (path + [0]).withUnsafeBufferPointer {
                $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            }
            missing = descriptor < 0 && (errno == ENOENT || errno == ENOTDIR)
        }
        if missing { return .absent }
        guard descriptor >= 0 else {
            return checker.state(of: bytes, in: FileSystem.currentDirectory, verify: verify, key: directory,
                                 recalled: recalled)
        }
        return checker.state(of: UnsafeBufferPointer(rebasing: bytes[(slash + 1)...]), in: descriptor, verify: verify,
                             key: directory, recalled: recalled)
    }

    mutating func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
        opened = false
        missing = false
    }
}

/// A buffer whose disjoint parts are written by different threads.
struct UncheckedBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
