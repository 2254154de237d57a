import Glibc

/// The manifests of the nodes a run finishes together. A node that wrote the same
/// files as one before it in the list (typically a context.json and nothing else)
/// takes that node's manifest.json as a hard link: one file written for many. Each node
/// still gets its manifest atomically, whole, after the files it lists; they share the
/// timestamp of the first, written once all their tasks had ended. Storages that sync
/// to the disk write their own. The nodes' claims must be held until `remember`.
struct SharedManifests {
    /// The most manifests with different files that one list shares.
    static let kinds = 4

    private struct Kind {
        let files: [String: Manifest.Entry]
        let inputs: Fingerprint
        let digests: ManifestDigests
        /// The claimed directory of the node whose manifest the others link to.
        let directory: Int32
        let identity: ManifestMemory.Identity
        let sizes: [(name: [UInt8], size: Int)]
        /// The inode of that node's context.json, when the run knows it.
        let context: UInt64?
        /// Nodes with this manifest and that context.json, listing nothing else: their
        /// place in `records` and their directory's identity.
        var members: [(record: Int, directory: ManifestMemory.Identity)] = []
    }

    private var kinds: [Kind] = []
    private var records: [(directory: String, record: ManifestMemory.Record)] = []

    /// Writes or links the manifest of `storage`, whose directory `directory` is
    /// claimed, recording the node's `inputs`; returns the manifest's digests.
    /// `context`: the inode of its context.json, if the run knows it.
    mutating func write(_ storage: LocalStorage, in directory: Int32, context: UInt64?,
                        inputs: NodeInputs) throws -> ManifestDigests {
        let files = storage.completedFiles()
        if storage.durable {
            return try storage.writeManifest(files: files, inputs: inputs, in: directory).digests
        }
        let same = { (kind: Kind) in kind.inputs == inputs.digest && kind.files == files }
        var kind = kinds.firstIndex(where: same)
        let record: ManifestMemory.Record
        if let k = kind,
           FileSystem.link(FileNames.manifest, in: kinds[k].directory, as: FileNames.manifest, in: directory) == .linked {
            record = ManifestMemory.Record(identity: kinds[k].identity, sizes: kinds[k].sizes, digests: kinds[k].digests)
        } else {
            let (identity, digests) = try storage.writeManifest(files: files, inputs: inputs, in: directory,
                                                                remember: false)
            guard let written = identity else { return digests }
            record = ManifestMemory.Record(identity: written, sizes: LocalStorage.recordedSizes(files), digests: digests)
            kind = nil
            if kinds.count < Self.kinds && !kinds.contains(where: same) {
                kinds.append(Kind(files: files, inputs: inputs.digest, digests: digests, directory: directory,
                                  identity: written, sizes: record.sizes ?? [], context: context))
                kind = kinds.count - 1
            }
        }
        records.append((storage.root, record))
        var info = stat()
        if let k = kind, let context, kinds[k].context == context, files.keys.elementsEqual([FileNames.context]),
           fstat(directory, &info) == 0 {
            kinds[k].members.append((records.count - 1, ManifestMemory.Identity(info)))
        }
        return record.digests
    }

    /// Records every manifest written in the ManifestMemory, as a SharedGroup for the
    /// nodes that share both their files.
    mutating func remember() {
        for kind in kinds where kind.members.count > 1 {
            guard let group = group(of: kind) else { continue }
            for member in kind.members {
                records[member.record].record.group = group
                records[member.record].record.directory = member.directory
            }
        }
        ManifestMemory.remember(records)
        records = []
    }

    /// The group of a kind's members, as its two files stand now that every member
    /// has them, if they are still the run's.
    private func group(of kind: Kind) -> ManifestMemory.SharedGroup? {
        let probe = records[kind.members[0].record].directory
        var manifest = stat()
        var context = stat()
        guard fstatat(kind.directory, FileNames.manifest, &manifest, AT_SYMLINK_NOFOLLOW) == 0,
              ManifestMemory.Identity(manifest) == kind.identity,
              fstatat(kind.directory, FileNames.context, &context, AT_SYMLINK_NOFOLLOW) == 0,
              (context.st_mode & S_IFMT) == S_IFREG, UInt64(context.st_ino) == kind.context else { return nil }
        return ManifestMemory.SharedGroup(manifest: kind.identity, manifestLinks: Int(manifest.st_nlink),
                                          context: ManifestMemory.Identity(context), contextLinks: Int(context.st_nlink),
                                          probe: probe)
    }
}
