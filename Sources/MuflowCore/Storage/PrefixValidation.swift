/// The rules that keep a node's storage prefix, `{base}/{label}/{digest}`, inside its base.
///
/// `ContentPrefix` stays a pure function of its inputs (muflow's `compute_prefix`, byte for
/// byte); the rules apply where a prefix becomes a place: a task name when it is
/// registered or named by a step, each node's label when a plan is built, and a prefix
/// when a storage resolves it under a base directory. A plan's base prefix is the
/// caller's choice, as in muflow: absolute, relative, even empty (which makes prefixes
/// absolute at the filesystem root).
public enum PrefixValidation {
    /// A task name names a directory of every prefix of its nodes: one or more path
    /// components, none of them "." or "..", not absolute, no NUL byte. Dotted names
    /// (`pkg.module.task`) and names with inner '/' (`group/task`) are fine.
    public static func validateTaskName(_ name: JSONString, step: JSONString? = nil) throws {
        let bytes = name.utf8
        let ofStep = step.map { " of step \(quoted($0.utf8))" } ?? ""
        if bytes.isEmpty {
            throw MuflowError(.invalidArgument, "task name\(ofStep) must not be empty: it names a directory of the storage prefix")
        }
        let subject = "task name \(quoted(bytes))\(ofStep)"
        if bytes.contains(0) {
            throw MuflowError(.invalidArgument, "\(subject) must not contain a NUL byte")
        }
        if bytes[0] == slash {
            throw MuflowError(.invalidArgument, "\(subject) must not start with '/': it names a directory inside the base prefix")
        }
        if let component = dotComponent(bytes, includingSingleDot: true) {
            throw MuflowError(.invalidArgument,
                              "\(subject) must not have a '\(component)' path component: it names a directory inside the base prefix")
        }
    }

    /// Every node's label (the middle of `{base}/{label}/{digest}`: its task name, or the
    /// value of a "task" kwarg, or the pipeline's name for a sentinel) must not climb out
    /// of the base through a ".." component. Only ".." is refused here: a label is data as
    /// well as a name (muflow labels by `str(kwargs["task"])`), and anything else stays
    /// inside the base.
    public static func validateLabels(of plan: TaskPlan, basePrefix: JSONString) throws {
        let start = basePrefix.utf8.count + 1
        let trailer = digestLength + 1
        // The nodes of a step mostly share their label: a node's label is first
        // compared with the last one found fine, byte for byte.
        var lastFine: Int?
        try plan.nodes.withUnsafeBufferPointer { nodes in
            for node in nodes.indices {
                let fine = nodes[node].storagePrefix.utf8.withUnsafeBufferPointer { prefix -> Bool in
                    guard prefix.count >= start + trailer else { return true }
                    let label = UnsafeBufferPointer(rebasing: prefix[start..<(prefix.count - trailer)])
                    if let lastFine, nodes[lastFine].storagePrefix.utf8.withUnsafeBufferPointer({ last in
                        last.count == prefix.count && label.elementsEqual(last[start..<(last.count - trailer)])
                    }) {
                        return true
                    }
                    return dotComponent(label, includingSingleDot: false) == nil
                }
                guard fine else {
                    let prefix = nodes[node].storagePrefix.utf8
                    let label = prefix[start..<(prefix.count - trailer)]
                    throw MuflowError(.invalidArgument,
                                      "the label \(quoted(label)) of a node of task '\(nodes[node].function)' has a '..' path component: its storage prefix \(quoted(prefix)) would climb out of the base prefix \(quoted(basePrefix.utf8)) (the label is the task name, or the node's \"task\" kwarg)")
                }
                lastFine = node
            }
        }
    }

    /// A prefix resolved under a base directory (`base/prefix`) must stay inside it:
    /// not empty, not absolute, no ".." component, no NUL byte.
    public static func validateRelativePrefix(_ prefix: String, base: String) throws {
        let bytes = Array(prefix.utf8)
        if bytes.isEmpty {
            throw MuflowError(.invalidArgument, "storage prefix must not be empty (base directory '\(base)')")
        }
        if bytes.contains(0) {
            throw MuflowError(.invalidArgument, "storage prefix \(quoted(bytes)) must not contain a NUL byte")
        }
        if bytes[0] == slash {
            throw MuflowError(.invalidArgument,
                              "storage prefix \(quoted(bytes)) is absolute: it would not be inside the base directory '\(base)' (an empty base_prefix makes prefixes absolute)")
        }
        if dotComponent(bytes, includingSingleDot: false) != nil {
            throw MuflowError(.invalidArgument,
                              "storage prefix \(quoted(bytes)) has a '..' path component: it would climb out of the base directory '\(base)'")
        }
    }

    private static let slash = UInt8(ascii: "/")
    private static let digestLength = 16
    private static let dot = UInt8(ascii: ".")

    /// ".." (or "." when asked) if it is one of the '/'-separated components of `bytes`.
    static func dotComponent<Bytes: Collection<UInt8>>(_ bytes: Bytes, includingSingleDot: Bool) -> String? {
        var found: String?
        for component in bytes.split(separator: slash, omittingEmptySubsequences: true) {
            if component.elementsEqual([dot, dot]) { return ".." }
            if includingSingleDot && component.elementsEqual([dot]) { found = "." }
        }
        return found
    }

    /// A name for a message: quoted, with a NUL byte or invalid UTF-8 made visible.
    static func quoted<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        var text = String(decoding: Array(bytes), as: UTF8.self)
        if text.contains("\0") { text = text.replacingNUL() }
        return "'\(text)'"
    }
}

private extension String {
    func replacingNUL() -> String {
        var out = ""
        for scalar in unicodeScalars { out += scalar == "\0" ? "\\0" : String(scalar) }
        return out
    }
}

extension LocalStorage {
    /// The storage of `prefix` inside the directory `base` (`base/prefix`), after checking
    /// that the prefix stays inside it (`PrefixValidation.validateRelativePrefix`).
    public convenience init(base: String, prefix: String, allowedOutputs: Set<String>? = nil,
                            durable: Bool = false) throws {
        guard !base.isEmpty else { throw MuflowError(.invalidArgument, "base directory must not be empty") }
        guard !base.utf8.contains(0) else { throw MuflowError(.invalidArgument, "base directory must not contain a NUL byte") }
        try PrefixValidation.validateRelativePrefix(prefix, base: base)
        let root = base.hasSuffix("/") ? base + prefix : base + "/" + prefix
        try self.init(root: root, allowedOutputs: allowedOutputs, durable: durable)
    }
}
