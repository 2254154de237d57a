/// Parses JSON text as Python's `json.loads` does: RFC 8259 plus `NaN`, `Infinity` and
/// `-Infinity`, integers of any size, strings that may hold lone surrogates (from
/// `\u` escapes), a repeated key keeping its first position and last value.
///
/// Nesting is handled with explicit stacks, so no input can exhaust the call stack;
/// nesting beyond `maxDepth` containers is a `.limit` error.
///
/// With `allowLoneSurrogates` false, a string holding a surrogate code point that is not
/// half of a pair (escaped or as bytes) is an error, as in pydantic's reader: plans hold
/// only Unicode text.
///
/// With `reuseRepeats`, an array or object that repeats byte for byte the one last met
/// at the same depth under the same member name is not parsed again but shares its
/// value (see RepeatedContainers): for documents such as plans that repeat large values.
public func parseJSON(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 1000, reuseRepeats: Bool = false,
                      allowLoneSurrogates: Bool = true) throws -> JSONValue {
    guard let base = bytes.baseAddress, bytes.count > 0 else {
        throw MuflowError(.invalidArgument, "Invalid JSON at byte 0: expected a value, found the end of the input")
    }
    var parser = JSONParser(base: base.assumingMemoryBound(to: UInt8.self), end: bytes.count, maxDepth: maxDepth)
    parser.reuseRepeats = reuseRepeats
    parser.allowLoneSurrogates = allowLoneSurrogates
    return try parser.parseDocument()
}

/// Python refuses to make an int of more decimal digits than this (`sys.get_int_max_str_digits()`).
package let pythonIntMaxDigits = 4300

struct JSONParser {
    let p: UnsafePointer<UInt8>
    let end: Int
    private let maxDepth: Int
    var pos = 0

    /// An open container; its elements are appended in place and moved out on close.
    private struct Frame {
        var isObject: Bool
        var values: [JSONValue] = []
        var keys: [JSONString] = []
        /// Where the container's text starts, and its RepeatedContainers slot (or -1).
        var start = 0
        var repeatSlot: Int32 = -1
    }

    private var frames: [Frame] = []
    var reuseRepeats = false
    var allowLoneSurrogates = true
    private var repeats = RepeatedContainers()

    init(base: UnsafePointer<UInt8>, end: Int, maxDepth: Int) {
        self.p = base
        self.end = end
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws -> JSONValue {
        // Python's json.loads accepts bytes that open with a UTF-8 byte order mark.
        if end >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { pos = 3 }
        let value = try parseNested()
        skipWhitespace()
        if pos < end { throw syntax("end of the input after the JSON value (extra data)") }
        return value
    }

    // MARK: - Structure

    /// Parses the one value starting at `pos` (after whitespace); `pos` ends after it.
    mutating func parseNested() throws -> JSONValue {
        nextValue: while true {
            skipWhitespace()
            guard pos < end else { throw syntax("a value") }
            var value: JSONValue
            switch p[pos] {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                let isObject = p[pos] == UInt8(ascii: "{")
                if frames.count >= maxDepth {
                    throw MuflowError(.limit, "JSON nesting deeper than \(maxDepth) levels at byte \(pos)")
                }
                let slot = repeatSlot()
                if slot >= 0, let reused = repeats.reuse(slot, at: pos, in: p, end: end) {
                    pos += reused.length
                    value = reused.value
                } else {
                    let start = pos
                    pos += 1
                    skipWhitespace()
                    if pos < end && p[pos] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        pos += 1
                        value = isObject ? .object(JSONObject()) : .array([])
                    } else {
                        frames.append(Frame(isObject: isObject, start: start, repeatSlot: slot))
                        if isObject { try parseKeyAndColon() }
                        continue nextValue
                    }
                }
            default:
                value = try parseScalar()
            }
            // A value is complete: attach it to its container, closing containers
            // for as long as their closing bracket follows.
            while !frames.isEmpty {
                let top = frames.count - 1
                let isObject = frames[top].isObject
                frames[top].values.append(value)
                skipWhitespace()
                guard pos < end else {
                    throw syntax(isObject ? "',' or '}' after an object value" : "',' or ']' after an array element")
                }
                let c = p[pos]
                if c == UInt8(ascii: ",") {
                    pos += 1
                    if isObject {
                        skipWhitespace()
                        try parseKeyAndColon()
                    }
                    continue nextValue
                }
                if isObject ? c == UInt8(ascii: "}") : c == UInt8(ascii: "]") {
                    pos += 1
                    let frame = frames.removeLast()
                    value = isObject ? .object(JSONObject(keys: frame.keys, values: frame.values)) : .array(frame.values)
                    if frame.repeatSlot >= 0 {
                        repeats.remember(frame.repeatSlot, start: frame.start, length: pos - frame.start, value: value)
                    }
                    continue
                }
                throw syntax(isObject ? "',' or '}' after an object value" : "',' or ']' after an array element")
            }
            return value
        }
    }

    /// The RepeatedContainers slot of a container about to open as a member's value,
    /// or -1 (repeats not reused, or not a member).
    private mutating func repeatSlot() -> Int32 {
        guard reuseRepeats, let top = frames.indices.last, frames[top].isObject else { return -1 }
        return repeats.slot(depth: top + 1, name: frames[top].keys[frames[top].keys.count - 1])
    }

    private mutating func parseKeyAndColon() throws {
        guard pos < end, p[pos] == UInt8(ascii: "\"") else {
            throw syntax("a property name enclosed in double quotes")
        }
        let key = try parseString()
        frames[frames.count - 1].keys.append(key)
        skipWhitespace()
        guard pos < end, p[pos] == UInt8(ascii: ":") else { throw syntax("':' after an object key") }
        pos += 1
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            switch p[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    private func syntax(_ expected: String) -> MuflowError {
        let found: String
        if pos >= end {
            found = "the end of the input"
        } else {
            let b = p[pos]
            found = b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
        }
        return MuflowError(.invalidArgument, "Invalid JSON at byte \(pos): expected \(expected), found \(found)")
    }

    private func failure(_ what: String, at offset: Int) -> MuflowError {
        MuflowError(.invalidArgument, "Invalid JSON at byte \(offset): \(what)")
    }

    // MARK: - Scalars

    private mutating func parseScalar() throws -> JSONValue {
        switch p[pos] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N"): try literal("NaN"); return .double(.nan)
        case UInt8(ascii: "I"): try literal("Infinity"); return .double(.infinity)
        default: throw syntax("a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        guard end - pos >= n, (0..<n).allSatisfy({ p[pos + $0] == w[$0] }) else { throw syntax("a value") }
        pos += n
    }

    mutating func parseString() throws -> JSONString {
        let open = pos
        pos += 1
        let start = pos
        // Fast path: no escapes; bytes are validated and copied once.
        while pos < end {
            let b = p[pos]
            if b == UInt8(ascii: "\"") {
                let s = JSONString(wtf8: Array(UnsafeBufferPointer(start: p + start, count: pos - start)))
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw controlCharacter(b) }
            if b >= 0x80 {
                let n = WTF8.sequenceLength(p, pos, end, allowSurrogates: allowLoneSurrogates)
                if n == 0 { throw failure("invalid UTF-8 byte 0x\(String(b, radix: 16)) in a string", at: pos) }
                pos += n
            } else {
                pos += 1
            }
        }
        guard pos < end else { throw failure("unterminated string starting here", at: open) }
        var out = [UInt8](UnsafeBufferPointer(start: p + start, count: pos - start))
        out.reserveCapacity(out.count + 16)
        while pos < end {
            let b = p[pos]
            switch b {
            case UInt8(ascii: "\""):
                pos += 1
                return JSONString(wtf8: out)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case 0..<0x20:
                throw controlCharacter(b)
            case 0x80...:
                let n = WTF8.sequenceLength(p, pos, end, allowSurrogates: allowLoneSurrogates)
                if n == 0 { throw failure("invalid UTF-8 byte 0x\(String(b, radix: 16)) in a string", at: pos) }
                out.append(contentsOf: UnsafeBufferPointer(start: p + pos, count: n))
                pos += n
            default:
                out.append(b)
                pos += 1
            }
        }
        throw failure("unterminated string starting here", at: open)
    }

    private func controlCharacter(_ b: UInt8) -> MuflowError {
        let hex = String(b, radix: 16)
        return failure("invalid control character U+\(String(repeating: "0", count: 4 - hex.count))\(hex) in a string (escape it)", at: pos)
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws {
        let at = pos
        guard pos + 1 < end else { throw failure("unterminated escape", at: at) }
        let c = p[pos + 1]
        pos += 2
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var cp = try hex4(at: pos, escapeAt: at)
            pos += 4
            // A high surrogate followed by an escaped low one is a single code point.
            if cp >= 0xD800 && cp < 0xDC00 && end - pos >= 6
                && p[pos] == UInt8(ascii: "\\") && p[pos + 1] == UInt8(ascii: "u"),
               let low = try? hex4(at: pos + 2, escapeAt: pos), low >= 0xDC00 && low < 0xE000 {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                pos += 6
            }
            if !allowLoneSurrogates && cp >= 0xD800 && cp < 0xE000 {
                throw failure("lone surrogate escape '\\u\(String(cp, radix: 16))' in a string (not Unicode text)", at: at)
            }
            WTF8.append(cp, to: &out)
        default:
            throw failure("invalid escape '\\\(Character(Unicode.Scalar(c)))'", at: at)
        }
    }

    private func hex4(at i: Int, escapeAt: Int) throws -> UInt32 {
        guard end - i >= 4 else { throw failure("invalid \\uXXXX escape", at: escapeAt) }
        var v: UInt32 = 0
        for k in 0..<4 {
            let b = p[i + k]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - 0x57
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - 0x37
            default: throw failure("invalid \\uXXXX escape", at: escapeAt)
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = pos
        let negative = p[pos] == UInt8(ascii: "-")
        if negative {
            pos += 1
            if pos < end && p[pos] == UInt8(ascii: "I") {
                try literal("Infinity")
                return .double(-.infinity)
            }
        }
        let intStart = pos
        guard pos < end, isDigit(p[pos]) else { throw syntax("a digit") }
        if p[pos] == UInt8(ascii: "0") {
            pos += 1
        } else {
            while pos < end && isDigit(p[pos]) { pos += 1 }
        }
        let intEnd = pos
        var fractionEnd = pos
        if pos + 1 < end && p[pos] == UInt8(ascii: ".") && isDigit(p[pos + 1]) {
            pos += 1
            while pos < end && isDigit(p[pos]) { pos += 1 }
            fractionEnd = pos
        }
        var exponent = 0
        var hasExponent = false
        if pos < end && (p[pos] == UInt8(ascii: "e") || p[pos] == UInt8(ascii: "E")) {
            var i = pos + 1
            var expNegative = false
            if i < end && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) {
                expNegative = p[i] == UInt8(ascii: "-")
                i += 1
            }
            if i < end && isDigit(p[i]) {
                hasExponent = true
                while i < end && isDigit(p[i]) {
                    if exponent < 100_000_000 { exponent = exponent * 10 + Int(p[i] - 0x30) }
                    i += 1
                }
                if expNegative { exponent = -exponent }
                pos = i
            }
        }
        if !hasExponent && fractionEnd == intEnd {
            return try integer(negative: negative, digitsFrom: intStart, to: intEnd)
        }
        return .double(double(from: start, negative: negative, intStart: intStart, intEnd: intEnd,
                              fractionEnd: fractionEnd, exponent: exponent))
    }

    @inline(__always) private func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    private func integer(negative: Bool, digitsFrom start: Int, to stop: Int) throws -> JSONValue {
        let count = stop - start
        if count <= 18 {
            var v = 0
            for i in start..<stop { v = v &* 10 &+ Int(p[i] &- 0x30) }
            return .int(negative ? -v : v)
        }
        if count > pythonIntMaxDigits {
            throw MuflowError(.limit, "Invalid JSON at byte \(start): integer of \(count) digits exceeds the limit (\(pythonIntMaxDigits) digits) for integer string conversion")
        }
        // Accumulate negatively so that Int.min fits.
        var v = 0
        var overflow = false
        for i in start..<stop {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(Int(p[i] &- 0x30))
            if o1 || o2 { overflow = true; break }
            v = s
        }
        if !overflow {
            if negative { return .int(v) }
            if v != Int.min { return .int(-v) }
        }
        let digits = String(decoding: UnsafeBufferPointer(start: p + start, count: count), as: UTF8.self)
        return .bigInt(negative ? "-" + digits : digits)
    }

    private static let exactPowersOfTen: [Double] = (0...22).map { k in
        var x = 1.0
        for _ in 0..<k { x *= 10 }
        return x
    }

    private func double(from start: Int, negative: Bool, intStart: Int, intEnd: Int,
                        fractionEnd: Int, exponent: Int) -> Double {
        // Exact fast path: up to 15 digits and a power of ten up to 1e22 are both exact
        // doubles, so one correctly rounded multiplication or division gives the answer.
        let fractionDigits = fractionEnd > intEnd ? fractionEnd - intEnd - 1 : 0
        let digitCount = (intEnd - intStart) + fractionDigits
        let scale = exponent - fractionDigits
        if digitCount <= 15 && scale >= -22 && scale <= 22 {
            var m = 0
            for i in intStart..<intEnd { m = m * 10 + Int(p[i] - 0x30) }
            if fractionDigits > 0 {
                for i in (intEnd + 1)..<fractionEnd { m = m * 10 + Int(p[i] - 0x30) }
            }
            var x = Double(m)
            x = scale < 0 ? x / JSONParser.exactPowersOfTen[-scale] : x * JSONParser.exactPowersOfTen[scale]
            return negative ? -x : x
        }
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: pos - start), as: UTF8.self)
        // Swift's conversion is correctly rounded and gives ±inf beyond the range, as Python does.
        return Double(text) ?? (negative ? -.infinity : .infinity)
    }
}
