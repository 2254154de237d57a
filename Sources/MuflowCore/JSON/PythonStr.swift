/// What CPython 3.11's `str(x)` prints for the Python object a JSON value stands for:
/// a str prints itself, containers print the `repr` of their elements.
public enum PythonStr {
    public static func str(_ value: JSONValue) -> [UInt8] {
        if case .string(let s) = value { return s.utf8 }
        var out: [UInt8] = []
        appendRepr(value, to: &out)
        return out
    }

    /// Python's `repr(x)`.
    public static func repr(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        appendRepr(value, to: &out)
        return out
    }

    package static func appendRepr(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.appendStaticText("None")
        case .bool(let b): out.appendStaticText(b ? "True" : "False")
        case .int(let i): NumberText.appendDecimal(i, to: &out)
        case .bigInt(let text): out += text.utf8
        case .double(let d):
            if d.isNaN {
                out.appendStaticText("nan")
            } else if d.isInfinite {
                out.appendStaticText(d < 0 ? "-inf" : "inf")
            } else {
                NumberText.appendFinite(d, style: .python, to: &out)
            }
        case .string(let s): appendStringRepr(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.appendStaticText(", ") }
                appendRepr(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (k, (key, item)) in object.pairs.enumerated() {
                if k > 0 { out.appendStaticText(", ") }
                appendStringRepr(key, to: &out)
                out.appendStaticText(": ")
                appendRepr(item, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `repr(str)`: single quotes unless the text holds `'` and no `"`.
    static func appendStringRepr(_ s: JSONString, to out: inout [UInt8]) {
        let bytes = s.utf8
        let quote: UInt8 = bytes.contains(UInt8(ascii: "'")) && !bytes.contains(UInt8(ascii: "\""))
            ? UInt8(ascii: "\"") : UInt8(ascii: "'")
        out.append(quote)
        bytes.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let (cp, n) = WTF8.decode(p, at: i)
                switch cp {
                case UInt32(quote), 0x5C:
                    out.append(UInt8(ascii: "\\"))
                    out.append(UInt8(cp))
                case 0x09: out.appendStaticText("\\t")
                case 0x0A: out.appendStaticText("\\n")
                case 0x0D: out.appendStaticText("\\r")
                case 0x20..<0x7F: out.append(UInt8(cp))
                default:
                    if cp >= 0x80 && isPrintable(cp) {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<(i + n)]))
                    } else {
                        appendHexEscape(cp, to: &out)
                    }
                }
                i += n
            }
        }
        out.append(quote)
    }

    private static func appendHexEscape(_ cp: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        let width: Int
        if cp < 0x100 {
            out.append(UInt8(ascii: "x")); width = 2
        } else if cp < 0x10000 {
            out.append(UInt8(ascii: "u")); width = 4
        } else {
            out.append(UInt8(ascii: "U")); width = 8
        }
        for k in stride(from: width - 1, through: 0, by: -1) {
            out.append(hexDigits[Int(cp >> UInt32(4 * k) & 0xF)])
        }
    }

    /// CPython's `str.isprintable` for one code point, against the Unicode 14.0 data
    /// Python 3.11 carries: characters assigned later are unassigned (Cn) there.
    static func isPrintable(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return cp >= 0x20 && cp < 0x7F }
        guard let scalar = Unicode.Scalar(cp) else { return false }  // surrogates
        let properties = scalar.properties
        guard let age = properties.age, age.major < 14 || (age.major == 14 && age.minor == 0) else { return false }
        switch properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
