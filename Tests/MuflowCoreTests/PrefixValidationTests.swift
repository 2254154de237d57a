import Glibc
import TestSupport
import XCTest
@testable import MuflowCore

/// Task names, node labels and storage prefixes that would put a node outside its base.
final class PrefixValidationTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("prefixes")
    }

    override func tearDown() {
        removeTree(directory)
    }

    private func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    func testUnsafeTaskNamesAreRefusedNamingTheProblem() {
        let cases: [(JSONString, String)] = [
            ("", "task name must not be empty"),
            ("../x", "task name '../x' must not have a '..' path component"),
            ("..", "task name '..' must not have a '..' path component"),
            ("a/..", "task name 'a/..' must not have a '..' path component"),
            ("a/../../x", "task name 'a/../../x' must not have a '..' path component"),
            (".", "task name '.' must not have a '.' path component"),
            ("./t", "task name './t' must not have a '.' path component"),
            ("/x", "task name '/x' must not start with '/'"),
            (JSONString(wtf8: Array("t\0u".utf8)), "task name 't\\0u' must not contain a NUL byte"),
        ]
        for (name, message) in cases {
            let error = caught { try PrefixValidation.validateTaskName(name) }
            XCTAssertEqual(error?.kind, .invalidArgument, name.description)
            XCTAssertTrue(error?.message.hasPrefix(message) ?? false, error?.message ?? "")
            XCTAssertEqual(caught { try TaskRegistry().add(TaskDescriptor(name: name)) }?.message, error?.message)
        }
        let step = caught { try PrefixValidation.validateTaskName("../x", step: "train") }
        XCTAssertTrue(step?.message.hasPrefix("task name '../x' of step 'train' must not") ?? false, step?.message ?? "")
    }

    func testDottedAndGroupedTaskNamesAreFine() throws {
        let registry = TaskRegistry()
        for name: JSONString in ["pkg.module.task", "a..b", "..pkg", "pkg..", "group/task", "x.y/z.w", "...", "a/.../b"] {
            XCTAssertNoThrow(try registry.add(TaskDescriptor(name: name)), name.description)
        }
        XCTAssertEqual(registry.count, 8)
    }

    func testABuildRefusesAStepTaskThatClimbsOut() {
        let pipeline = PlanFixture.pipeline("p", [PlanFixture.step("ok", "t"), PlanFixture.step("bad", "../etc")])
        let error = caught { try PlanFixture.build(pipeline) }
        XCTAssertEqual(error?.message,
                       "task name '../etc' of step 'bad' must not have a '..' path component: it names a directory inside the base prefix")
        // muflow's own checks come first: a ':' in a step name is reported before.
        let both = PlanFixture.pipeline("p", [PlanFixture.step("a:b", "../etc")])
        XCTAssertTrue(caught { try PlanFixture.build(both) }?.message.contains("must not contain ':'") ?? false)
    }

    func testABuildRefusesATaskKwargThatClimbsOut() {
        let pipeline = PlanFixture.pipeline("p", [PlanFixture.step("s", "t", forEach: true)])
        for label in ["..", "../x", "a/../../x", "x/.."] {
            let jobs: [JSONString: [JSONObject]] = ["s": [PlanFixture.object(#"{"i": 0}"#), PlanFixture.object(#"{"task": "\#(label)"}"#)]]
            let error = caught { try PlanFixture.build(pipeline, base: "out/base", jobs: jobs) }
            XCTAssertEqual(error?.kind, .invalidArgument)
            XCTAssertTrue(error?.message.hasPrefix("the label '\(label)' of a node of task 't' has a '..' path component: its storage prefix 'out/base/\(label)/") ?? false,
                          error?.message ?? "")
            XCTAssertTrue(error?.message.contains("would climb out of the base prefix 'out/base'") ?? false)
        }
    }

    func testLabelsThatStayInsideTheBaseBuildAsInMuflow() throws {
        let pipeline = PlanFixture.pipeline("p", [PlanFixture.step("s", "t", forEach: true)])
        let labels = ["/x", "", ".", "a//b", "a/./b", "x..y", "...", "a/b"]
        let jobs: [JSONString: [JSONObject]] = ["s": labels.map { PlanFixture.object(#"{"task": "\#($0)"}"#) }]
        for base: JSONString in ["muflow", "", "/abs", "../up"] {
            let plan = try PlanFixture.build(pipeline, base: base, jobs: jobs)
            XCTAssertEqual(plan.nodes.count, labels.count + 1)  // and the sentinel root
            for (node, label) in zip(plan.nodes, labels) {
                XCTAssertTrue(node.storagePrefix.description.hasPrefix("\(base)/\(label)/"), node.storagePrefix.description)
            }
        }
    }

    func testASentinelNamedToClimbOutIsRefused() throws {
        let fanOut = PlanFixture.pipeline("../p", [PlanFixture.step("s", "t", forEach: true)])
        let jobs: [JSONString: [JSONObject]] = ["s": PlanFixture.objects(#"[{"i": 0}, {"i": 1}]"#)]
        XCTAssertTrue(caught { try PlanFixture.build(fanOut, jobs: jobs) }?.message.hasPrefix("the label '../p' of a node of task '../p'") ?? false)
        // With one node in the last step there is no sentinel.
        let single = PlanFixture.pipeline("../p", [PlanFixture.step("s", "t")])
        XCTAssertEqual(try PlanFixture.build(single).nodes.count, 1)
    }

    func testStorageRefusesAPrefixOutsideItsBase() {
        let cases: [(String, String)] = [
            ("", "storage prefix must not be empty"),
            ("/x/t/0123", "storage prefix '/x/t/0123' is absolute"),
            ("../x/t/0123", "storage prefix '../x/t/0123' has a '..' path component"),
            ("..", "storage prefix '..' has a '..' path component"),
            ("muflow/../../x", "storage prefix 'muflow/../../x' has a '..' path component"),
            ("muflow/..", "storage prefix 'muflow/..' has a '..' path component"),
            ("a\0b", "storage prefix 'a\\0b' must not contain a NUL byte"),
        ]
        let base = directory + "/base"
        for (prefix, message) in cases {
            let error = caught { try LocalStorage(base: base, prefix: prefix) }
            XCTAssertEqual(error?.kind, .invalidArgument, prefix)
            XCTAssertTrue(error?.message.hasPrefix(message) ?? false, error?.message ?? "")
            if !prefix.isEmpty && !prefix.contains("\0") {
                XCTAssertTrue(error?.message.contains(base) ?? false, error?.message ?? "")
            }
        }
        XCTAssertEqual(entries(directory), [], "nothing was created")
        XCTAssertEqual(caught { try LocalStorage(base: "", prefix: "a") }?.message, "base directory must not be empty")
    }

    func testStorageOpensAPrefixInsideItsBase() throws {
        for (base, prefix) in [(directory, "muflow/pkg.task/0123"), (directory + "/", "a//b/./c"), (directory, "x..y/..z")] {
            let storage = try LocalStorage(base: base, prefix: prefix)
            XCTAssertTrue(storage.root.hasPrefix(directory + "/"), storage.root)
            try storage.save("out.txt", Array("x".utf8))
            XCTAssertTrue(try storage.exists("out.txt"))
        }
        XCTAssertEqual(entries(directory), ["a", "muflow", "x..y"])
    }
}
