/// Where a plan value keeps its elements: two equal identities mean the same storage,
/// hence the same value, for as long as the plan lives. Plans share large values
/// between nodes (muflow's build_plan merges `{**kwargs, **item}`, so every item's node
/// holds the step's kwargs values); a writer that wants to write such a value once
/// finds it by identity, at the cost of one look-up per value rather than its size.
/// Only values large enough to be worth sharing have an identity.
public struct StorageIdentity: Hashable, Sendable {
    let first: UInt
    let second: UInt
    let count: Int

    /// Lists of fewer strings are cheaper to write again than to share.
    public static let minimumSharedCount = 16
    /// A kwargs value counts as large once it holds this many values (nested included).
    public static let minimumSharedWeight = 16
    /// Strings shorter than this (in bytes) are written again.
    public static let minimumSharedStringLength = 256

    public static func of(strings list: [JSONString]) -> StorageIdentity? {
        guard list.count >= minimumSharedCount, let a = address(list) else { return nil }
        return StorageIdentity(first: a, second: 0, count: list.count)
    }

    public static func of(object: JSONObject) -> StorageIdentity? {
        guard !object.isEmpty, 1 + weight(of: object.values) >= minimumSharedWeight,
              let a = address(object.keys), let b = address(object.values) else { return nil }
        return StorageIdentity(first: a, second: b, count: object.count)
    }

    /// A value of a node's kwargs: a long string, or an array or object holding at
    /// least `minimumSharedWeight` values.
    public static func of(kwargsValue value: JSONValue) -> StorageIdentity? {
        switch value {
        case .string(let s):
            guard s.utf8.count >= minimumSharedStringLength, let a = address(s.utf8) else { return nil }
            return StorageIdentity(first: a, second: 1, count: s.utf8.count)
        case .array(let items):
            guard weight(value) >= minimumSharedWeight, let a = address(items) else { return nil }
            return StorageIdentity(first: a, second: 2, count: items.count)
        case .object(let object):
            return of(object: object)
        default:
            return nil
        }
    }

    private static func address<A>(_ array: [A]) -> UInt? {
        array.withUnsafeBufferPointer { $0.baseAddress.map { UInt(bitPattern: $0) } }
    }

    /// The number of values in `value` (itself and everything nested), counted only up
    /// to `minimumSharedWeight`.
    private static func weight(_ value: JSONValue) -> Int {
        switch value {
        case .array(let items): return 1 + weight(of: items)
        case .object(let object): return 1 + weight(of: object.values)
        default: return 1
        }
    }

    private static func weight(of items: [JSONValue]) -> Int {
        if items.count >= minimumSharedWeight { return minimumSharedWeight }
        var total = 0
        for item in items {
            total += weight(item)
            if total >= minimumSharedWeight { break }
        }
        return total
    }
}
