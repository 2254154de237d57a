import Glibc

/// Containers already parsed, by where they stand (nesting depth and member name), so
/// that text repeating one of them byte for byte is not parsed again: the earlier
/// value is reused, its storage shared.
///
/// Plan JSON repeats large values at the same place in node after node (the dataset
/// list in every node's kwargs, a step's dependency list and access map); comparing
/// bytes costs a fraction of parsing them, and a complete array or object text is
/// never the prefix of another value, so equal bytes mean an equal value.
struct RepeatedContainers {
    private struct Place: Hashable {
        let depth: Int
        let name: JSONString
    }

    private struct Earlier {
        var start: Int
        var length: Int
        var value: JSONValue
    }

    private var slots: [Place: Int32] = [:]
    private var earlier: [Earlier?] = []
    /// Smaller containers are parsed again: cheaper than remembering them.
    static let minimumLength = 64

    /// The slot of the container that is the value of member `name` at `depth`.
    mutating func slot(depth: Int, name: JSONString) -> Int32 {
        let place = Place(depth: depth, name: name)
        if let slot = slots[place] { return slot }
        let slot = Int32(earlier.count)
        slots[place] = slot
        earlier.append(nil)
        return slot
    }

    /// The value last remembered in `slot`, if the text at `position` repeats its text.
    func reuse(_ slot: Int32, at position: Int, in text: UnsafePointer<UInt8>, end: Int) -> (value: JSONValue, length: Int)? {
        guard let last = earlier[Int(slot)], last.length <= end - position,
              memcmp(text + position, text + last.start, last.length) == 0 else { return nil }
        return (last.value, last.length)
    }

    mutating func remember(_ slot: Int32, start: Int, length: Int, value: JSONValue) {
        guard length >= Self.minimumLength else { return }
        earlier[Int(slot)] = Earlier(start: start, length: length, value: value)
    }
}
