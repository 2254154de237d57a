/// The most history events each kind of state adds to a standard execution, counted
/// from the event types AWS records (the worst case: every retry taken).
enum HistoryEvents {
    /// ExecutionStarted and ExecutionSucceeded (or Failed).
    static let execution = 2
    /// The retries of a Lambda task (muflow's policy: Lambda's own service errors).
    static let taskRetries = 3
    /// TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded (or Failed),
    /// TaskStateExited, plus TaskScheduled, TaskStarted and TaskFailed for each retry.
    static let task = 5 + 3 * taskRetries
    /// PassStateEntered, PassStateExited.
    static let pass = 2
    /// SucceedStateEntered, SucceedStateExited.
    static let succeed = 2
    /// ParallelStateEntered, ParallelStateStarted, ParallelStateSucceeded,
    /// ParallelStateExited; each branch adds its own states.
    static let parallel = 4
    /// MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited.
    static let inlineMap = 4
    /// MapIterationStarted and MapIterationSucceeded around each item's states.
    static let inlineIteration = 2
    /// MapStateEntered, MapStateStarted, MapRunStarted, MapRunSucceeded,
    /// MapStateSucceeded, MapStateExited. The items run as child executions, each with
    /// a history of its own (`execution` + `task`).
    static let distributedMap = 6
}
