import Dispatch
import XCTest
@testable import MuflowCore

final class PlanRegistryTests: XCTestCase {
    func testAddGetRemoveNamesClear() throws {
        let registry = TaskRegistry()
        try registry.add(TaskDescriptor(name: "b", identityKeys: ["id"], outputFiles: ["out.json"]))
        try registry.add(TaskDescriptor(name: "a", displayName: "A", queue: "gpu", contextType: "surface"))
        XCTAssertEqual(registry.names, ["b", "a"])
        XCTAssertEqual(registry.get("b")?.identityKeys, ["id"])
        XCTAssertEqual(registry.get("a")?.queue, "gpu")
        XCTAssertNil(registry.get("c"))
        XCTAssertEqual(PlanFixture.error { try registry.add(TaskDescriptor(name: "a")) },
                       MuflowError(.alreadyExists, "Task 'a' is already registered."))
        try registry.remove("b")
        XCTAssertEqual(registry.names, ["a"])
        XCTAssertEqual(PlanFixture.error { try registry.remove("b") }?.kind, .notFound)
        registry.clear()
        XCTAssertEqual(registry.count, 0)
    }

    func testConcurrentRegistrationKeepsEveryName() {
        let registry = TaskRegistry()
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            try! registry.add(TaskDescriptor(name: JSONString("task.\(i)")))
            _ = registry.get(JSONString("task.\(i / 2)"))
        }
        XCTAssertEqual(Set(registry.names).count, 200)
    }
}
