import CSHA256
import XCTest
@testable import MuflowCore

/// `muflow_sha256_pair`, which the planner uses to hash two node texts at once: the same
/// digests as hashing each alone, for every pair of lengths around the block edges, up
/// to and past the longest it interleaves, with the CPU extensions and without.
final class SHA256PairTests: XCTestCase {
    override func tearDown() {
        SHA256.forcePortable(false)
    }

    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    private func alone(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { SHA256.hash(data: $0) }
    }

    private func paired(_ a: [UInt8], _ b: [UInt8]) -> ([UInt8], [UInt8]) {
        var digests = [UInt8](repeating: 0, count: 64)
        digests.withUnsafeMutableBufferPointer { out in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    muflow_sha256_pair(a.baseAddress, a.count, b.baseAddress, b.count, out.baseAddress, out.baseAddress! + 32)
                }
            }
        }
        return (Array(digests[..<32]), Array(digests[32...]))
    }

    func testPairsGiveTheDigestsOfEachAlone() {
        let edges = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 200, 1023, 1024, 1025, 3000]
        for portable in [false, true] {
            SHA256.forcePortable(portable)
            for m in edges {
                for n in edges {
                    let a = bytes(m, seed: UInt64(m)), b = bytes(n, seed: UInt64(n) + 7)
                    let (digestA, digestB) = paired(a, b)
                    XCTAssertEqual(digestA, alone(a), "first of \(m) and \(n) bytes, portable \(portable)")
                    XCTAssertEqual(digestB, alone(b), "second of \(m) and \(n) bytes, portable \(portable)")
                }
            }
        }
    }

    func testKnownVector() {
        let (abc, empty) = paired(Array("abc".utf8), [])
        XCTAssertEqual(String(decoding: ContentPrefix.hex(abc), as: UTF8.self),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(String(decoding: ContentPrefix.hex(empty), as: UTF8.self),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
