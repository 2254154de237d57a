/// `kwargs.merging(job)` for the many jobs of one step: jobs with the keys of the job
/// before share the merged keys (and key index) of the first such merge, so each merge
/// costs one array of values.
struct KwargsMerger {
    private let kwargs: JSONObject
    private var template = JSONObject()
    private var hasTemplate = false
    private var templateJobKeys: [JSONString] = []
    /// Where each key of the template's job stands in the merged object.
    private var positions: [Int] = []

    init(_ kwargs: JSONObject) { self.kwargs = kwargs }

    /// `kwargs.merging(job)` for the job of these keys (distinct) and values.
    mutating func merged(keys: [JSONString], values jobValues: UnsafeBufferPointer<JSONValue>) -> JSONObject {
        guard hasTemplate, Self.same(templateJobKeys, keys) else {
            let merged = kwargs.merging(JSONObject(distinctKeys: keys, values: Array(jobValues)))
            template = merged
            hasTemplate = true
            templateJobKeys = keys
            positions = keys.map { merged.position(of: $0)! }
            return merged
        }
        // Reserved, then appended: copying the template's array on write allocates
        // through unspecialized generic code.
        var values = [JSONValue]()
        values.reserveCapacity(template.values.count)
        template.values.withUnsafeBufferPointer { values += $0 }
        values.withUnsafeMutableBufferPointer { values in
            for (k, position) in positions.enumerated() { values[position] = jobValues[k] }
        }
        return JSONObject(sameKeysAs: template, values: values)
    }

    /// `a == b`, answered without touching the arrays' references when they share
    /// storage (a table's jobs all pass the same keys array).
    @inline(__always)
    private static func same(_ a: [JSONString], _ b: [JSONString]) -> Bool {
        let shared = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress && a.count == b.count }
        }
        return shared || a == b
    }
}
