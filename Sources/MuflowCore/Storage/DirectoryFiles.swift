import Glibc

/// File operations on a name inside an open directory (openat and friends). A run holds
/// each running node's directory open for its claim, and a cache check holds a step's
/// directory open for all its nodes, so the kernel resolves a short name instead of the
/// whole path. Pass `FileSystem.currentDirectory` to use an ordinary path as the name.
/// `path` (the full path) only names the file in error messages.
extension FileSystem {
    static let currentDirectory: Int32 = AT_FDCWD

    static func exists(_ name: String, in directory: Int32) -> Bool {
        faccessat(directory, name, F_OK, 0) == 0
    }

    /// The size of a regular file, or nil if there is none.
    static func fileSize(_ name: String, in directory: Int32) -> Int? {
        var info = stat()
        guard fstatat(directory, name, &info, 0) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// The inode of the regular file `name` (not followed if it is a symlink), or nil.
    static func inode(of name: String, in directory: Int32) -> UInt64? {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            return nil
        }
        return UInt64(info.st_ino)
    }

    /// `mkdir` of `name` in `directory`, fine if it exists; for the current directory,
    /// missing parents are created when the first attempt finds one missing.
    static func makeDirectory(_ name: String, in directory: Int32, path: String) throws {
        if mkdirat(directory, name, 0o777) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, directory == currentDirectory else { throw failure("cannot create directory", path) }
        try makeDirectories(parentDirectory(of: name))
        if mkdirat(directory, name, 0o777) != 0 && errno != EEXIST { throw failure("cannot create directory", path) }
    }

    /// Writes `bytes` to a temporary sibling of `name`, then renames it into place, so a
    /// reader (or a crash) sees either no file or the whole file. With `durable`, the
    /// data and the directory entry reach the disk before this returns; with `syncData`
    /// alone, the data does before the rename.
    /// With `identify`, returns the identity of the file written.
    @discardableResult
    static func writeAtomically(_ name: String, in directory: Int32, path: String, _ bytes: UnsafeRawBufferPointer,
                                durable: Bool, syncData: Bool = false,
                                identify: Bool = false) throws -> ManifestMemory.Identity? {
        var written = stat()
        let suffix = ".tmp-\(getpid())-\(TemporaryNames.next())"
        let temporary = name + suffix
        let fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw failure("cannot create", path + suffix) }
        do {
            try withUnsafeMutablePointer(to: &written) { status in
                try writeAll(fd, bytes, path: path + suffix, sync: durable || syncData, status: identify ? status : nil)
            }
            if renameat(directory, temporary, directory, name) != 0 { throw failure("cannot rename into", path) }
        } catch {
            unlinkat(directory, temporary, 0)
            throw error
        }
        if durable { try syncDirectory(parentDirectory(of: path)) }
        return identify ? ManifestMemory.Identity(written) : nil
    }

    /// Creates `name` holding `bytes`, unless an entry of that name exists (a symlink
    /// counts, and is not followed): then nothing is written and the answer is false.
    /// For a file that nothing reads before a later atomic step makes it count (a node's
    /// context.json, before its manifest): a crash part-way leaves a file that the next
    /// run replaces.
    static func createFile(_ name: String, in directory: Int32, path: String, _ bytes: UnsafeRawBufferPointer,
                           durable: Bool) throws -> Bool {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw failure("cannot create", path)
        }
        do {
            try writeAll(fd, bytes, path: path, sync: durable)
        } catch {
            unlinkat(directory, name, 0)
            throw error
        }
        return true
    }

    /// Writes all of `bytes` to `fd` and closes it (also when throwing); `status`, if
    /// given, receives the file's status before it is closed.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String, sync: Bool,
                                 status: UnsafeMutablePointer<stat>? = nil) throws {
        var closed = false
        defer { if !closed { close(fd) } }
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write", path)
            }
            offset += n
        }
        if sync && fsync(fd) != 0 { throw failure("cannot sync", path) }
        if let status, fstat(fd, status) != 0 { throw failure("cannot stat", path) }
        closed = true
        if close(fd) != 0 { throw failure("cannot close", path) }
    }

    enum LinkOutcome {
        case linked
        /// `name` exists already; nothing was done.
        case exists
        /// The filesystem, or the source, does not allow it (no hard links, too many
        /// links, another filesystem, the source gone).
        case unavailable
    }

    /// Makes `name` in `directory` a second name of the file `source` in
    /// `sourceDirectory` (a hard link: neither name is followed if it is a symlink).
    static func link(_ source: String, in sourceDirectory: Int32, as name: String, in directory: Int32) -> LinkOutcome {
        if linkat(sourceDirectory, source, directory, name, 0) == 0 { return .linked }
        return errno == EEXIST ? .exists : .unavailable
    }

    static func syncDirectory(_ directory: Int32, path: String) throws {
        if fsync(directory) != 0 { throw failure("cannot sync directory", path) }
    }

    static func removeIfPresent(_ name: String, in directory: Int32, path: String) throws {
        if unlinkat(directory, name, 0) != 0 && errno != ENOENT { throw failure("cannot remove", path) }
    }
}
