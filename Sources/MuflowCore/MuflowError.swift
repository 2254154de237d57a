/// Every failure the engine reports: a kind that callers branch on and a message that
/// names the culprit (the key path, the step, the file).
public struct MuflowError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Malformed or unacceptable input (bad JSON, a bad name, a value out of range).
        case invalidArgument
        case notFound
        case alreadyExists
        /// A protected file, or a write outside what a task may write.
        case permission
        /// A dependency cycle, in steps or in plan nodes.
        case cycle
        case io
        case taskFailed
        case cancelled
        /// A value that the JSON data model cannot represent (Python's TypeError).
        case type
        /// A size or depth limit.
        case limit
        /// A plan needs tasks that are not registered.
        case missingTask
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
