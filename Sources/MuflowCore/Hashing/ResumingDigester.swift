import Glibc

/// Writes the digests of a run of canonical texts, resuming SHA-256 from where a text stops
/// matching the one before it. A batch of node dicts often starts with the same large value
/// (every `loo_cv` dict of the seed's ML pipeline opens with the whole datasets list), which
/// is then hashed once instead of once per dict.
public struct ResumingDigester {
    /// Texts are compared, and hash states kept, in whole strides of this many bytes.
    static let stride = 4096
    /// Shorter texts are hashed from the start: comparing them would cost more than it saves.
    static let minimumLength = 4 * stride

    /// The leading strides of the previous text, and the hash state after each of them.
    private var previous: [UInt8] = []
    private var states: [SHA256] = []

    public init() {}

    /// Writes the `ContentPrefix.digestLength` hex digits naming `text` at `out`.
    public mutating func writeDigest(ofCanonical text: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) {
        guard text.count >= Self.minimumLength, let base = text.baseAddress else {
            ContentPrefix.writeDigest(ofCanonical: text, to: out)
            return
        }
        let stride = Self.stride
        var shared = 0
        previous.withUnsafeBufferPointer { before in
            while shared < states.count, (shared + 1) * stride <= text.count,
                  memcmp(before.baseAddress! + shared * stride, base + shared * stride, stride) == 0 {
                shared += 1
            }
        }
        var hasher = shared > 0 ? states[shared - 1] : SHA256()
        states.removeSubrange(shared...)
        previous.removeSubrange((shared * stride)...)
        var offset = shared * stride
        while offset + stride <= text.count {
            let chunk = UnsafeBufferPointer(rebasing: text[offset ..< offset + stride])
            hasher.update(bufferPointer: UnsafeRawBufferPointer(chunk))
            previous.append(contentsOf: chunk)
            states.append(hasher)
            offset += stride
        }
        hasher.update(bufferPointer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: text[offset...])))
        ContentPrefix.writeHex(of: hasher, to: out)
    }
}
