/// The compact text pydantic v2 (2.14, measured) writes for a `dict` field in
/// `model_dump_json()`: separators `,` and `:`, keys in insertion order, non-ASCII as
/// raw UTF-8, the short escapes plus `\u00XX` (lowercase) for other controls, DEL raw;
/// floats with shortest digits, fixed notation for decimal exponents -5 through 15
/// (`0.00001`, `1e-6`, `1000000000000000.0`, `1e+16`), NaN and infinities as `null`.
/// A lone surrogate cannot be written: pydantic raises "surrogates not allowed".
public enum CompactJSON {
    public static func write(_ value: JSONValue, into out: inout [UInt8]) throws {
        switch value {
        case .null: out.appendStaticText("null")
        case .bool(let b): out.appendStaticText(b ? "true" : "false")
        case .int(let i): NumberText.appendDecimal(i, to: &out)
        case .bigInt(let text): out += text.utf8
        case .double(let d):
            if d.isFinite {
                NumberText.appendFinite(d, style: .pydantic, to: &out)
            } else {
                out.appendStaticText("null")
            }
        case .string(let s): try appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                try write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (k, (key, item)) in object.pairs.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                try appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                try write(item, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    public static func text(_ value: JSONValue) throws -> [UInt8] {
        var out: [UInt8] = []
        try write(value, into: &out)
        return out
    }

    static func appendString(_ s: JSONString, to out: inout [UInt8]) throws {
        out.append(UInt8(ascii: "\""))
        try s.utf8.withUnsafeBufferPointer { p in
            var runStart = 0
            var i = 0
            while i < p.count {
                let b = p[i]
                if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                    // An encoded surrogate: ED A0...BF xx.
                    if b == 0xED && i + 1 < p.count && p[i + 1] >= 0xA0 {
                        throw MuflowError(.invalidArgument, "Error serializing to JSON: a string holds a lone surrogate at byte \(i): surrogates not allowed")
                    }
                    i += 1
                    continue
                }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i])) }
                PythonJSON.appendASCIIEscape(b, to: &out)
                i += 1
                runStart = i
            }
            if runStart < p.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart...])) }
        }
        out.append(UInt8(ascii: "\""))
    }
}
