import Glibc

/// The directories that hold a run's node directories (`{base}/{task}` for prefixes
/// `{base}/{task}/{digest}`), each created if needed and opened once for the whole run:
/// a node's directory is then created and opened by its short name. Thread-safe.
final class StepDirectories: Sendable {
    private let opened = Locked<[String: Int32]>([:])

    deinit {
        opened.withLock { $0.values.forEach { close($0) } }
    }

    /// `directory` split into its open parent and its last name, or nil for a path
    /// without a separate last name (no '/', or one ending in '/', ".", "..").
    func split(_ directory: String) throws -> (parent: Int32, name: String)? {
        let bytes = directory.utf8
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")), slash != bytes.startIndex else { return nil }
        let name = String(directory[bytes.index(after: slash)...])
        guard !name.isEmpty, name != ".", name != ".." else { return nil }
        return (try descriptor(of: String(directory[..<slash])), name)
    }

    private func descriptor(of parent: String) throws -> Int32 {
        if let fd = opened.withLock({ $0[parent] }) { return fd }
        try FileSystem.makeDirectories(parent)
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.failure("cannot open directory", parent) }
        return opened.withLock { opened in
            if let existing = opened[parent] {
                close(fd)
                return existing
            }
            opened[parent] = fd
            return fd
        }
    }
}
