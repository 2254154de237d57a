import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

/// manifest.json written straight to bytes, and its sizes read back without a parse.
final class ManifestTests: XCTestCase {
    private let names = ["context.json", "out/é.json", "q\"uote.txt", "tab\tname", "😀.bin", "a", "Z"]

    /// The layout a JSON value of the same manifest gets from IndentedJSON (Python's
    /// `json.dumps(indent=2)`).
    private func reference(_ manifest: Manifest, timestamp: String) -> [UInt8] {
        let sorted = manifest.files.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var sizes = JSONObject()
        var digests = JSONObject()
        for name in sorted {
            sizes[JSONString(name)] = .int(manifest.files[name]!.size)
            digests[JSONString(name)] = .string(JSONString(manifest.files[name]!.sha256))
        }
        var object = JSONObject()
        object["files"] = .array(sorted.map { .string(JSONString($0)) })
        object["timestamp"] = .string(JSONString(timestamp))
        object["file_sizes"] = .object(sizes)
        object["file_sha256"] = .object(digests)
        object["outputs_sha256"] = .string(JSONString(ManifestDigests.outputs(of: manifest.files).description))
        return IndentedJSON.dumps(.object(object))
    }

    func testEncodingIsIndentedJSONByteForByte() {
        for count in [0, 1, 2, names.count] {
            var files: [String: Manifest.Entry] = [:]
            for (i, name) in names.prefix(count).enumerated() {
                files[name] = Manifest.Entry(size: i * 1000, sha256: String(repeating: "ab", count: 32))
            }
            let manifest = Manifest(files: files)
            let stamp = "2026-11-27T03:04:05.123456+00:00"
            XCTAssertEqual(String(decoding: manifest.encoded(timestamp: stamp), as: UTF8.self),
                           String(decoding: reference(manifest, timestamp: stamp), as: UTF8.self), "\(count) files")
        }
    }

    func testTheOutputsFingerprintIgnoresTheTimestampAndSeesEveryFileField() {
        let files = ["a.json": Manifest.Entry(size: 3, sha256: String(repeating: "0", count: 64))]
        let digests = { (files: [String: Manifest.Entry], stamp: String) -> Fingerprint? in
            let text = Manifest(files: files).encoded(timestamp: stamp)
            return text.withUnsafeBytes { ManifestScan.scan($0).outputs }
        }
        XCTAssertNotNil(digests(files, "t1"))
        XCTAssertEqual(digests(files, "t1"), digests(files, "t2"))
        var resized = files
        resized["a.json"]!.size = 4
        var renamed = [String: Manifest.Entry]()
        renamed["b.json"] = files["a.json"]
        var resummed = files
        resummed["a.json"]!.sha256 = String(repeating: "1", count: 64)
        for other in [resized, renamed, resummed, [:]] {
            XCTAssertNotEqual(digests(other, "t1"), digests(files, "t1"))
        }
    }

    func testTimestampIsPythonsIsoformat() {
        let stamp = UTCTimestamp.now()
        let utf8 = Array(stamp.utf8)
        XCTAssertTrue(stamp.hasSuffix("+00:00"), stamp)
        XCTAssertTrue(utf8.count == 25 || utf8.count == 32, stamp)
        XCTAssertEqual(utf8[4], UInt8(ascii: "-"))
        XCTAssertEqual(utf8[10], UInt8(ascii: "T"))
        XCTAssertEqual(utf8[13], UInt8(ascii: ":"))
        XCTAssertGreaterThanOrEqual(Int(String(stamp.prefix(4)))!, 2024)
    }

    private func scan(_ text: String) -> ManifestScan.Result {
        Array(text.utf8).withUnsafeBytes { ManifestScan.sizes($0) }
    }

    private func scannedSizes(_ text: String) -> [String: Int]? {
        guard case .sizes(let sizes) = scan(text) else { return nil }
        let bytes = Array(text.utf8)
        return Dictionary(uniqueKeysWithValues: sizes.map { (String(decoding: bytes[$0.name], as: UTF8.self), $0.size) })
    }

    func testScanReadsTheSizesOfWrittenManifests() {
        var files: [String: Manifest.Entry] = [:]
        for (i, name) in ["context.json", "out/x.json", "b b.txt"].enumerated() {
            files[name] = Manifest.Entry(size: i * 7 + 1, sha256: "00")
        }
        let text = String(decoding: Manifest(files: files).encoded(timestamp: "t"), as: UTF8.self)
        XCTAssertEqual(scannedSizes(text), ["context.json": 1, "out/x.json": 8, "b b.txt": 15])
        XCTAssertEqual(scannedSizes(String(decoding: Manifest(files: [:]).encoded(timestamp: "t"), as: UTF8.self)), [:])
        XCTAssertEqual(scannedSizes(#"{"file_sizes": {"a": 0, "b": 123456789012345678}, "x": [1, {"y": "}\"]"}]}"#),
                       ["a": 0, "b": 123456789012345678])
    }

    func testScanLeavesEverythingUnusualToTheParser() {
        XCTAssertEqual(scan(#"{"files": ["context.json"], "timestamp": "2026"}"#), .noSizes, "muflow's manifest")
        XCTAssertEqual(scan("{}"), .noSizes)
        for text in [
            "", "[]", "{", #"{"file_sizes": {"a": 1}"#, #"{"file_sizes": {"a": 1}} x"#,
            #"{"file_sizes": {"a\u0062": 1}}"#, #"{"file_sizes": {"a": -1}}"#, #"{"file_sizes": {"a": 1.0}}"#,
            #"{"file_sizes": {"a": 01}}"#, #"{"file_sizes": {"a": "1"}}"#, #"{"file_sizes": {"a": 1234567890123456789}}"#,
            #"{"file_sizes": {}, "file_sizes": {}}"#, #"{"file_sizes": []}"#, #"{"x": tru"e}"#, #"{"x" 1}"#,
            #"{"x": [1, 2}"#, #"{"a": 1,}"#,
        ] {
            XCTAssertEqual(scan(text), .unknown, text)
        }
    }

    func testARememberedManifestIsReadAgainOnceItChanges() throws {
        let directory = makeTemporaryDirectory("manifest")
        defer { removeTree(directory) }
        let storage = try LocalStorage(root: directory)
        try storage.save("data.bin", Array("0123456789".utf8))
        try storage.writeManifest()
        XCTAssertNotNil(ManifestMemory.recall(directory), "a manifest written is remembered")
        XCTAssertTrue(LocalStorage.manifestComplete(in: directory, verify: .sizes))

        // The files are checked every time, remembered manifest or not.
        XCTAssertEqual(truncate(directory + "/data.bin", 4), 0)
        XCTAssertFalse(LocalStorage.manifestComplete(in: directory, verify: .sizes))

        // Rewritten in place (same inode) to record the new size.
        let manifest = directory + "/manifest.json"
        let inode = { (path: String) -> UInt64 in var info = stat(); stat(path, &info); return UInt64(info.st_ino) }
        let before = inode(manifest)
        let file = fopen(manifest, "r+")!
        fputs(#"{"files": ["data.bin"], "file_sizes": {"data.bin": 4}}"#, file)
        XCTAssertEqual(ftruncate(fileno(file), Int(ftell(file))), 0)
        fclose(file)
        XCTAssertEqual(inode(manifest), before)
        XCTAssertTrue(LocalStorage.manifestComplete(in: directory, verify: .sizes), "read again, not recalled")

        // Replaced by another file (a rename): read again too.
        let other = directory + "/other.json"
        let replacement = fopen(other, "w")!
        fputs(#"{"file_sizes": {"data.bin": 10}}"#, replacement)
        fclose(replacement)
        XCTAssertEqual(rename(other, manifest), 0)
        XCTAssertFalse(LocalStorage.manifestComplete(in: directory, verify: .sizes))
        XCTAssertEqual(unlink(manifest), 0)
        XCTAssertEqual(LocalStorage.manifestState(of: directory, in: FileSystem.currentDirectory, verify: .sizes,
                                                  key: directory), .absent)
    }
}
