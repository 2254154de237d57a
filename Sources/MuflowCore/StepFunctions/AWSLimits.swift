/// The quotas of AWS Step Functions that a generated state machine must respect
/// (standard workflows; AWS's documented hard limits).
public struct AWSLimits: Sendable, Equatable {
    /// The largest state machine definition, in bytes of its JSON text.
    public var definitionBytes: Int
    /// The largest input or output of a state (and of an execution), in bytes.
    public var payloadBytes: Int
    /// The most events one standard execution's history may hold.
    public var historyEvents: Int

    public static let aws = AWSLimits(definitionBytes: 1_048_576, payloadBytes: 262_144, historyEvents: 25_000)

    public init(definitionBytes: Int, payloadBytes: Int, historyEvents: Int) {
        self.definitionBytes = definitionBytes
        self.payloadBytes = payloadBytes
        self.historyEvents = historyEvents
    }

    /// Refuses `machine` if any measure exceeds its limit, naming each such limit and by
    /// how much it is exceeded.
    public func check(_ machine: StateMachine) throws {
        var excesses: [String] = []
        if machine.definitionBytes > definitionBytes {
            excesses.append("its definition is \(grouped(machine.definitionBytes)) bytes, over the "
                + "\(grouped(definitionBytes))-byte definition limit by \(grouped(machine.definitionBytes - definitionBytes)) bytes")
        }
        if machine.historyEvents > historyEvents {
            excesses.append("its worst-case execution history is \(grouped(machine.historyEvents)) events, over the "
                + "\(grouped(historyEvents))-event history limit by \(grouped(machine.historyEvents - historyEvents)) events")
        }
        if machine.largestPayloadBytes > payloadBytes {
            excesses.append("its largest state payload is \(grouped(machine.largestPayloadBytes)) bytes, over the "
                + "\(grouped(payloadBytes))-byte payload limit by \(grouped(machine.largestPayloadBytes - payloadBytes)) bytes")
        }
        guard excesses.isEmpty else {
            throw MuflowError(.limit, "The plan cannot run on AWS Step Functions: "
                + excesses.joined(separator: "; ") + ".")
        }
    }
}

/// 1234567 as "1,234,567".
func grouped(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    var out = ""
    for (i, digit) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(digit)
    }
    return n < 0 ? "-" + out : out
}
