/// The cache check of backends whose manifests live elsewhere (S3, read by Celery workers
/// and Lambda): the same rule as a local run's (PlanRun.isCurrent), applied to what the
/// caller fetched. A node is current when its manifest records no inputs (muflow's) or
/// records the inputs it would have now: its dependencies' prefixes and the fingerprints
/// of their outputs as their manifests say.
public enum RemoteCacheCheck {
    public enum State: Int32, Sendable {
        /// No manifest (or one that is not a manifest): the node runs.
        case absent = 0
        /// Complete, with its current inputs, and so are its dependencies: settled.
        case current = 1
        /// Complete, but recorded with other inputs: the node runs again.
        case stale = 2
        /// Complete, recording inputs, but a dependency runs first (it is absent or
        /// stale, or rechecked itself): the node is checked when its turn comes, against
        /// what that dependency then holds (the same outputs do not cascade).
        case recheck = 3
    }

    /// The digests a manifest records, as JSON: `{"outputs_sha256": hex, "inputs_sha256":
    /// hex or null}`; a manifest without them (muflow's) stands for its outputs by the
    /// digest of its bytes, with no inputs. nil when the bytes are not a JSON object.
    public static func digestsJSON(ofManifest bytes: [UInt8]) -> [UInt8]? {
        guard let digests = Manifest.recordedSizes(in: bytes)?.digests else { return nil }
        return json(digests)
    }

    /// The state of one node whose manifest is `manifest` (nil: none), given its inputs
    /// now (`{access key: {"prefix": p, "outputs_sha256": hex or null}}`, in the access
    /// map's order, each fingerprint from that dependency's manifest): absent, current or
    /// stale. Throws MuflowError(.invalidArgument) for malformed inputs.
    public static func nodeState(manifest: [UInt8]?, inputs: JSONValue) throws -> State {
        let current = try nodeInputs(inputs)
        guard let manifest, let digests = Manifest.recordedSizes(in: manifest)?.digests else { return .absent }
        guard let recorded = digests.inputs else { return .current }
        return recorded == current.digest ? .current : .stale
    }

    /// The state of every node of `plan`, in its order, from the digests of the manifests
    /// found (`{prefix: {"outputs_sha256": hex, "inputs_sha256": hex or null}}`; a prefix
    /// left out has none). A node is current when its manifest records no inputs, or
    /// its dependencies are all current and its recorded inputs are the ones they give
    /// now (else stale); to recheck when a dependency is not current. Linear in nodes plus grouped edges: a node's inputs are worked
    /// out once per access map, its dependencies' states once per dependency group.
    /// Throws MuflowError(.invalidArgument) for malformed digests.
    public static func planStates(_ plan: TaskPlan, manifests: JSONValue) throws -> [State] {
        guard case .object(let found) = manifests else {
            throw MuflowError(.invalidArgument, "manifests must be a JSON object of prefix to digests")
        }
        var digests: [JSONString: ManifestDigests] = [:]
        digests.reserveCapacity(found.keys.count)
        for (prefix, value) in zip(found.keys, found.values) {
            if case .null = value { continue }
            digests[prefix] = try self.digests(value, "manifests[\(prefix)]")
        }
        let groups = plan.dependencyGroups
        var states = [State](repeating: .absent, count: plan.count)
        // Per group: whether all its dependencies are current (nil until worked out).
        var groupCurrent = [Bool?](repeating: nil, count: groups.groupDependencies.count)
        var inputsOfBox: [ObjectIdentifier: Fingerprint] = [:]
        var nodeOfPrefix: [JSONString: Int]?
        for level in try groups.levels() {
            for index in level {
                let node = plan.nodes[index]
                guard let recorded = digests[node.storagePrefix] else { continue }
                // A manifest recording no inputs (muflow's) is trusted, as in a local run.
                guard let inputs = recorded.inputs else {
                    states[index] = .current
                    continue
                }
                // A dependency that runs first may change this node's inputs, or give
                // back the same outputs: only its worker, after it, can tell.
                let group = Int(groups.groupOfNode[index])
                if groupCurrent[group] == nil {
                    groupCurrent[group] = groups.groupDependencies[group].allSatisfy { states[Int($0)] == .current }
                }
                guard groupCurrent[group]! else {
                    states[index] = .recheck
                    continue
                }
                let current: Fingerprint
                if node.accessMapIsEmpty {
                    current = NodeInputs.none.digest
                } else if let known = inputsOfBox[node.accessMapIdentity] {
                    current = known
                } else {
                    let layout = node.inputsLayout {
                        let map = node.dependencyAccessMap
                        let prefixes = map.values.map { $0.stringValue ?? JSONString(wtf8: []) }
                        return InputsLayout(accessKeys: map.keys, prefixes: prefixes, dependencies: prefixes.map {
                            nodeIndex(of: $0, in: plan, table: &nodeOfPrefix)
                        })
                    }
                    current = NodeInputs(layout: layout, outputs: layout.prefixes.map { digests[$0]?.outputs }).digest
                    inputsOfBox[node.accessMapIdentity] = current
                }
                states[index] = current == inputs ? .current : .stale
            }
        }
        return states
    }

    /// A node's inputs from their JSON form (the manifest's `inputs` record).
    static func nodeInputs(_ value: JSONValue) throws -> NodeInputs {
        guard case .object(let map) = value else {
            throw MuflowError(.invalidArgument, "inputs must be a JSON object of access key to {prefix, outputs_sha256}")
        }
        var prefixes: [JSONString] = []
        var outputs: [Fingerprint?] = []
        for (key, entry) in zip(map.keys, map.values) {
            guard case .object(let fields) = entry, let prefix = fields["prefix"]?.stringValue else {
                throw MuflowError(.invalidArgument, "inputs[\(key)] must be an object with a string \"prefix\"")
            }
            prefixes.append(prefix)
            outputs.append(try optionalDigest(fields[ManifestDigests.outputsKey], "inputs[\(key)].outputs_sha256"))
        }
        return NodeInputs(accessKeys: map.keys, prefixes: prefixes, outputs: outputs)
    }

    private static func digests(_ value: JSONValue, _ name: String) throws -> ManifestDigests {
        guard case .object(let fields) = value,
              let outputs = try optionalDigest(fields[ManifestDigests.outputsKey], "\(name).outputs_sha256") else {
            throw MuflowError(.invalidArgument, "\(name) must be an object with \"outputs_sha256\"")
        }
        return ManifestDigests(outputs: outputs,
                               inputs: try optionalDigest(fields[ManifestDigests.inputsDigestKey], "\(name).inputs_sha256"))
    }

    private static func optionalDigest(_ value: JSONValue?, _ name: String) throws -> Fingerprint? {
        switch value {
        case nil, .null?:
            return nil
        case .string(let text)?:
            guard let fingerprint = Fingerprint(hex: text.utf8) else {
                throw MuflowError(.invalidArgument, "\(name) must be 64 lowercase hex digits")
            }
            return fingerprint
        default:
            throw MuflowError(.invalidArgument, "\(name) must be a string of 64 lowercase hex digits or null")
        }
    }

    private static func json(_ digests: ManifestDigests) -> [UInt8] {
        var out: [UInt8] = Array(#"{"\#(ManifestDigests.outputsKey)": ""#.utf8)
        out += digests.outputs.hex
        out += #"", "\#(ManifestDigests.inputsDigestKey)": "#.utf8
        Fingerprint.appendJSON(digests.inputs, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func nodeIndex(of prefix: JSONString, in plan: TaskPlan, table: inout [JSONString: Int]?) -> Int? {
        if let index = plan.index(ofKey: prefix), plan.nodes[index].storagePrefix == prefix { return index }
        if table == nil {
            var made: [JSONString: Int] = [:]
            for (i, node) in plan.nodes.enumerated() where made[node.storagePrefix] == nil { made[node.storagePrefix] = i }
            table = made
        }
        return table![prefix]
    }
}

extension LocalStorage {
    /// Writes manifest.json as `writeManifest()` does, recording the node's `inputs` (the
    /// manifest's `inputs` form, see RemoteCacheCheck.nodeInputs): for nodes that a
    /// remote worker runs on a shared directory. Throws MuflowError(.invalidArgument) for
    /// malformed inputs.
    public func writeManifest(inputs: JSONValue) throws {
        _ = try writeManifest(in: nil, inputs: try RemoteCacheCheck.nodeInputs(inputs))
    }
}
