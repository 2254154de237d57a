import Dispatch
import Synchronization
import XCTest
@testable import MuflowCore

final class SchedulerTests: XCTestCase {
    private func scheduler(_ deps: [[Int32]], _ policy: FailurePolicy = .stopOnFirstFailure) throws -> DependencyScheduler {
        DependencyScheduler(graph: try DependencyGraph(dependencies: deps), policy: policy)
    }

    /// Runs every node on one thread, failing those in `failing`; returns the order run.
    private func drain(_ s: DependencyScheduler, failing: Set<Int> = []) -> [Int] {
        var order: [Int] = []
        while let node = s.next() {
            order.append(node)
            s.finish(node, failing.contains(node) ? .failed : .succeeded)
        }
        return order
    }

    func testSerialOrderIsMuflowsWaveOrder() throws {
        // 0 and 1 are leaves; 2 needs 0; 3 needs 1 and 2; 4 needs 0.
        let s = try scheduler([[], [], [0], [1, 2], [0]])
        XCTAssertEqual(drain(s), [0, 1, 2, 4, 3])
        XCTAssertEqual(s.snapshot.succeeded, 5)
        XCTAssertTrue(s.snapshot.finished)
    }

    func testCycleIsRejected() {
        XCTAssertThrowsError(try DependencyGraph(dependencies: [[1], [0], []])) { error in
            XCTAssertEqual((error as? MuflowError)?.kind, .cycle)
        }
    }

    func testStopOnFirstFailureHandsOutNothingMore() throws {
        let s = try scheduler([[], [], [0], [1]])
        XCTAssertEqual(drain(s, failing: [0]), [0])
        let p = s.snapshot
        XCTAssertEqual(p.failed, 1)
        XCTAssertEqual(p.skipped, 3)
        XCTAssertTrue(p.finished)
    }

    func testContinueIndependentSkipsOnlyDescendants() throws {
        let s = try scheduler([[], [], [0], [1], [2, 3]], .continueIndependent)
        XCTAssertEqual(Set(drain(s, failing: [0])), [0, 1, 3])
        let p = s.snapshot
        XCTAssertEqual(p.succeeded, 2)
        XCTAssertEqual(p.failed, 1)
        XCTAssertEqual(p.skipped, 2)
    }

    func testCancelStopsAndDrains() throws {
        let s = try scheduler([[], [0], [1]])
        let first = s.next()
        s.cancel()
        XCTAssertNil(s.next())
        XCTAssertFalse(s.snapshot.finished, "a running node must finish first")
        s.finish(first!, .succeeded)
        let p = s.waitUntilFinished()
        XCTAssertTrue(p.cancelled)
        XCTAssertEqual(p.skipped, 2)
    }

    func testEmptyPlanIsFinished() throws {
        let s = try scheduler([])
        XCTAssertNil(s.next())
        XCTAssertTrue(s.snapshot.finished)
    }

    func testParallelWorkersRunEveryNodeOnceAfterItsDependencies() throws {
        // A layered graph: 50 layers of 40 nodes, each depending on 3 of the layer above.
        var deps: [[Int32]] = []
        for layer in 0..<50 {
            for i in 0..<40 {
                deps.append(layer == 0 ? [] : (0..<3).map { Int32((layer - 1) * 40 + (i + $0 * 7) % 40) })
            }
        }
        let s = try scheduler(deps)
        // Locked, not Synchronization's Mutex, whose hand-offs ThreadSanitizer cannot see.
        let finished = Locked<[Bool]>([Bool](repeating: false, count: deps.count))
        let violations = Atomic<Int>(0)
        let runs = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            while let node = s.next() {
                let ok = finished.withLock { done in deps[node].allSatisfy { done[Int($0)] } }
                if !ok { violations.add(1, ordering: .relaxed) }
                runs.add(1, ordering: .relaxed)
                finished.withLock { $0[node] = true }
                s.finish(node, .succeeded)
            }
        }
        XCTAssertEqual(violations.load(ordering: .relaxed), 0)
        XCTAssertEqual(runs.load(ordering: .relaxed), deps.count)
        XCTAssertEqual(s.snapshot.succeeded, deps.count)
    }

    func testLongChainIsLinear() throws {
        let n = 100_000
        let deps = (0..<n).map { $0 == 0 ? [] : [Int32($0 - 1)] }
        let s = try scheduler(deps)
        let order = drain(s)
        XCTAssertEqual(order, Array(0..<n))
    }
}
