/// Reads the `file_sizes` of a manifest.json without building its JSON value: a cache
/// check of a large plan reads thousands of manifests and needs nothing else from them.
/// Anything it does not expect (an escaped name, a size that is not a plain integer, a
/// repeated key, malformed JSON) makes it answer `.unknown`, and the caller parses the
/// manifest in full.
enum ManifestScan {
    enum Result: Equatable {
        /// Each recorded file's name (a range of the bytes) and size.
        case sizes([(name: Range<Int>, size: Int)])
        /// A JSON object without `file_sizes` (muflow's own manifests).
        case noSizes
        case unknown

        static func == (a: Result, b: Result) -> Bool {
            switch (a, b) {
            case (.noSizes, .noSizes), (.unknown, .unknown): return true
            case (.sizes(let x), .sizes(let y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.name == $1.name && $0.size == $1.size }
            default: return false
            }
        }
    }

    static func sizes(_ bytes: UnsafeRawBufferPointer) -> Result {
        scan(bytes).result
    }

    /// The sizes, and the fingerprints the manifest records (`outputs_sha256`,
    /// `inputs_sha256`; nil where absent, and both nil for `.unknown`).
    static func scan(_ bytes: UnsafeRawBufferPointer) -> (result: Result, outputs: Fingerprint?, inputs: Fingerprint?) {
        var scanner = Scanner(bytes: bytes)
        guard let result = scanner.document() else { return (.unknown, nil, nil) }
        return (result, scanner.outputs, scanner.inputs)
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var at = 0
        var outputs: Fingerprint?
        var inputs: Fingerprint?

        mutating func document() -> Result? {
            guard take(UInt8(ascii: "{")) else { return nil }
            var found: [(name: Range<Int>, size: Int)]?
            if take(UInt8(ascii: "}")) { return end() ? .noSizes : nil }
            repeat {
                guard let key = string(), take(UInt8(ascii: ":")) else { return nil }
                if key.elementsEqual(sizesKey) {
                    guard found == nil, let sizes = sizeObject() else { return nil }
                    found = sizes
                } else if key.elementsEqual(ManifestDigests.outputsKey.utf8) {
                    guard outputs == nil, let digest = fingerprint() else { return nil }
                    outputs = digest
                } else if key.elementsEqual(ManifestDigests.inputsDigestKey.utf8) {
                    guard inputs == nil, let digest = fingerprint() else { return nil }
                    inputs = digest
                } else {
                    guard skipValue(depth: 0) else { return nil }
                }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")), end() else { return nil }
            return found.map { .sizes($0) } ?? .noSizes
        }

        private static let sizesKeyBytes = Array("file_sizes".utf8)
        private var sizesKey: [UInt8] { Self.sizesKeyBytes }

        private mutating func sizeObject() -> [(name: Range<Int>, size: Int)]? {
            guard take(UInt8(ascii: "{")) else { return nil }
            var sizes: [(name: Range<Int>, size: Int)] = []
            if take(UInt8(ascii: "}")) { return sizes }
            repeat {
                guard let name = stringRange(), take(UInt8(ascii: ":")), let size = integer() else { return nil }
                sizes.append((name, size))
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "}")) ? sizes : nil
        }

        private mutating func skipWhitespace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 {
                at += 1
            }
        }

        /// Skips whitespace, then consumes `byte` if it comes next.
        private mutating func take(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard at < bytes.count, bytes[at] == byte else { return false }
            at += 1
            return true
        }

        private mutating func end() -> Bool {
            skipWhitespace()
            return at == bytes.count
        }

        /// A string without escapes, as the range of its contents.
        private mutating func stringRange() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = at
            while at < bytes.count {
                let b = bytes[at]
                if b == UInt8(ascii: "\"") {
                    at += 1
                    return start..<(at - 1)
                }
                if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
                at += 1
            }
            return nil
        }

        private mutating func fingerprint() -> Fingerprint? {
            string().flatMap { Fingerprint(hex: $0) }
        }

        private mutating func string() -> UnsafeRawBufferPointer? {
            stringRange().map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
        }

        /// A non-negative integer of at most 18 digits (a file size).
        private mutating func integer() -> Int? {
            skipWhitespace()
            var value = 0
            let start = at
            while at < bytes.count, bytes[at] &- 0x30 < 10, at - start < 18 {
                value = value * 10 + Int(bytes[at] &- 0x30)
                at += 1
            }
            guard at > start, at < bytes.count, !(bytes[start] == 0x30 && at - start > 1) else { return nil }
            let next = bytes[at]
            guard next == UInt8(ascii: ",") || next == UInt8(ascii: "}") || next <= 0x20 else { return nil }
            return value
        }

        /// Skips one JSON value (strings may hold escapes here).
        private mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64 else { return false }
            skipWhitespace()
            guard at < bytes.count else { return false }
            switch bytes[at] {
            case UInt8(ascii: "\""):
                at += 1
                while at < bytes.count {
                    let b = bytes[at]
                    at += 1
                    if b == UInt8(ascii: "\\") { at += 1 } else if b == UInt8(ascii: "\"") { return true }
                }
                return false
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = bytes[at] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                let isObject = close == UInt8(ascii: "}")
                at += 1
                if take(close) { return true }
                repeat {
                    if isObject {
                        guard skipValue(depth: depth + 1), take(UInt8(ascii: ":")) else { return false }
                    }
                    guard skipValue(depth: depth + 1) else { return false }
                } while take(UInt8(ascii: ","))
                return take(close)
            default:
                // A number or a literal: up to the next delimiter.
                let start = at
                while at < bytes.count {
                    let b = bytes[at]
                    if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b <= 0x20 { break }
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "{") || b == UInt8(ascii: "[") || b == UInt8(ascii: ":") {
                        return false
                    }
                    at += 1
                }
                return at > start
            }
        }
    }
}
