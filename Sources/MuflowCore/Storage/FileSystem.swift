import Glibc

/// The few POSIX file operations storage needs, with errno turned into MuflowError.
enum FileSystem {
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func failure(_ what: String, _ path: String, _ code: Int32 = errno) -> MuflowError {
        let kind: MuflowError.Kind = switch code {
        case EEXIST: .alreadyExists
        case EACCES, EPERM: .permission
        default: .io
        }
        return MuflowError(kind, "\(what) '\(path)': \(errorText(code))")
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The size of a regular file, or nil if there is none.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o777) != 0 && errno != EEXIST {
            throw failure("cannot create directory", path)
        }
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes `bytes` to a temporary sibling of `path`, then renames it into place (see
    /// `writeAtomically(_:in:path:_:durable:syncData:)`).
    static func writeAtomically(_ path: String, _ bytes: UnsafeRawBufferPointer, durable: Bool,
                                syncData: Bool = false) throws {
        try writeAtomically(path, in: currentDirectory, path: path, bytes, durable: durable, syncData: syncData)
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open directory", path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw failure("cannot sync directory", path) }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        try readFile(path, in: currentDirectory, path: path)
    }

    static func readFile(_ name: String, in directory: Int32, path: String) throws -> [UInt8] {
        let fd = openat(directory, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path) }
        defer { close(fd) }
        var info = stat()
        let expected = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        var bytes = [UInt8](repeating: 0, count: max(expected, 4096))
        var filled = 0
        while true {
            if filled == bytes.count { bytes += [UInt8](repeating: 0, count: bytes.count) }
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", path)
            }
            if n == 0 { break }
            filled += n
        }
        bytes.removeSubrange(filled...)
        return bytes
    }
}

/// Unique suffixes for temporary files within this process.
enum TemporaryNames {
    private static let counter = AtomicCounter()
    static func next() -> Int { counter.increment() }
}

extension FileSystem {
    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw failure("cannot sync", path) }
    }

    static func removeIfPresent(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw failure("cannot remove", path) }
    }
}
