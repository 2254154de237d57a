extension TaskPlan {
    /// The sentinel root: the node muflow's builder adds, named after the pipeline, when
    /// the last step has other than one node. It is recognised by construction, never by
    /// its task being unregistered: the builder says so for a plan it made; in a plan read
    /// from JSON it is a root that depends on two or more nodes through an empty access
    /// map and whose key is the prefix of `{"task": function, "subject": subject_key,
    /// **kwargs}` (a sentinel over an empty last step cannot be told from a one-step
    /// pipeline's root there, and is taken for a task).
    public var sentinelIndex: Int? {
        if rootIsBuiltSentinel { return rootIndex }
        let root = nodes[rootIndex]
        guard root.dependsOn.count >= 2, root.dependencyAccessMap.count == 0,
              let basePrefix = Self.basePrefix(ofSentinelKey: root.key, kwargs: root.kwargs, function: root.function)
        else { return nil }
        var hasher = PrefixHasher()
        let expected = hasher.prefix(task: root.function, subject: root.subjectKey, kwargs: root.kwargs,
                                     identityKeys: nil, basePrefix: basePrefix)
        return expected == root.key.utf8 ? rootIndex : nil
    }

    /// `key` less its `/label/digest` tail, where the label is the hash dict's "task":
    /// the kwargs' own "task" when they hold one (it overrides the function's name).
    private static func basePrefix(ofSentinelKey key: JSONString, kwargs: JSONObject,
                                   function: JSONString) -> JSONString? {
        var label = function
        if let task = kwargs["task"] {
            guard case .string(let text) = task else { return nil }
            label = text
        }
        let tail = 1 + label.utf8.count + 1 + ContentPrefix.digestLength
        let bytes = key.utf8
        guard bytes.count > tail else { return nil }
        let cut = bytes.count - tail
        guard bytes[cut] == UInt8(ascii: "/"), bytes[(cut + 1)..<(cut + 1 + label.utf8.count)].elementsEqual(label.utf8)
        else { return nil }
        return JSONString(wtf8: Array(bytes[..<cut]))
    }
}
