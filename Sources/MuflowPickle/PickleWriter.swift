import MuflowCore

/// Writes JSON values as Python pickle opcodes (protocol 4), for a Python caller that
/// turns them into objects with `pickle.loads` at C speed.
///
/// Values come out as a node's JSON reads back in Python (`json.loads` of pydantic's
/// text), with two exceptions where pickle carries what that text cannot: NaN and the
/// infinities are None (pydantic writes them as `null`); integers of any size are ints;
/// strings are their WTF-8 bytes, which CPython's unpickler decodes with
/// "surrogatepass", so a lone surrogate stays the lone surrogate Python had (the JSON
/// text cannot hold one).
public struct PickleWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// PROTO 4 and one FRAME holding the rest (its length set by `stop`): CPython's
    /// unpickler then reads the whole pickle from its file object in one call, not one
    /// call per opcode.
    public mutating func begin() { bytes += [0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0] }

    /// STOP: the value on top of the stack is the result; ends the frame.
    public mutating func stop() {
        bytes.append(0x2E)
        let length = UInt64(bytes.count - Self.headerLength)
        for k in 0..<8 { bytes[3 + k] = UInt8(truncatingIfNeeded: length >> UInt64(8 * k)) }
    }

    static let headerLength = 11

    /// Memo entries made so far.
    public private(set) var memoCount = 0

    /// MEMOIZE: the value on top of the stack becomes memo entry 0, 1, ... in turn;
    /// returns its index.
    @discardableResult
    public mutating func memoize() -> Int {
        bytes.append(0x94)
        memoCount += 1
        return memoCount - 1
    }

    /// The memo entry `index` (BINGET or LONG_BINGET).
    public mutating func memoized(_ index: Int) {
        if index < 0x100 {
            append(0x68, UInt8(index))
        } else {
            bytes.append(0x6A)
            appendLittleEndian(UInt64(index), count: 4)
        }
    }

    public mutating func none() { bytes.append(0x4E) }
    public mutating func bool(_ b: Bool) { bytes.append(b ? 0x88 : 0x89) }  // NEWTRUE, NEWFALSE

    public mutating func int(_ i: Int) {
        if i >= 0 && i < 0x100 {
            append(0x4B, UInt8(i))                                        // BININT1
        } else if i >= 0 && i < 0x10000 {
            append(0x4D, UInt8(i & 0xFF))                                  // BININT2
            bytes.append(UInt8(i >> 8))
        } else if let small = Int32(exactly: i) {
            bytes.append(0x4A)                                             // BININT
            appendLittleEndian(UInt64(UInt32(bitPattern: small)), count: 4)
        } else {
            var twosComplement = (0..<8).map { UInt8(truncatingIfNeeded: i >> (8 * $0)) }
            long(&twosComplement)
        }
    }

    /// An integer beyond 64 bits given as canonical decimal text (`.bigInt`).
    public mutating func bigInt(_ decimal: String) {
        var twosComplement = Self.twosComplement(decimal: decimal)
        long(&twosComplement)
    }

    /// NaN and the infinities as None, as they read back from a node's JSON.
    public mutating func double(_ d: Double) {
        guard d.isFinite else { return none() }
        bytes.append(0x47)                                                 // BINFLOAT, big-endian
        let bits = d.bitPattern
        for k in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(k))) }
    }

    public mutating func string(_ s: JSONString) {
        let n = s.utf8.count
        if n < 0x100 {
            append(0x8C, UInt8(n))                                         // SHORT_BINUNICODE
        } else if n <= Int(UInt32.max) {
            bytes.append(0x58)                                             // BINUNICODE
            appendLittleEndian(UInt64(n), count: 4)
        } else {
            bytes.append(0x8D)                                             // BINUNICODE8
            appendLittleEndian(UInt64(n), count: 8)
        }
        bytes += s.utf8
    }

    public mutating func emptyList() { bytes.append(0x5D) }
    public mutating func emptyDict() { bytes.append(0x7D) }
    public mutating func mark() { bytes.append(0x28) }
    /// APPENDS: the items since the mark join the list below it.
    public mutating func appends() { bytes.append(0x65) }
    /// SETITEMS: the key, value pairs since the mark join the dict below it.
    public mutating func setItems() { bytes.append(0x75) }

    /// The object the unpickler's `persistent_load(pid)` returns (BINPERSID).
    public mutating func persistentID(_ pid: Int) {
        int(pid)
        bytes.append(0x51)
    }

    /// A whole value; containers in full.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: none()
        case .bool(let b): bool(b)
        case .int(let i): int(i)
        case .bigInt(let text): bigInt(text)
        case .double(let d): double(d)
        case .string(let s): string(s)
        case .array(let items):
            list(items.count) { w in for item in items { w.value(item) } }
        case .object(let object):
            dict(object.count) { w in
                for (key, item) in object.pairs {
                    w.string(key)
                    w.value(item)
                }
            }
        }
    }

    /// A list whose `count` items `items` writes.
    public mutating func list(_ count: Int, _ items: (inout PickleWriter) -> Void) {
        emptyList()
        guard count > 0 else { return }
        mark()
        items(&self)
        appends()
    }

    /// A dict whose `count` key, value pairs `pairs` writes.
    public mutating func dict(_ count: Int, _ pairs: (inout PickleWriter) -> Void) {
        emptyDict()
        guard count > 0 else { return }
        mark()
        pairs(&self)
        setItems()
    }

    /// LONG1 or LONG4 of little-endian two's complement bytes, shortened to the fewest
    /// that keep the sign as pickle writes them (`0` is one zero byte here; pickle
    /// writes no bytes, both read as 0).
    private mutating func long(_ twosComplement: inout [UInt8]) {
        while twosComplement.count > 1 {
            let last = twosComplement[twosComplement.count - 1]
            let signOfRest = twosComplement[twosComplement.count - 2] & 0x80
            guard (last == 0 && signOfRest == 0) || (last == 0xFF && signOfRest != 0) else { break }
            twosComplement.removeLast()
        }
        if twosComplement.count < 0x100 {
            append(0x8A, UInt8(twosComplement.count))                      // LONG1
        } else {
            bytes.append(0x8B)                                             // LONG4
            appendLittleEndian(UInt64(twosComplement.count), count: 4)
        }
        bytes += twosComplement
    }

    /// Two bytes, without the temporary array a `+= [a, b]` literal costs.
    @inline(__always)
    private mutating func append(_ a: UInt8, _ b: UInt8) {
        bytes.append(a)
        bytes.append(b)
    }

    private mutating func appendLittleEndian(_ v: UInt64, count: Int) {
        for k in 0..<count { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * k))) }
    }

    /// Little-endian two's complement bytes of decimal text (`-` sign, digits), with
    /// one byte to spare for the sign.
    static func twosComplement(decimal: String) -> [UInt8] {
        var digits = Array(decimal.utf8)
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits.removeFirst() }
        // Magnitude as 32-bit limbs, least significant first: times 10^k plus k digits.
        var limbs: [UInt32] = [0]
        var i = 0
        while i < digits.count {
            let k = min(9, digits.count - i)
            var chunk: UInt64 = 0
            var scale: UInt64 = 1
            for d in digits[i..<(i + k)] {
                chunk = chunk * 10 + UInt64(d &- UInt8(ascii: "0"))
                scale *= 10
            }
            var carry = chunk
            for j in limbs.indices {
                let product = UInt64(limbs[j]) * scale + carry
                limbs[j] = UInt32(truncatingIfNeeded: product)
                carry = product >> 32
            }
            if carry > 0 { limbs.append(UInt32(carry)) }
            i += k
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 * limbs.count + 1)
        for limb in limbs { for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: limb >> UInt32(8 * k))) } }
        out.append(0)
        if negative {
            var carry: UInt16 = 1
            for j in out.indices {
                let v = UInt16(~out[j]) + carry
                out[j] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
        }
        return out
    }
}
