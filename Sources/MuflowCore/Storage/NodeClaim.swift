import Glibc

/// An exclusive lock on a node's directory (flock on the directory itself), held while
/// the node runs, so that processes running the same plan on the same base path execute
/// each node once. The kernel drops the lock when its holder exits, however it exits,
/// so a crashed run leaves nothing stale behind and no file is added to the directory.
/// The open directory also serves the run's file operations on the node
/// (`FileSystem`'s `in directory:` forms).
public final class NodeClaim: Sendable {
    /// The node's directory, open for as long as the claim is held.
    let descriptor: Int32

    /// Waits until no other process or thread holds `directory` (which must exist),
    /// then holds it until `release`.
    public convenience init(directory: String) throws {
        let fd = try Self.open(directory)
        try self.init(descriptor: fd, directory: directory, wait: true)
    }

    private init(descriptor fd: Int32, directory: String, wait: Bool) throws {
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw Busy() }
            throw FileSystem.failure("cannot lock directory", directory, code)
        }
        descriptor = fd
    }

    /// The claim of the directory `name` inside the open `parent` (`path` names it in
    /// errors), or nil when `wait` is false and another holder has it.
    static func acquire(_ name: String, in parent: Int32, path: String, wait: Bool) throws -> NodeClaim? {
        let fd = try open(name, in: parent, path: path)
        do {
            return try NodeClaim(descriptor: fd, directory: path, wait: wait)
        } catch is Busy {
            return nil
        }
    }

    private static func open(_ name: String, in parent: Int32 = FileSystem.currentDirectory, path: String? = nil) throws -> Int32 {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.failure("cannot open directory", path ?? name) }
        return fd
    }

    private struct Busy: Error {}

    public func release() {
        close(descriptor)
    }
}
