import Glibc

/// An exclusive lock on a node's directory (flock on the directory itself), held while
/// the node runs, so that processes running the same plan on the same base path execute
/// each node once. The kernel drops the lock when its holder exits, however it exits,
/// so a crashed run leaves nothing stale behind and no file is added to the directory.
public final class NodeClaim: Sendable {
    private let descriptor: Int32

    /// Waits until no other process or thread holds `directory` (which must exist),
    /// then holds it until `release`.
    public init(directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.failure("cannot open directory", directory) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            throw FileSystem.failure("cannot lock directory", directory, code)
        }
        descriptor = fd
    }

    public func release() {
        close(descriptor)
    }
}
