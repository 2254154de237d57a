/// A plan's node keys in order, with each key's position found by an open-addressing
/// table of positions into the key array.
///
/// Dictionary<JSONString, Int> took about a sixth of a fan-in build's native time: it
/// hashed every key with SipHash and kept a second reference to each. Here an entry is
/// the key's position and 32 bits of its hash, so a probe compares key bytes only when
/// the hashes agree, and the keys are held once. The hash is seeded per process, so plan
/// JSON cannot be crafted to collide.
struct KeyIndex: Sendable {
    private(set) var keys: [JSONString] = []
    /// 0 for an empty entry, else `hash32 << 32 | (position + 1)`.
    private var table: [UInt64]
    private var mask: Int

    init(minimumCapacity: Int = 0) {
        var size = 8
        while size < minimumCapacity * 2 { size <<= 1 }
        table = [UInt64](repeating: 0, count: size)
        mask = size - 1
        keys.reserveCapacity(minimumCapacity)
    }

    var count: Int { keys.count }

    mutating func reserveCapacity(_ capacity: Int) {
        keys.reserveCapacity(capacity)
        if capacity * 2 > table.count { grow(toHold: capacity) }
    }

    func position(of key: JSONString) -> Int? {
        probe(key, hash: Self.hash(key)).position
    }

    /// Appends `key` at position `count` and returns nil; or, when the key is there
    /// already, changes nothing and returns its position.
    mutating func append(_ key: JSONString) -> Int? {
        if (keys.count + 1) * 2 > table.count { grow(toHold: keys.count + 1) }
        let hash = Self.hash(key)
        let found = probe(key, hash: hash)
        if let position = found.position { return position }
        precondition(keys.count < Int(UInt32.max), "a plan holds fewer than 2^32 - 1 nodes")
        table[found.entry] = UInt64(hash) << 32 | UInt64(keys.count + 1)
        keys.append(key)
        return nil
    }

    /// Where the search for `key` ends: its position, or nil and the empty entry a new
    /// key takes.
    private func probe(_ key: JSONString, hash: UInt32) -> (entry: Int, position: Int?) {
        table.withUnsafeBufferPointer { table in
            keys.withUnsafeBufferPointer { keys in
                var i = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let entry = table[i]
                    if entry == 0 { return (i, nil) }
                    if UInt32(truncatingIfNeeded: entry >> 32) == hash {
                        let position = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                        if keys[position] == key { return (i, position) }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    private mutating func grow(toHold count: Int) {
        var size = table.count
        while size < count * 2 { size <<= 1 }
        var grown = [UInt64](repeating: 0, count: size)
        let newMask = size - 1
        grown.withUnsafeMutableBufferPointer { grown in
            for entry in table where entry != 0 {
                var i = Int(truncatingIfNeeded: entry >> 32) & newMask
                while grown[i] != 0 { i = (i + 1) & newMask }
                grown[i] = entry
            }
        }
        table = grown
        mask = newMask
    }

    private static let seed = UInt64.random(in: .min ... .max)

    /// 64-bit words folded through full-width multiplies (a wyhash-style mix), cut to
    /// 32 bits.
    @inline(__always)
    private static func hash(_ key: JSONString) -> UInt32 {
        key.utf8.withUnsafeBytes { bytes in
            @inline(__always) func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
                let product = a.multipliedFullWidth(by: b)
                return product.high ^ product.low
            }
            var h = seed ^ UInt64(bytes.count)
            var offset = 0
            while offset + 8 <= bytes.count {
                h = mix(h ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self), 0x9E37_79B9_7F4A_7C15)
                offset += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count {
                tail |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
            h = mix(h ^ tail, 0xD6E8_FEB8_6659_FD93)
            h = mix(h, 0xA076_1D64_78BD_642F)
            return UInt32(truncatingIfNeeded: h >> 32)
        }
    }
}
