/// Ready nodes ordered by (depth, index): depth is the longest path from a node
/// without dependencies, index the node's position in the plan. Taken one at a time
/// this is the order of muflow's serial loop (waves of ready nodes, each in plan order).
struct ReadyQueue {
    private var heap: [(depth: Int32, index: Int32)] = []

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    /// The depth of the node `pop` would return.
    var firstDepth: Int32? { heap.first?.depth }

    mutating func push(_ index: Int32, depth: Int32) {
        heap.append((depth, index))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int32? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0].index
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var best = left
                if left + 1 < heap.count && precedes(heap[left + 1], heap[left]) { best = left + 1 }
                guard precedes(heap[best], heap[parent]) else { break }
                heap.swapAt(best, parent)
                parent = best
            }
        }
        return top
    }

    mutating func removeAll() { heap.removeAll() }

    private func precedes(_ a: (depth: Int32, index: Int32), _ b: (depth: Int32, index: Int32)) -> Bool {
        a.depth != b.depth ? a.depth < b.depth : a.index < b.index
    }
}
