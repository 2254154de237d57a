import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

final class StorageTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("storage")
    }

    override func tearDown() {
        removeTree(directory)
    }

    private func kind(_ body: () throws -> Void) -> MuflowError.Kind? {
        do { try body(); return nil } catch { return (error as? MuflowError)?.kind }
    }

    func testFilenameRulesMatchMuflow() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "..", "..hidden", "a\0b"] {
            XCTAssertEqual(kind { try FileNames.validate(bad) }, .invalidArgument, bad)
        }
        for good in ["a.json", "sub/dir/b.txt", "a/../b", "./c", "x..y"] {
            XCTAssertNil(kind { try FileNames.validate(good) }, good)
        }
        XCTAssertEqual(FileNames.normalize("a//b/./c/../d"), "a/b/d")
        XCTAssertEqual(FileNames.normalize("/../a"), "/a")
        XCTAssertEqual(FileNames.normalize("a/.."), ".")
    }

    func testWriteOnceProtectedAndAllowedOutputs() throws {
        let storage = try LocalStorage(root: directory + "/node")
        try storage.save("a.txt", Array("hi".utf8))
        XCTAssertEqual(kind { try storage.save("a.txt", [1]) }, .alreadyExists)
        XCTAssertEqual(kind { try storage.save("manifest.json", [1]) }, .permission)
        XCTAssertNil(kind { try storage.save("context.json", Array("{}".utf8), allowProtected: true) })
        XCTAssertEqual(try storage.read("a.txt"), Array("hi".utf8))

        let readOnly = try LocalStorage(root: directory + "/ro", allowedOutputs: [])
        XCTAssertEqual(kind { try readOnly.save("x", [1]) }, .permission)
        let restricted = try LocalStorage(root: directory + "/rs", allowedOutputs: ["ok.json"])
        XCTAssertNil(kind { try restricted.save("ok.json", [1]) })
        XCTAssertEqual(kind { try restricted.save("other.json", [1]) }, .permission)
    }

    func testSymlinkEscapeIsRefused() throws {
        let storage = try LocalStorage(root: directory + "/node")
        mkdir(directory + "/outside", 0o755)
        symlink(directory + "/outside", directory + "/node/link")
        XCTAssertEqual(kind { try storage.save("link/evil.txt", [1]) }, .permission)
        XCTAssertFalse(FileSystem.exists(directory + "/outside/evil.txt"))
        writeFile(directory + "/outside/secret")
        XCTAssertEqual(kind { _ = try storage.read("link/secret") }, .permission)
    }

    func testManifestListsFilesWithSizesAndDetectsTornFiles() throws {
        let storage = try LocalStorage(root: directory + "/node")
        XCTAssertFalse(storage.isCached())
        try storage.save("b.bin", [UInt8](repeating: 7, count: 100))
        try storage.save("a.json", Array("{}".utf8))
        try storage.writeManifest()
        XCTAssertTrue(storage.isCached())
        let text = String(decoding: try storage.read("manifest.json"), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("{\n  \"files\": [\n    \"a.json\",\n    \"b.bin\"\n  ],\n  \"timestamp\": \""), text)
        XCTAssertTrue(text.contains("\"b.bin\": 100"), text)
        truncate(directory + "/node/b.bin", 10)
        XCTAssertFalse(storage.isCached(verify: .sizes))
        XCTAssertTrue(storage.isCached(verify: .presence))
    }

    func testDurableWritesProduceTheSameFiles() throws {
        let storage = try LocalStorage(root: directory + "/durable", durable: true)
        try storage.save("x.txt", Array("data".utf8))
        try storage.writeManifest()
        XCTAssertTrue(storage.isCached())
        XCTAssertEqual(storage.writtenFiles, ["x.txt"])
    }

    func testFailedWriteReleasesTheName() throws {
        let storage = try LocalStorage(root: directory + "/node")
        XCTAssertNotNil(kind { try storage.save("../x", [1]) })
        let path = try storage.beginWrite("later.nc")
        storage.abandonWrite("later.nc")
        XCTAssertTrue(path.hasSuffix("/node/later.nc"))
        XCTAssertNil(kind { try storage.save("later.nc", [1]) })
    }
}

private func writeFile(_ path: String) {
    let fd = open(path, O_WRONLY | O_CREAT, 0o644)
    _ = write(fd, "s", 1)
    close(fd)
}
