import Foundation
import XCTest
@testable import MeshNet

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
}

private final class Events: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
