import Glibc

/// The current time as Python's `datetime.now(timezone.utc).isoformat()` writes it:
/// `2026-11-27T03:04:05.123456+00:00` (microseconds omitted when zero).
enum UTCTimestamp {
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let micros = Int(spec.tv_nsec / 1000)
        var text = "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))"
        text += "T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
        if micros != 0 { text += "." + pad(micros, width: 6) }
        return text + "+00:00"
    }

    private static func pad<N: BinaryInteger>(_ n: N, width: Int = 2) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
