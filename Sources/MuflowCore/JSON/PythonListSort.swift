/// CPython's `list.sort` for lists shorter than 64 elements (a run counted from the
/// front, then binary insertion), step for step. For a consistent order every correct
/// sort agrees with CPython's; this exists for orders that are not consistent, such as
/// NaN among floats, where only the same sequence of comparisons gives the same result.
package enum PythonListSort {
    package static let exactLimit = 64

    @inlinable
    package static func sort<T>(_ items: inout [T], by less: (T, T) -> Bool) {
        precondition(items.count < exactLimit, "exact emulation covers lists of fewer than 64 elements")
        guard items.count > 1 else { return }
        var run = 2
        if less(items[1], items[0]) {
            while run < items.count && less(items[run], items[run - 1]) { run += 1 }
            items[0..<run].reverse()
        } else {
            while run < items.count && !less(items[run], items[run - 1]) { run += 1 }
        }
        for start in run..<items.count {
            let pivot = items[start]
            var low = 0
            var high = start
            repeat {
                let middle = low + (high - low) / 2
                if less(pivot, items[middle]) { high = middle } else { low = middle + 1 }
            } while low < high
            items.remove(at: start)
            items.insert(pivot, at: low)
        }
    }
}
