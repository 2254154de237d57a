/// A generated Amazon States Language definition and what it costs under AWS's limits.
public struct StateMachine: Sendable {
    /// The definition's JSON text, as it is sent to AWS.
    public var definition: [UInt8]
    /// The most events one execution's history can hold (see HistoryEvents).
    public var historyEvents: Int
    /// The largest input or output of any state, in bytes.
    public var largestPayloadBytes: Int
    /// Files the definition reads with a Distributed Map's ItemReader: each must be
    /// stored (key, JSON text) before an execution starts.
    public var itemFiles: [(key: String, body: [UInt8])]
    /// How many Map states run their items inline and how many as child executions.
    public var inlineMaps: Int
    public var distributedMaps: Int
    /// The number of nodes the definition runs (cached nodes are left out).
    public var nodesRun: Int

    public var definitionBytes: Int { definition.count }
}

/// Where the definition's Lambda tasks run and what they are given.
public struct StateMachineTarget: Sendable {
    /// The Lambda function that runs one node (create_lambda_handler).
    public var functionArn: String
    /// The bucket holding the nodes' storage (and, for the compact layout, the plan).
    public var bucket: String
    public var comment: String?

    public init(functionArn: String, bucket: String, comment: String? = nil) {
        self.functionArn = functionArn
        self.bucket = bucket
        self.comment = comment
    }
}

/// Small builders for the definition's JSON.
enum ASL {
    static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(JSONObject(pairs.map { (JSONString($0.0), $0.1) }))
    }

    static func string(_ text: String) -> JSONValue { .string(JSONString(text)) }

    /// muflow's retry policy: Lambda's own service errors, three more attempts.
    static let retry: JSONValue = .array([object([
        ("ErrorEquals", .array(["Lambda.ServiceException", "Lambda.AWSLambdaException",
                                "Lambda.SdkClientException", "Lambda.TooManyRequestsException"].map(string))),
        ("IntervalSeconds", .int(2)),
        ("MaxAttempts", .int(HistoryEvents.taskRetries)),
        ("BackoffRate", .double(2.0)),
    ])])

    /// A Task state invoking `target`'s function with `payload`, its result discarded.
    static func lambdaTask(_ target: StateMachineTarget, payload: (String, JSONValue)) -> [(String, JSONValue)] {
        [
            ("Type", string("Task")),
            ("Resource", string("arn:aws:states:::lambda:invoke")),
            ("Parameters", object([("FunctionName", string(target.functionArn)), payload])),
            ("ResultPath", .null),
            ("Retry", retry),
        ]
    }

    /// The states chained in order, the last one ending the execution.
    static func chain(_ states: [(name: String, state: [(String, JSONValue)])], comment: String) -> JSONValue {
        var linked: [(String, JSONValue)] = []
        for (i, entry) in states.enumerated() {
            let link: (String, JSONValue) = i + 1 < states.count ? ("Next", string(states[i + 1].name)) : ("End", .bool(true))
            linked.append((entry.name, object(entry.state + [link])))
        }
        return object([("Comment", string(comment)), ("StartAt", string(states[0].name)), ("States", object(linked))])
    }

    static func text(_ value: JSONValue) throws -> [UInt8] {
        try CompactJSON.text(value)
    }
}
