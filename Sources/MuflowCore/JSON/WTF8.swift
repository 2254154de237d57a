/// UTF-8 that also admits encoded surrogates (each one alone, as Python's
/// `surrogatepass` writes them), the encoding of `JSONString`.
package enum WTF8 {
    /// The length of the well-formed sequence starting at `i` (whose first byte is
    /// at least 0x80), or 0 when it is malformed. Strict UTF-8 unless `allowSurrogates`.
    @inline(__always)
    package static func sequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, allowSurrogates: Bool) -> Int {
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < end && p[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) ? 2 : 0
        case 0xE0...0xEF:
            guard cont(1), cont(2) else { return 0 }
            let b1 = p[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return 0 }
            if b0 == 0xED && b1 >= 0xA0 && !allowSurrogates { return 0 }
            return 3
        case 0xF0...0xF4:
            guard cont(1), cont(2), cont(3) else { return 0 }
            let b1 = p[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return 0 }
            if b0 == 0xF4 && b1 >= 0x90 { return 0 }
            return 4
        default:
            return 0
        }
    }

    /// The code point at `i` and its length in bytes; a malformed byte reads as
    /// U+FFFD of length 1 so that writers never trap on bytes built elsewhere.
    @inline(__always)
    package static func decode(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        let length = sequenceLength(p.baseAddress!, i, p.count, allowSurrogates: true)
        switch length {
        case 2: return (UInt32(b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2)
        case 3: return (UInt32(b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        case 4:
            return (UInt32(b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12
                    | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
        default: return (0xFFFD, 1)
        }
    }

    /// Appends a code point (surrogates included) in generalized UTF-8.
    @inline(__always)
    package static func append(_ cp: UInt32, to out: inout [UInt8]) {
        switch cp {
        case 0..<0x80:
            out.append(UInt8(cp))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | cp >> 6))
            out.append(UInt8(0x80 | cp & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | cp >> 12))
            out.append(UInt8(0x80 | (cp >> 6) & 0x3F))
            out.append(UInt8(0x80 | cp & 0x3F))
        default:
            out.append(UInt8(0xF0 | cp >> 18))
            out.append(UInt8(0x80 | (cp >> 12) & 0x3F))
            out.append(UInt8(0x80 | (cp >> 6) & 0x3F))
            out.append(UInt8(0x80 | cp & 0x3F))
        }
    }

    /// Whether the bytes are well-formed WTF-8 (UTF-8 plus encoded surrogates).
    package static func isValid(_ p: UnsafeBufferPointer<UInt8>, allowSurrogates: Bool = true) -> Bool {
        guard let base = p.baseAddress else { return true }
        var i = 0
        while i < p.count {
            if base[i] < 0x80 { i += 1; continue }
            let n = sequenceLength(base, i, p.count, allowSurrogates: allowSurrogates)
            if n == 0 { return false }
            i += n
        }
        return true
    }
}
