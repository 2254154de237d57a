import Glibc

/// The sizes recorded by the manifests this process wrote or read, by node directory,
/// with the identity of the manifest file they came from (device, inode, size and
/// modification time). A manifest whose file still has that identity has not changed,
/// so checking a node again needs a stat of its manifest instead of a read and a
/// parse; the files it records are still checked against their sizes every time. A
/// manifest is replaced by a rename (a new inode) and any write changes its
/// modification time, so a changed manifest is read again.
enum ManifestMemory {
    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int
        let modified: Int

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int(info.st_size)
            modified = Int(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(info.st_mtim.tv_nsec)
        }
    }

    struct Record {
        let identity: Identity
        /// Each recorded file's name (UTF-8) and size; nil for a manifest that records no
        /// sizes (muflow's own).
        let sizes: [(name: [UInt8], size: Int)]?
    }

    /// Records past this many are dropped all at once, to bound the memory they take.
    static let capacity = 250_000
    private static let records = Locked<[String: Record]>([:])

    static func remember(_ directory: String, _ identity: Identity, sizes: [(name: [UInt8], size: Int)]?) {
        let record = Record(identity: identity, sizes: sizes)
        records.withLock { records in
            if records.count >= capacity && records[directory] == nil { records.removeAll() }
            records[directory] = record
        }
    }

    static func recall(_ directory: String) -> Record? {
        records.withLock { $0[directory] }
    }

    static func forgetAll() {
        records.withLock { $0.removeAll() }
    }
}
