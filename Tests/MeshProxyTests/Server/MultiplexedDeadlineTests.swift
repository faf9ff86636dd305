import Foundation
@testable import MeshProxy
@testable import MeshNet
import MeshTestSupport
import XCTest

/// One loop timer for many streams' deadlines, on a manual clock: each deadline runs once it passes, earliest first,
/// a stopped one never runs, and a later deadline than the pending timer's schedules nothing new.
final class MultiplexedDeadlineTests: XCTestCase {
    /// Deadlines by stream name, and what ran; touched on the loop only.
    final class Streams: @unchecked Sendable {
        var deadlines: [String: UInt64] = [:]
        var expired: [String] = []
    }

    func testDeadlinesRunOncePassedEarliestFirstAndStoppedOnesNever() throws {
        let clock = ManualClock()
        let loop = try EventLoop(name: "deadlines", clock: clock)
        loop.start()
        defer { loop.stop() }
        let streams = Streams()
        let box = ResultBox<MultiplexedDeadline>()
        loop.execute {
            box.set(.success(MultiplexedDeadline(loop: loop) { now in
                var next: UInt64?
                for (name, at) in streams.deadlines.sorted(by: { $0.value < $1.value }) {
                    if at <= now { streams.deadlines[name] = nil; streams.expired.append(name) } else { next = min(next ?? at, at) }
                }
                return next
            }))
        }
        let deadline = try box.wait()
        func onLoop(_ work: @escaping () -> Void) {
            let done = ResultBox<Bool>()
            loop.execute { work(); done.set(.success(true)) }
            _ = try? done.wait()
        }
        onLoop {
            for (name, seconds) in [("a", 3.0), ("b", 1.0), ("c", 2.0), ("stopped", 1.5)] {
                let at = deadline.deadline(after: seconds)
                streams.deadlines[name] = at
                deadline.willExpire(at: at)
            }
            XCTAssertEqual(loop.scheduledTimers, 1, "one loop timer for every stream")
            streams.deadlines["stopped"] = nil
        }
        clock.advance(by: 0.5)
        onLoop { XCTAssertEqual(streams.expired, []) }
        clock.advance(by: 1.0)
        onLoop { XCTAssertEqual(streams.expired, ["b"]) }
        clock.advance(by: 2.0)
        onLoop { XCTAssertEqual(streams.expired, ["b", "c", "a"]) }
        onLoop {
            XCTAssertEqual(loop.scheduledTimers, 0)
            // An earlier deadline than the pending timer's moves the timer.
            let late = deadline.deadline(after: 5), early = deadline.deadline(after: 1)
            streams.deadlines["late"] = late
            deadline.willExpire(at: late)
            streams.deadlines["early"] = early
            deadline.willExpire(at: early)
            XCTAssertEqual(loop.scheduledTimers, 1)
        }
        clock.advance(by: 1)
        onLoop { XCTAssertEqual(streams.expired.suffix(1), ["early"]) }
        clock.advance(by: 4)
        onLoop {
            XCTAssertEqual(streams.expired.suffix(2), ["early", "late"])
            deadline.cancel()
        }
    }
}
