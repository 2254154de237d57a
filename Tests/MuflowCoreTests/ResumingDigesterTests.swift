import XCTest
@testable import MuflowCore

/// A run of texts digested with resumed hash states gives each text's own digest, whatever
/// the texts share: nothing, whole strides, part of a stride, all of a shorter text.
final class ResumingDigesterTests: XCTestCase {
    private func plainDigest(_ text: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: ContentPrefix.digestLength) { buffer, count in
            text.withUnsafeBufferPointer { ContentPrefix.writeDigest(ofCanonical: $0, to: buffer.baseAddress!) }
            count = ContentPrefix.digestLength
        }
    }

    private func resumedDigests(_ texts: [[UInt8]]) -> [[UInt8]] {
        var digester = ResumingDigester()
        return texts.map { text in
            [UInt8](unsafeUninitializedCapacity: ContentPrefix.digestLength) { buffer, count in
                text.withUnsafeBufferPointer { digester.writeDigest(ofCanonical: $0, to: buffer.baseAddress!) }
                count = ContentPrefix.digestLength
            }
        }
    }

    func testEachTextGetsItsOwnDigestWhateverItSharesWithTheOneBefore() {
        let stride = ResumingDigester.stride
        var generator = SystemRandomNumberGenerator()
        let base = (0..<(12 * stride)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var texts: [[UInt8]] = [base, base]
        for cut in [0, 1, stride - 1, stride, stride + 1, 5 * stride, 5 * stride + 17, base.count - 1] {
            var changed = base
            changed[cut] &+= 1
            texts.append(changed)
            texts.append(base)
        }
        for length in [ResumingDigester.minimumLength - 1, ResumingDigester.minimumLength, 7 * stride + 3, 3 * stride, base.count] {
            texts.append(Array(base.prefix(length)))
        }
        texts.append(base + Array(base.prefix(2 * stride + 5)))
        texts.append(Array(base.prefix(100)))
        texts.append(base)
        for _ in 0..<40 {
            var text = Array(base.prefix(Int.random(in: 0...base.count, using: &generator)))
            if !text.isEmpty && Bool.random(using: &generator) { text[Int.random(in: 0..<text.count, using: &generator)] ^= 0x40 }
            texts.append(text)
        }
        XCTAssertEqual(resumedDigests(texts), texts.map(plainDigest))
    }
}
