import Foundation
import XCTest
@testable import MeshNet
#if canImport(Glibc)
import Glibc
#endif

final class EventLoopTests: XCTestCase {
    func testWorkFromOtherThreadsRunsOnTheLoopAndTimersFireInOrder() throws {
        let loop = try EventLoop(name: "test-loop")
        loop.start()
        defer { loop.stop() }
        let done = expectation(description: "timers")
        let events = Events()
        let note: @Sendable (String) -> Void = { events.add($0) }
        DispatchQueue.global().async {
            loop.execute {
                note("execute in loop: \(loop.inLoop)")
                loop.schedule(after: 0.15) { note("late"); done.fulfill() }
                let cancelled = loop.schedule(after: 0.05) { note("cancelled") }
                loop.schedule(after: 0.02) { note("early") }
                loop.cancel(cancelled)
            }
        }
        wait(for: [done], timeout: 5)
        XCTAssertEqual(events.all, ["execute in loop: true", "early", "late"])
        XCTAssertFalse(loop.inLoop, "the test thread is not the loop's")
    }

    func testOnAManualClockTimersFireWhenTimeIsAdvancedAndNotBefore() throws {
        let clock = ManualClock()
        let loop = try EventLoop(name: "manual", clock: clock)
        loop.start()
        defer { loop.stop() }
        let events = Events()
        onLoop(loop) {
            loop.schedule(after: 30) { events.add("30s") }
            loop.schedule(after: 10) { events.add("10s") }
            let cancelled = loop.schedule(after: 20) { events.add("20s") }
            loop.cancel(cancelled)
        }
        clock.advance(by: 9.999)
        XCTAssertEqual(events.all, [])
        clock.advance(by: 0.001)
        XCTAssertEqual(events.all, ["10s"])
        clock.advance(by: 3600)
        XCTAssertEqual(events.all, ["10s", "30s"])
        XCTAssertEqual(onLoop(loop) { loop.scheduledTimers }, 0)
    }

    /// A handler that closes another descriptor during a turn, whose number is reused at once, must not let that
    /// turn's already-collected event for the old descriptor reach the new one's handler.
    func testAnEventForAClosedDescriptorDoesNotReachTheOneThatReusesItsNumber() throws {
        let loop = try EventLoop(name: "reuse")
        loop.start()
        defer { loop.stop() }
        var first: [Int32] = [0, 0], second: [Int32] = [0, 0], quiet: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &first), 0)
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &second), 0)
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &quiet), 0)
        defer { for fd in first + second + quiet { close(fd) } }
        let calls = Events()
        let handled = DispatchSemaphore(value: 0)
        onLoop(loop) {
            // Whichever of the two runs first closes the other and puts a silent socket under its number.
            var done = false
            func takeOver(_ own: Int32, _ victim: Int32) {
                var byte: UInt8 = 0
                _ = read(own, &byte, 1)
                guard !done else { return }
                done = true
                loop.unregister(victim)
                XCTAssertEqual(dup2(quiet[0], victim), victim)
                try? loop.register(victim, for: .readable) { _ in calls.add("reused") }
                handled.signal()
            }
            try? loop.register(first[0], for: .readable) { _ in takeOver(first[0], second[0]) }
            try? loop.register(second[0], for: .readable) { _ in takeOver(second[0], first[0]) }
        }
        // Both become readable before the loop looks again, so one epoll_wait reports both.
        onLoop(loop) {
            _ = write(first[1], "x", 1)
            _ = write(second[1], "x", 1)
        }
        handled.wait()
        onLoop(loop) {}  // a full turn later
        XCTAssertEqual(calls.all, [], "the silent socket was never reported readable")
        onLoop(loop) {
            loop.unregister(first[0])
            loop.unregister(second[0])
        }
    }

    func testOnlyTheFirstWorkFromAnotherThreadWakesTheLoopAndTheLoopNeverWakesItself() throws {
        let loop = try EventLoop(name: "wakes")
        loop.start()
        defer { loop.stop() }
        let blocked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        loop.execute { blocked.signal(); release.wait() }
        blocked.wait()
        let before = loop.wakeUps
        let ran = Events()
        for index in 0..<1000 { loop.execute { if index == 999 { ran.add("last") } } }
        XCTAssertEqual(loop.wakeUps - before, 1, "1000 calls while the loop is busy: one wake-up")
        release.signal()
        onLoop(loop) {}
        XCTAssertEqual(ran.all, ["last"])
        let fromInside = onLoop(loop) { () -> Int in
            let start = loop.wakeUps
            for _ in 0..<100 { loop.execute {} }
            return loop.wakeUps - start
        }
        XCTAssertEqual(fromInside, 0, "work the loop gives itself needs no wake-up")
    }

    /// A burst of work from another thread runs in batches, and a socket that became ready meanwhile is served
    /// between them, not after the whole burst.
    func testAReadySocketIsServedBetweenBatchesOfABurst() throws {
        let loop = try EventLoop(name: "batches")
        loop.start()
        defer { loop.stop() }
        var pair: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair), 0)
        defer { close(pair[0]); close(pair[1]) }
        let order = Events()
        onLoop(loop) {
            try? loop.register(pair[0], for: .readable) { _ in
                var byte: UInt8 = 0
                _ = read(pair[0], &byte, 1)
                order.add("socket")
            }
        }
        let blocked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        loop.execute { blocked.signal(); release.wait() }
        blocked.wait()
        for index in 0..<1000 {
            loop.execute {
                if index == 0 || index == 999 { order.add("work \(index)") }
                if index == 100 { _ = write(pair[1], "x", 1) }  // the socket becomes ready in the middle of the burst
            }
        }
        release.signal()
        onLoop(loop) { loop.unregister(pair[0]) }
        XCTAssertEqual(order.all, ["work 0", "socket", "work 999"])
    }

    func testStopIsSafeFromAnyThreadAnyNumberOfTimes() throws {
        let neverStarted = try EventLoop(name: "idle")
        neverStarted.stop()
        neverStarted.stop()

        let loop = try EventLoop(name: "stops")
        loop.start()
        let stopped = expectation(description: "stopped from inside")
        loop.execute { loop.stop(); stopped.fulfill() }
        wait(for: [stopped], timeout: 5)
        let group = DispatchGroup()
        for _ in 0..<4 { DispatchQueue.global().async(group: group) { loop.stop() } }
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success, "every stop returns")
        loop.stop()
    }

    /// Runs `work` on the loop and returns its result once it ran.
    @discardableResult
    private func onLoop<T>(_ loop: EventLoop, _ work: @escaping () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: T?
        loop.execute { result = work(); done.signal() }
        done.wait()
        return result!
    }
}

final class Events: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
