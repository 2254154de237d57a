/// Decimal text of integers and of doubles in the layouts Python and pydantic print.
package enum NumberText {
    package static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var i = 20
            repeat {
                i -= 1
                buffer[i] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                magnitude /= 10
            } while magnitude != 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<20]))
        }
    }

    /// How a double is laid out once its shortest round-trip digits are known.
    package struct FloatStyle {
        /// Smallest decimal exponent (of the first digit) written in fixed notation;
        /// fixed notation stops at exponent 16 in both styles.
        var lowestFixedExponent: Int
        /// Python writes `1e-05`, pydantic `1e-5`.
        var padExponentToTwoDigits: Bool

        /// Python's `float.__repr__`.
        package static let python = FloatStyle(lowestFixedExponent: -4, padExponentToTwoDigits: true)
        /// pydantic v2's JSON output (measured: fixed from 1e-5, no exponent padding).
        package static let pydantic = FloatStyle(lowestFixedExponent: -5, padExponentToTwoDigits: false)
    }

    /// A finite double as its shortest round-trip digits; NaN and infinities are the
    /// caller's business.
    package static func appendFinite(_ value: Double, style: FloatStyle, to out: inout [UInt8]) {
        // Integral values below 2^53 are their own shortest digits and lie in the
        // fixed range of both styles.
        if value.magnitude < 9007199254740992.0, value == Double(Int64(value)) {
            if value == 0 {
                if value.sign == .minus { out.append(UInt8(ascii: "-")) }
                out.appendStaticText("0.0")
                return
            }
            appendDecimal(Int(value), to: &out)
            out.append(UInt8(ascii: "."))
            out.append(UInt8(ascii: "0"))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { digits in
            // Swift's description holds the shortest round-trip digits (as Python's
            // repr does); only its digits and exponent are used, not its layout.
            var count = 0
            var pointSeen = false
            var digitsBeforePoint = 0
            var exponent = 0
            var exponentNegative = false
            var inExponent = false
            for byte in value.description.utf8 {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if inExponent {
                        exponent = exponent * 10 + Int(byte &- 0x30)
                    } else if count < 32 {
                        digits[count] = byte
                        count += 1
                        if !pointSeen { digitsBeforePoint += 1 }
                    }
                case UInt8(ascii: "."): pointSeen = true
                case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
                case UInt8(ascii: "-") where inExponent: exponentNegative = true
                default: break
                }
            }
            if exponentNegative { exponent = -exponent }
            // Decimal exponent of the first significant digit.
            var first = 0
            while first < count - 1 && digits[first] == UInt8(ascii: "0") { first += 1 }
            var last = count
            while last > first + 1 && digits[last - 1] == UInt8(ascii: "0") { last -= 1 }
            let exp10 = exponent + digitsBeforePoint - 1 - first
            let significant = UnsafeBufferPointer(rebasing: digits[first..<last])
            if value.sign == .minus { out.append(UInt8(ascii: "-")) }
            layOut(significant, exp10: exp10, style: style, to: &out)
        }
    }

    private static func layOut(_ digits: UnsafeBufferPointer<UInt8>, exp10: Int, style: FloatStyle,
                               to out: inout [UInt8]) {
        let n = digits.count
        if exp10 >= style.lowestFixedExponent && exp10 < 16 {
            if exp10 >= 0 {
                if n <= exp10 + 1 {
                    out.append(contentsOf: digits)
                    for _ in 0..<(exp10 + 1 - n) { out.append(UInt8(ascii: "0")) }
                    out.append(UInt8(ascii: "."))
                    out.append(UInt8(ascii: "0"))
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[0...exp10]))
                    out.append(UInt8(ascii: "."))
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(exp10 + 1)...]))
                }
            } else {
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "."))
                for _ in 0..<(-exp10 - 1) { out.append(UInt8(ascii: "0")) }
                out.append(contentsOf: digits)
            }
            return
        }
        out.append(digits[0])
        if n > 1 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[1...]))
        }
        out.append(UInt8(ascii: "e"))
        out.append(exp10 < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        if style.padExponentToTwoDigits && exp10.magnitude < 10 { out.append(UInt8(ascii: "0")) }
        appendDecimal(Int(exp10.magnitude), to: &out)
    }
}

package extension Array where Element == UInt8 {
    /// Appends compile-time text without building an intermediate array.
    @inline(__always)
    package mutating func appendStaticText(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
