/// A stack whose top elements can be moved out in bulk into an array, without the
/// retain and release per element that slicing and then removing would cost.
/// Inlinable: readers in other modules of the package push and pop per value.
package final class MoveStack<Element> {
    @usableFromInline var base: UnsafeMutablePointer<Element>
    @usableFromInline var capacity: Int
    package var count = 0

    @inlinable
    package init(capacity: Int = 64) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inlinable @inline(__always)
    package func push(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    @inlinable @inline(__always)
    package func pop() -> Element {
        count -= 1
        return (base + count).move()
    }

    @inlinable
    package var top: Element { base[count - 1] }

    @inlinable
    package subscript(i: Int) -> Element { base[i] }

    /// Moves the elements from `start` to the top out, in order.
    @inlinable
    package func popAll(from start: Int) -> [Element] {
        let n = count - start
        let items = [Element](unsafeUninitializedCapacity: n) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: base + start, count: n)
            initialized = n
        }
        count = start
        return items
    }

    /// Moves the elements from `start` to the top onto the end of `array`.
    @inlinable
    package func popAll(from start: Int, appendingTo array: inout [Element]) {
        let n = count - start
        array.reserveCapacity(array.count + n)
        for i in start..<count { array.append((base + i).move()) }
        count = start
    }

    @usableFromInline
    func grow() {
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }
}
