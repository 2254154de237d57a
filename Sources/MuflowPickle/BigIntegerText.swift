import MuflowCore

/// Integers wider than 64 bits, only as far as turning them into decimal text and
/// comparing them: pickle stores them as little-endian two's complement bytes.
enum BigIntegerText {
    /// The integer stored in `bytes` (little-endian two's complement, as pickle's LONG1
    /// and LONG4 carry it) as `.int` when it fits, else `.bigInt` decimal text.
    static func value(twosComplement bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        let n = bytes.count
        if n == 0 { return .int(0) }
        if n <= 8 {
            var v: UInt64 = 0
            for i in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[i]) }
            let shift = UInt64(64 - 8 * n)
            return .int(Int(Int64(bitPattern: v << shift) >> Int64(shift)))
        }
        let negative = bytes[n - 1] & 0x80 != 0
        // Magnitude as 32-bit limbs, least significant first.
        var limbs = [UInt32](repeating: 0, count: (n + 3) / 4)
        var carry: UInt32 = 1
        for i in 0..<n {
            var b = UInt32(bytes[i])
            if negative {
                b = (~b & 0xFF) + carry
                carry = b >> 8
                b &= 0xFF
            }
            limbs[i / 4] |= b << (8 * UInt32(i % 4))
        }
        while limbs.count > 1 && limbs[limbs.count - 1] == 0 { limbs.removeLast() }
        if limbs.count <= 2 {
            let m = UInt64(limbs[0]) | (limbs.count == 2 ? UInt64(limbs[1]) << 32 : 0)
            if m <= UInt64(Int.max) { return .int(negative ? -Int(m) : Int(m)) }
            if negative && m == UInt64(Int.max) + 1 { return .int(Int.min) }
        }
        // More than 4300 decimal digits needs more than 14284 bits; Python refuses those.
        let bits = limbs.count * 32 - limbs[limbs.count - 1].leadingZeroBitCount
        if bits > 14_300 { throw tooManyDigits() }
        let text = decimal(magnitude: &limbs, negative: negative)
        if text.utf8.count - (negative ? 1 : 0) > pythonIntMaxDigits { throw tooManyDigits() }
        return .bigInt(text)
    }

    private static func tooManyDigits() -> MuflowError {
        MuflowError(.limit, "Exceeds the limit (\(pythonIntMaxDigits) digits) for integer string conversion")
    }

    /// Decimal text of a magnitude (consumed), by repeated division by 10^9.
    static func decimal(magnitude limbs: inout [UInt32], negative: Bool) -> String {
        var chunks: [UInt32] = []
        var top = limbs.count
        while top > 0 {
            var remainder: UInt64 = 0
            for i in stride(from: top - 1, through: 0, by: -1) {
                let cur = remainder << 32 | UInt64(limbs[i])
                limbs[i] = UInt32(cur / 1_000_000_000)
                remainder = cur % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while top > 0 && limbs[top - 1] == 0 { top -= 1 }
        }
        var out: [UInt8] = negative ? [UInt8(ascii: "-")] : []
        out.reserveCapacity(chunks.count * 9 + 1)
        for (k, chunk) in chunks.reversed().enumerated() {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 9)
            var c = chunk
            for j in stride(from: 8, through: 0, by: -1) {
                digits[j] = UInt8(c % 10) + 0x30
                c /= 10
            }
            if k == 0 {
                out += digits.drop(while: { $0 == UInt8(ascii: "0") })
                if out.isEmpty || out == [UInt8(ascii: "-")] { out.append(UInt8(ascii: "0")) }
            } else {
                out += digits
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The exact decimal text of an integral finite double.
    static func decimal(integral d: Double) -> String {
        if d.magnitude < 9.2e18 { return String(Int(d)) }
        let significand = d.significandBitPattern | (1 << 52)
        let shift = Int(d.exponent) - 52
        var limbs = [UInt32](repeating: 0, count: (shift + 53) / 32 + 2)
        let word = shift / 32, bit = shift % 32
        let wide = significand
        // Spread the shifted significand over the limbs.
        let lo = UInt64(truncatingIfNeeded: wide) << UInt64(bit)
        limbs[word] = UInt32(truncatingIfNeeded: lo)
        limbs[word + 1] = UInt32(truncatingIfNeeded: lo >> 32)
        if bit > 11 { limbs[word + 2] = UInt32(truncatingIfNeeded: wide >> UInt64(64 - bit)) }
        while limbs.count > 1 && limbs[limbs.count - 1] == 0 { limbs.removeLast() }
        return decimal(magnitude: &limbs, negative: d < 0)
    }

    /// Compares canonical decimal texts numerically.
    static func compare(_ a: String, _ b: String) -> Int {
        let an = a.hasPrefix("-"), bn = b.hasPrefix("-")
        if an != bn { return an ? -1 : 1 }
        let au = Array(a.utf8), bu = Array(b.utf8)
        var c = au.count < bu.count ? -1 : au.count > bu.count ? 1 : 0
        if c == 0 { c = au.lexicographicallyPrecedes(bu) ? -1 : au == bu ? 0 : 1 }
        return an ? -c : c
    }
}
