import Foundation
import XCTest
@testable import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// The listener at the process's file-descriptor limit: it backs off instead of spinning, and accepts again once
/// descriptors are free.
final class TCPListenerTests: XCTestCase {
    func testAtTheDescriptorLimitTheAcceptLoopBacksOffInsteadOfSpinning() throws {
        let loop = try EventLoop(name: "emfile-loop")
        loop.start()
        defer { loop.stop() }
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
        defer { listener.close() }
        let accepted = Counter()
        listener.start { fd in accepted.add(); close(fd) }

        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(client, 0)
        defer { close(client) }

        // Leave the process no free descriptor: a soft limit just above the highest open one, and the rest filled.
        var original = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &original)
        let open = (try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).compactMap { Int($0) }
        var lowered = original
        lowered.rlim_cur = rlim_t((open.max() ?? 64) + 8)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered), 0)
        var filler: [Int32] = []
        defer {
            for fd in filler { close(fd) }
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original)
        }
        while true {
            let fd = Glibc.open("/dev/null", O_RDONLY)
            if fd < 0 { break }
            filler.append(fd)
        }
        XCTAssertEqual(errno, EMFILE)

        // A connection arrives that the listener cannot take: the kernel completes it in the backlog.
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(listener.port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)

        // A measurement window, not a wait for an event: a spinning loop calls accept thousands of times in it.
        let before = counts(listener, loop)
        Thread.sleep(forTimeInterval: 0.5)
        let after = counts(listener, loop)
        XCTAssertLessThan(after.accepts - before.accepts, 20, "accept(2) calls in half a second at the descriptor limit")
        XCTAssertLessThan(after.turns - before.turns, 20, "loop turns in the same half second")

        for fd in filler { close(fd) }
        filler = []
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original)
        let deadline = Date().addingTimeInterval(10)
        while accepted.value == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(accepted.value, 1, "the waiting connection is accepted once descriptors are free")
    }

    /// The listener's accept(2) calls and the loop's turns so far, read on the loop.
    private func counts(_ listener: TCPListener, _ loop: EventLoop) -> (accepts: Int, turns: Int) {
        let done = DispatchSemaphore(value: 0)
        let accepts = Counter(), turns = Counter()
        loop.execute { accepts.set(listener.acceptCalls); turns.set(loop.turns); done.signal() }
        done.wait()
        return (accepts.value, turns.value)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    func set(_ value: Int) { lock.lock(); count = value; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
