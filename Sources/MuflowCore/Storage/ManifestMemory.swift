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
        /// The manifest's fingerprints, for the cache check of inputs.
        let digests: ManifestDigests
        /// For a node of a SharedGroup: the group, and the identity of the node's
        /// directory once its manifest was in place.
        var group: SharedGroup? = nil
        var directory: Identity? = nil
    }

    /// Nodes that this process finished together, each listing only its context.json,
    /// whose manifest.json names are all one file and whose context.json names are all
    /// one file (hard links; see SharedManifests). Checking such a node needs a stat of
    /// its directory, and the two files are checked once for the whole group:
    /// - a name removed or replaced anywhere lowers a file's link count (and the node's
    ///   directory changes),
    /// - a name renamed within or out of a node's directory changes that directory's
    ///   modification time (from one clock tick to the next on filesystems without
    ///   fine-grained timestamps: as for a manifest rewritten in place, a change within
    ///   the tick of the recording itself would go unseen),
    /// - a file written in place changes its identity, for every node at once,
    /// - a node directory moved or replaced is not found, or has another identity.
    /// Any difference sends the node through the ordinary check.
    final class SharedGroup: Sendable {
        let manifest: Identity
        let manifestLinks: Int
        let context: Identity
        let contextLinks: Int
        /// A member's directory, through which the two files are checked.
        let probe: String

        init(manifest: Identity, manifestLinks: Int, context: Identity, contextLinks: Int, probe: String) {
            self.manifest = manifest
            self.manifestLinks = manifestLinks
            self.context = context
            self.contextLinks = contextLinks
            self.probe = probe
        }

        /// Whether both files still have their identity and link count (two stats).
        func isIntact() -> Bool {
            Self.matches(probe + "/" + FileNames.manifest, manifest, manifestLinks)
                && Self.matches(probe + "/" + FileNames.context, context, contextLinks)
        }

        private static func matches(_ path: String, _ identity: Identity, _ links: Int) -> Bool {
            var info = stat()
            return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && Identity(info) == identity
                && Int(info.st_nlink) == links
        }
    }

    /// Records past this many are dropped all at once, to bound the memory they take.
    static let capacity = 250_000
    private static let records = Locked<[String: Record]>([:])

    static func remember(_ directory: String, _ identity: Identity, sizes: [(name: [UInt8], size: Int)]?,
                         digests: ManifestDigests) {
        let record = Record(identity: identity, sizes: sizes, digests: digests)
        records.withLock { records in
            if records.count >= capacity && records[directory] == nil { records.removeAll() }
            records[directory] = record
        }
    }

    static func remember(_ batch: [(directory: String, record: Record)]) {
        guard !batch.isEmpty else { return }
        records.withLock { records in
            if records.count + batch.count > capacity { records.removeAll() }
            for (directory, record) in batch { records[directory] = record }
        }
    }

    /// The records of several directories, under one lock.
    static func recall(_ directories: ArraySlice<String>) -> [Record?] {
        records.withLock { records in directories.map { records[$0] } }
    }

    static func recall(_ directory: String) -> Record? {
        records.withLock { $0[directory] }
    }

    static func forgetAll() {
        records.withLock { $0.removeAll() }
    }
}
