/// A string key hashed as one block of bytes. JSONString's synthesized Hashable feeds
/// the hasher one byte at a time, which dominated building a 100,000-node plan.
struct HashedKey: Hashable {
    let string: JSONString

    init(_ string: JSONString) { self.string = string }

    static func == (a: HashedKey, b: HashedKey) -> Bool { a.string.utf8 == b.string.utf8 }

    func hash(into hasher: inout Hasher) {
        string.utf8.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A list of string keys hashed the same way.
struct HashedKeyList: Hashable {
    let keys: [JSONString]

    static func == (a: HashedKeyList, b: HashedKeyList) -> Bool { a.keys == b.keys }

    func hash(into hasher: inout Hasher) {
        hasher.combine(keys.count)
        for key in keys {
            hasher.combine(key.utf8.count)
            key.utf8.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
