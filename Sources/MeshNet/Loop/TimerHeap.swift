/// Timers ordered by deadline in a binary min-heap: scheduling and cancelling cost O(log n), finding the next
/// deadline O(1). Timers with the same deadline fire in the order they were scheduled.
struct TimerHeap {
    struct Timer {
        /// Nanoseconds on the loop's clock.
        let deadline: UInt64
        let id: Int
        let work: () -> Void

        func firesBefore(_ other: Timer) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : id < other.id
        }
    }

    private var timers: [Timer] = []
    /// Each timer's index in `timers`, so a cancel finds it without a scan.
    private var positions: [Int: Int] = [:]

    var count: Int { timers.count }
    var isEmpty: Bool { timers.isEmpty }

    /// The earliest deadline, if any timer is waiting.
    var nextDeadline: UInt64? { timers.first?.deadline }

    mutating func insert(_ timer: Timer) {
        timers.append(timer)
        positions[timer.id] = timers.count - 1
        siftUp(timers.count - 1)
    }

    /// Removes the timer with `id`; false when it already fired or was cancelled.
    @discardableResult
    mutating func remove(id: Int) -> Bool {
        guard let index = positions[id] else { return false }
        remove(at: index)
        return true
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    mutating func popDue(now: UInt64) -> Timer? {
        guard let first = timers.first, first.deadline <= now else { return nil }
        remove(at: 0)
        return first
    }

    mutating func removeAll() {
        timers.removeAll()
        positions.removeAll()
    }

    private mutating func remove(at index: Int) {
        positions[timers[index].id] = nil
        let last = timers.count - 1
        if index != last {
            timers.swapAt(index, last)
            positions[timers[index].id] = index
        }
        timers.removeLast()
        guard index < timers.count else { return }
        siftDown(index)
        siftUp(index)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard timers[child].firesBefore(timers[parent]) else { return }
            swap(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < timers.count && timers[left].firesBefore(timers[first]) { first = left }
            if right < timers.count && timers[right].firesBefore(timers[first]) { first = right }
            guard first != parent else { return }
            swap(parent, first)
            parent = first
        }
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        timers.swapAt(a, b)
        positions[timers[a].id] = a
        positions[timers[b].id] = b
    }
}
