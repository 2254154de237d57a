/// Python's `json.dumps(value, indent=2)` (insertion order, ensure_ascii), the layout
/// muflow writes manifest.json, context.json and error.json in.
enum IndentedJSON {
    static func dumps(_ value: JSONValue) -> [UInt8] {
        var out = [UInt8]()
        write(value, into: &out, depth: 0)
        return out
    }

    private static func newline(_ out: inout [UInt8], depth: Int) {
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8], depth: Int) {
        switch value {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, depth: depth + 1)
                write(item, into: &out, depth: depth + 1)
            }
            newline(&out, depth: depth)
            out.append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, (key, item)) in object.pairs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, depth: depth + 1)
                PythonJSON.write(.string(key), into: &out, sortKeys: false)
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                write(item, into: &out, depth: depth + 1)
            }
            newline(&out, depth: depth)
            out.append(UInt8(ascii: "}"))
        default:
            PythonJSON.write(value, into: &out, sortKeys: false)
        }
    }
}
