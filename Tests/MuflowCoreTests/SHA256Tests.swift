import XCTest
@testable import MuflowCore

/// The engine's own SHA-256: FIPS 180-4 test vectors, any split of the input, and the
/// CPU-extension code agreeing with the portable code on every length that matters.
final class SHA256Tests: XCTestCase {
    override func tearDown() {
        SHA256.forcePortable(false)
    }

    private func hex(_ bytes: [UInt8]) -> String {
        String(decoding: ContentPrefix.hex(bytes), as: UTF8.self)
    }

    private func digest(_ bytes: [UInt8]) -> String {
        hex(bytes.withUnsafeBytes { SHA256.hash(data: $0) })
    }

    /// A deterministic, irregular byte sequence (no repeating period a bug could hide in).
    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    func testKnownVectorsOnBothImplementations() {
        for portable in [false, true] {
            SHA256.forcePortable(portable)
            XCTAssertEqual(digest([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            XCTAssertEqual(digest(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            XCTAssertEqual(digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
            XCTAssertEqual(digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                           "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        }
    }

    func testExtensionsAndPortableCodeAgreeOnEveryLengthAroundBlockEdges() {
        let lengths = Array(0...300) + [511, 512, 513, 4095, 4096, 65_537, 1 << 20]
        for length in lengths {
            let input = bytes(length, seed: UInt64(length))
            SHA256.forcePortable(true)
            let portable = digest(input)
            SHA256.forcePortable(false)
            XCTAssertEqual(digest(input), portable, "length \(length)")
        }
    }

    func testSplitsAndCopiesGiveTheWholeDigest() {
        let input = bytes(1000, seed: 7)
        let whole = digest(input)
        for chunk in [1, 3, 63, 64, 65, 127, 999] {
            var hasher = SHA256()
            var position = 0
            while position < input.count {
                let end = min(position + chunk, input.count)
                input[position..<end].withUnsafeBytes { hasher.update(bufferPointer: $0) }
                position = end
            }
            XCTAssertEqual(hex(hasher.finalize()), whole, "chunks of \(chunk)")
        }
        // A copy resumes independently; finishing does not disturb the state.
        var first = SHA256()
        input[..<500].withUnsafeBytes { first.update(bufferPointer: $0) }
        let saved = first
        _ = first.finalize()
        input[500...].withUnsafeBytes { first.update(bufferPointer: $0) }
        var second = saved
        input[500...].withUnsafeBytes { second.update(bufferPointer: $0) }
        XCTAssertEqual(hex(first.finalize()), whole)
        XCTAssertEqual(hex(second.finalize()), whole)
    }

    func testThisMachineUsesTheCPUExtensionsWhenItHasThem() {
        // Reported rather than asserted: CI machines may lack the extensions.
        print("SHA-256 CPU extensions in use: \(SHA256.usesCPUExtensions)")
        SHA256.forcePortable(true)
        XCTAssertFalse(SHA256.usesCPUExtensions)
    }
}
