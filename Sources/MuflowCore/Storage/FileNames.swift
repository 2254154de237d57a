/// The naming rules every storage backend enforces, as muflow 0.4.0 states them.
public enum FileNames {
    /// Files only the executor writes: a task can neither create nor replace them.
    public static let protected: Set<String> = ["context.json", "manifest.json"]
    public static let context = "context.json"
    public static let manifest = "manifest.json"
    public static let error = "error.json"

    /// Refuses a name that is empty, absolute, holds a NUL byte, or climbs out of the
    /// storage root once normalised (muflow's test: the normal form starts with "..").
    public static func validate(_ name: String) throws {
        if name.isEmpty { throw MuflowError(.invalidArgument, "Filename must not be empty.") }
        if name.utf8.contains(0) { throw MuflowError(.invalidArgument, "Filename must not contain a NUL byte: '\(name)'") }
        if name.hasPrefix("/") { throw MuflowError(.invalidArgument, "Absolute paths are not allowed: '\(name)'") }
        let normal = normalize(name)
        if normal.hasPrefix("..") || normal.hasPrefix("/") {
            throw MuflowError(.invalidArgument, "Path traversal is not allowed: '\(name)'")
        }
    }

    /// Refuses a protected name (unless the executor writes it) and a second write.
    public static func validateWritable(_ name: String, written: Set<String>, allowProtected: Bool = false) throws {
        try validateWritable(name, alreadyWritten: written.contains(name), allowProtected: allowProtected)
    }

    /// The same, for a caller that keeps the set of names written itself.
    public static func validateWritable(_ name: String, alreadyWritten: Bool, allowProtected: Bool = false) throws {
        if !allowProtected && protected.contains(name) {
            throw MuflowError(.permission, "'\(name)' is a protected file and cannot be written by tasks.")
        }
        if alreadyWritten {
            throw MuflowError(.alreadyExists, "'\(name)' has already been written.  Files can only be written once.")
        }
    }

    /// Refuses a name outside `allowedOutputs` (nil allows any, empty allows none: a
    /// dependency's read-only storage). The executor's own files pass when it writes them.
    public static func validateAllowed(_ name: String, allowedOutputs: Set<String>?, allowProtected: Bool) throws {
        guard let allowedOutputs, !(allowProtected && (protected.contains(name) || name == error)) else { return }
        if allowedOutputs.isEmpty {
            throw MuflowError(.permission, "Attempted to write '\(name)' to a read-only context")
        }
        if !allowedOutputs.contains(name) {
            let declared = allowedOutputs.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw MuflowError(.permission, "Task attempted to write '\(name)' but only [\(declared)] are declared in outputs")
        }
    }

    /// POSIX `os.path.normpath`: collapses "//", "." and "a/.." without touching the disk.
    public static func normalize(_ path: String) -> String {
        if path.isEmpty { return "." }
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if part == "..", absolute {
                continue
            } else {
                parts.append(part)
            }
        }
        let body = parts.joined(separator: "/")
        if absolute { return "/" + body }
        return body.isEmpty ? "." : body
    }
}
