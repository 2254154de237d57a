import CSHA256

/// SHA-256 over bytes, incrementally; a value type, so a copy is a saved state to resume
/// from. Uses the CPU's SHA extensions where it has them.
public struct SHA256 {
    private var context = muflow_sha256()

    public init() {
        muflow_sha256_init(&context)
    }

    public mutating func update(bufferPointer bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        muflow_sha256_update(&context, base, bytes.count)
    }

    /// The 32-byte digest. Finishing works on a copy, so the state may go on.
    public func finalize() -> [UInt8] {
        var finished = context
        return [UInt8](unsafeUninitializedCapacity: Int(MUFLOW_SHA256_DIGEST_LENGTH)) { buffer, count in
            muflow_sha256_final(&finished, buffer.baseAddress!)
            count = Int(MUFLOW_SHA256_DIGEST_LENGTH)
        }
    }

    /// The first `count` bytes of the digest (at most 32) written to `out`.
    public func finalize(prefix count: Int, into out: UnsafeMutablePointer<UInt8>) {
        var finished = context
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(MUFLOW_SHA256_DIGEST_LENGTH)) { digest in
            muflow_sha256_final(&finished, digest.baseAddress!)
            out.update(from: digest.baseAddress!, count: min(count, digest.count))
        }
    }

    public static func hash(data: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bufferPointer: data)
        return hasher.finalize()
    }

    /// Whether the CPU's SHA extensions are in use (for tests and benches).
    public static var usesCPUExtensions: Bool { muflow_sha256_uses_cpu_extensions() != 0 }

    /// Makes every later hash use the portable code (for tests comparing the two).
    public static func forcePortable(_ portable: Bool) { muflow_sha256_force_portable(portable ? 1 : 0) }
}
