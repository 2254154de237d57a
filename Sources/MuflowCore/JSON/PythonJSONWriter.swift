/// The text of CPython 3.11's `json.dumps(obj, sort_keys=True)` with its other defaults:
/// separators `", "` and `": "`, `ensure_ascii`, floats as `float.__repr__`, `NaN` and
/// `Infinity` allowed. Byte for byte, as content-addressed prefixes hash it.
public enum PythonJSON {
    public static func dumps(_ value: JSONValue, sortKeys: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(value, into: &out, sortKeys: sortKeys)
        return out
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8], sortKeys: Bool = true) {
        switch value {
        case .null: out.appendStaticText("null")
        case .bool(let b): out.appendStaticText(b ? "true" : "false")
        case .int(let i): NumberText.appendDecimal(i, to: &out)
        case .bigInt(let text): out += text.utf8
        case .double(let d): appendDouble(d, to: &out)
        case .string(let s): appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                write(item, into: &out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            let keys = object.keys, values = object.values
            func member(_ k: Int, first: Bool) {
                if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                appendString(keys[k], to: &out)
                out.append(UInt8(ascii: ":"))
                out.append(UInt8(ascii: " "))
                write(values[k], into: &out, sortKeys: sortKeys)
            }
            if sortKeys && !object.keysPresorted && !isSorted(keys) {
                for (n, k) in keys.indices.sorted(by: { keys[$0] < keys[$1] }).enumerated() { member(k, first: n == 0) }
            } else {
                for k in keys.indices { member(k, first: k == 0) }
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func isSorted(_ keys: [JSONString]) -> Bool {
        var k = 1
        while k < keys.count {
            if !(keys[k - 1] < keys[k]) { return false }
            k += 1
        }
        return true
    }

    /// `float.__repr__`, with json's `NaN`, `Infinity` and `-Infinity`.
    package static func appendDouble(_ d: Double, to out: inout [UInt8]) {
        if d.isNaN { out.appendStaticText("NaN"); return }
        if d.isInfinite { out.appendStaticText(d < 0 ? "-Infinity" : "Infinity"); return }
        NumberText.appendFinite(d, style: .python, to: &out)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A string with `ensure_ascii`: every code point outside 0x20...0x7e escaped,
    /// astral ones as a surrogate pair.
    static func appendString(_ s: JSONString, to out: inout [UInt8]) {
        s.utf8.withUnsafeBufferPointer { appendString($0, to: &out) }
    }

    /// A string given as WTF-8 bytes.
    public static func appendString(_ p: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(p, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// The inside of `appendString`, without the quotes.
    public static func appendEscaped(_ p: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var runStart = 0
        var i = 0
        while i < p.count {
            let b = p[i]
            if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i])) }
            if b < 0x80 {
                appendASCIIEscape(b, to: &out)
                i += 1
            } else {
                let (cp, n) = WTF8.decode(p, at: i)
                if cp >= 0x10000 {
                    let v = cp - 0x10000
                    appendUnicodeEscape(0xD800 | v >> 10, to: &out)
                    appendUnicodeEscape(0xDC00 | v & 0x3FF, to: &out)
                } else {
                    appendUnicodeEscape(cp, to: &out)
                }
                i += n
            }
            runStart = i
        }
        if runStart < p.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart...])) }
    }

    /// The escape json (Python's and serde's alike) writes for an ASCII byte that
    /// needs one: the short forms, else `\u00XX`.
    @inline(__always)
    static func appendASCIIEscape(_ b: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        switch b {
        case UInt8(ascii: "\""): out.append(b)
        case UInt8(ascii: "\\"): out.append(b)
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "t"))
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        default:
            out.appendStaticText("u00")
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0xF)])
        }
    }

    @inline(__always)
    private static func appendUnicodeEscape(_ unit: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "u"))
        out.append(hexDigits[Int(unit >> 12 & 0xF)])
        out.append(hexDigits[Int(unit >> 8 & 0xF)])
        out.append(hexDigits[Int(unit >> 4 & 0xF)])
        out.append(hexDigits[Int(unit & 0xF)])
    }
}
