/// The job kwargs of one step, in order: objects, or a table of many jobs with the same
/// keys (the keys once, then each job's values), which costs no object per job.
public struct StepJobs {
    // Stored side by side rather than as an enum's payloads: reading a payload copied
    // (retained) both arrays for every job.
    private let objects: [JSONObject]
    /// Distinct keys; `count` rows of `tableKeys.count` values each.
    private let tableKeys: [JSONString]
    private let tableValues: [JSONValue]
    private let isTable: Bool
    public let count: Int

    public init(_ objects: [JSONObject]) {
        self.objects = objects
        tableKeys = []
        tableValues = []
        isTable = false
        count = objects.count
    }

    /// `count` jobs with these keys, which must be distinct, and `values` holding
    /// `keys.count` values per job, job after job.
    public init(keys: [JSONString], values: [JSONValue], count: Int) {
        precondition(values.count == keys.count * count, "a table of jobs needs keys.count values per job")
        precondition(Set(keys).count == keys.count, "a table of jobs needs distinct keys")
        objects = []
        tableKeys = keys
        tableValues = values
        isTable = true
        self.count = count
    }

    /// Calls `body` with the keys and values of job `index`.
    @inline(__always)
    func withJob<R>(_ index: Int, _ body: ([JSONString], UnsafeBufferPointer<JSONValue>) -> R) -> R {
        if isTable {
            let width = tableKeys.count
            return tableValues.withUnsafeBufferPointer { all in
                body(tableKeys, UnsafeBufferPointer(rebasing: all[(index * width)..<((index + 1) * width)]))
            }
        }
        return objects[index].values.withUnsafeBufferPointer { body(objects[index].keys, $0) }
    }

    /// Calls `body` with the keys and all the values of a table (nil for objects).
    @inline(__always)
    func withTable<R>(_ body: ([JSONString], UnsafeBufferPointer<JSONValue>) -> R) -> R? {
        guard isTable else { return nil }
        return tableValues.withUnsafeBufferPointer { body(tableKeys, $0) }
    }

    /// Job `index` as an object.
    public subscript(index: Int) -> JSONObject {
        guard isTable else { return objects[index] }
        let width = tableKeys.count
        return JSONObject(distinctKeys: tableKeys, values: Array(tableValues[(index * width)..<((index + 1) * width)]))
    }
}
