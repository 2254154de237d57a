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
        var text: [UInt8] = []
        text.reserveCapacity(32)
        append(Int(parts.tm_year) + 1900, width: 4, to: &text)
        for (separator, value) in [(UInt8(ascii: "-"), parts.tm_mon + 1), (UInt8(ascii: "-"), parts.tm_mday),
                                   (UInt8(ascii: "T"), parts.tm_hour), (UInt8(ascii: ":"), parts.tm_min),
                                   (UInt8(ascii: ":"), parts.tm_sec)] {
            text.append(separator)
            append(Int(value), width: 2, to: &text)
        }
        if micros != 0 {
            text.append(UInt8(ascii: "."))
            append(micros, width: 6, to: &text)
        }
        text += "+00:00".utf8
        return String(decoding: text, as: UTF8.self)
    }

    /// `n` in decimal, zero-padded to at least `width` digits.
    private static func append(_ n: Int, width: Int, to text: inout [UInt8]) {
        let digits = Array(String(n).utf8)
        text += repeatElement(UInt8(ascii: "0"), count: max(0, width - digits.count))
        text += digits
    }
}
