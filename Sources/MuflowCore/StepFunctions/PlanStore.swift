/// The plan as a Lambda invocation reads it, stored once in S3 for a whole execution:
/// for each node what running it takes, with the large values that several nodes hold
/// (the ML pipeline's dataset list in every loo_cv node's kwargs, a fan-in's access map)
/// written once. muflow's plan JSON repeats them in every node, which makes the seed's
/// ML pipeline 176 MB at 1,000 datasets and ~100 times that at 10,000; this form grows
/// with the nodes only.
///
///     {"format": "muflow-plan-store/1", "root": index of the root node,
///      "sentinel": index of the sentinel root (TaskPlan.sentinelIndex) or null,
///      "values": [shared kwargs values], "maps": [shared access maps],
///      "nodes": [[key, function, storage_prefix, kwargs, access_map, dependencies]]}
///
/// `kwargs` is a list of entries in the node's order: `[name, value]`, or
/// `[name, 0, i]` for the shared value `values[i]`. `access_map` is an object, or the
/// index of a shared one in `maps`. `dependencies` is the number of nodes it depends on.
public enum PlanStore {
    public static let format = "muflow-plan-store/1"

    public static func encode(_ plan: TaskPlan) throws -> [UInt8] {
        var valueIDs: [StorageIdentity: Int] = [:]
        var mapIDs: [StorageIdentity: Int] = [:]
        var values: [JSONValue] = []
        var maps: [JSONValue] = []
        // Shared by storage: a value counts once it is met a second time.
        var seenValues = Set<StorageIdentity>()
        var seenMaps = Set<StorageIdentity>()
        for node in plan.nodes {
            for value in node.kwargs.values {
                if let key = StorageIdentity.of(kwargsValue: value), !seenValues.insert(key).inserted, valueIDs[key] == nil {
                    valueIDs[key] = values.count
                    values.append(value)
                }
            }
            if let key = StorageIdentity.of(object: node.dependencyAccessMap), !seenMaps.insert(key).inserted,
               mapIDs[key] == nil {
                mapIDs[key] = maps.count
                maps.append(.object(node.dependencyAccessMap))
            }
        }
        var out: [UInt8] = []
        out += #"{"format":"\#(format)","root":\#(plan.rootIndex),"sentinel":"#.utf8
        out += (plan.sentinelIndex.map(String.init) ?? "null").utf8
        out += #","values":"#.utf8
        try CompactJSON.write(.array(values), into: &out)
        out += #","maps":"#.utf8
        try CompactJSON.write(.array(maps), into: &out)
        out += #","nodes":["#.utf8
        let groups = plan.dependencyGroups
        for (i, node) in plan.nodes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            let kwargs: [JSONValue] = node.kwargs.pairs.map { name, value in
                if let key = StorageIdentity.of(kwargsValue: value), let id = valueIDs[key] {
                    return .array([.string(name), .int(0), .int(id)])
                }
                return .array([.string(name), value])
            }
            let access: JSONValue = StorageIdentity.of(object: node.dependencyAccessMap).flatMap { mapIDs[$0] }
                .map { .int($0) } ?? .object(node.dependencyAccessMap)
            let dependencies = groups.groupDependencies[Int(groups.groupOfNode[i])].count
            try CompactJSON.write(.array([.string(node.key), .string(node.function), .string(node.storagePrefix),
                                          .array(kwargs), access, .int(dependencies)]), into: &out)
        }
        out += "]}".utf8
        return out
    }
}
