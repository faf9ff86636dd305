import XCTest
@testable import MeshNet

final class TimerHeapTests: XCTestCase {
    func testTimersComeOutByDeadlineThenByOrderScheduled() {
        var heap = TimerHeap()
        var fired: [Int] = []
        let deadlines: [UInt64] = [50, 10, 40, 10, 30, 20, 60, 5]
        for (id, deadline) in deadlines.enumerated() { heap.insert(.init(deadline: deadline, id: id, work: { fired.append(id) })) }
        XCTAssertEqual(heap.nextDeadline, 5)
        XCTAssertTrue(heap.remove(id: 2), "the 40")
        XCTAssertFalse(heap.remove(id: 2), "already gone")
        XCTAssertNil(heap.popDue(now: 4))
        while let timer = heap.popDue(now: 55) { timer.work() }
        XCTAssertEqual(fired, [7, 1, 3, 5, 4, 0])
        XCTAssertEqual(heap.count, 1)
    }

    func testManyInsertsAndCancelsKeepTheOrder() {
        var heap = TimerHeap()
        var generator = SystemRandomNumberGenerator()
        var expected: [Int: UInt64] = [:]
        for id in 0..<2000 {
            let deadline = UInt64.random(in: 0..<500, using: &generator)
            heap.insert(.init(deadline: deadline, id: id, work: {}))
            expected[id] = deadline
        }
        for id in stride(from: 0, to: 2000, by: 3) { heap.remove(id: id); expected[id] = nil }
        var last: (UInt64, Int) = (0, -1)
        var seen = 0
        while let timer = heap.popDue(now: .max) {
            XCTAssertTrue((timer.deadline, timer.id) > last, "out of order at \(timer.id)")
            XCTAssertEqual(expected[timer.id], timer.deadline)
            last = (timer.deadline, timer.id)
            seen += 1
        }
        XCTAssertEqual(seen, expected.count)
    }
}
