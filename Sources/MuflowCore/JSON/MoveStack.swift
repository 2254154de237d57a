/// A stack whose top elements can be moved out in bulk into an array, without the
/// retain and release per element that slicing and then removing would cost.
final class MoveStack<Element> {
    private var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inline(__always)
    func push(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    @inline(__always)
    func pop() -> Element {
        count -= 1
        return (base + count).move()
    }

    var top: Element { base[count - 1] }

    subscript(i: Int) -> Element { base[i] }

    /// Moves the elements from `start` to the top out, in order.
    func popAll(from start: Int) -> [Element] {
        let n = count - start
        let items = [Element](unsafeUninitializedCapacity: n) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: base + start, count: n)
            initialized = n
        }
        count = start
        return items
    }

    /// Moves the elements from `start` to the top onto the end of `array`.
    func popAll(from start: Int, appendingTo array: inout [Element]) {
        let n = count - start
        array.reserveCapacity(array.count + n)
        for i in start..<count { array.append((base + i).move()) }
        count = start
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }
}
