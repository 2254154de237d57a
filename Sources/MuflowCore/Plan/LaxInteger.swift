/// pydantic v2's lax `Optional[int]` from JSON, as muflow's plan reads analysis_id:
/// integers of any size, booleans, floats without a fractional part strictly inside
/// the 64-bit range, and decimal strings (surrounding whitespace, a sign, `_` between
/// digits, and a fraction of zeros allowed).
enum LaxInteger {
    static func value(_ value: JSONValue, at path: @autoclosure () -> String) throws -> JSONValue? {
        func fail(_ problem: String) -> MuflowError {
            MuflowError(.invalidArgument, "invalid plan JSON: \(path()): \(problem)")
        }
        switch value {
        case .null:
            return nil
        case .int, .bigInt:
            return value
        case .bool(let flag):
            return .int(flag ? 1 : 0)
        case .double(let number):
            guard number.isFinite, number.rounded(.towardZero) == number else {
                throw fail("expected an integer, got a number with a fractional part")
            }
            guard number > -9.223372036854775808e18, number < 9.223372036854775808e18 else {
                throw fail("integer out of range")
            }
            return .int(Int(number))
        case .string(let text):
            guard let parsed = parse(text.utf8) else { throw fail("unable to parse string as an integer") }
            return parsed
        default:
            throw fail("expected an integer, got \(PlanDecoder.kind(of: value))")
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0d).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        var text = bytes[...]
        while let first = text.first, isSpace(first) { text.removeFirst() }
        while let last = text.last, isSpace(last) { text.removeLast() }
        var negative = false
        if let sign = text.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            text.removeFirst()
        }
        var integerPart = text
        if let dot = text.firstIndex(of: UInt8(ascii: ".")) {
            let fraction = text[(dot + 1)...]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0 == UInt8(ascii: "0") }) else { return nil }
            integerPart = text[..<dot]
        }
        var digits = [UInt8]()
        var previousWasDigit = false
        for byte in integerPart {
            if isDigit(byte) {
                digits.append(byte)
                previousWasDigit = true
            } else if byte == UInt8(ascii: "_") && previousWasDigit {
                previousWasDigit = false
            } else {
                return nil
            }
        }
        guard previousWasDigit else { return nil }
        while digits.count > 1 && digits.first == UInt8(ascii: "0") { digits.removeFirst() }
        let magnitude = String(decoding: digits, as: UTF8.self)
        let signed = negative && magnitude != "0" ? "-" + magnitude : magnitude
        if let small = Int(signed) { return .int(small) }
        return .bigInt(signed)
    }
}
