import Foundation
import XCTest
import MeshTestSupport
@testable import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// TCPConnection over real loopback sockets. The socket is watched edge-triggered (one report per change), so
/// these check what the connection must remember itself: bytes left in the socket while paused or past a turn's
/// reads, a FIN behind data, output that waits for room.
final class TCPConnectionTests: XCTestCase {
    /// What the server side of one connection saw, written on the loop and read by the test.
    private final class Seen: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        private var closedFlag = false
        private var peerClosedWriteFlag = false
        private var drainedFlag = false
        func add(_ data: ByteBuffer) { lock.lock(); data.withUnsafeReadableBytes { bytes += $0 }; lock.unlock() }
        func close() { lock.lock(); closedFlag = true; lock.unlock() }
        func peerClosedWrite() { lock.lock(); peerClosedWriteFlag = true; lock.unlock() }
        func drain() { lock.lock(); drainedFlag = true; lock.unlock() }
        var received: [UInt8] { lock.lock(); defer { lock.unlock() }; return bytes }
        var count: Int { lock.lock(); defer { lock.unlock() }; return bytes.count }
        var closed: Bool { lock.lock(); defer { lock.unlock() }; return closedFlag }
        var toldPeerClosedWrite: Bool { lock.lock(); defer { lock.unlock() }; return peerClosedWriteFlag }
        var drained: Bool { lock.lock(); defer { lock.unlock() }; return drainedFlag }
    }

    private final class Box<T>: @unchecked Sendable {
        var value: T?
    }

    /// A loop with a listener; `setUp` runs on the loop for each accepted socket (before its connection starts).
    private func serve(_ setUp: @escaping (Int32, EventLoop) -> Void) throws -> (loop: EventLoop, listener: TCPListener) {
        let loop = try EventLoop(name: "tcp-connection-test")
        loop.start()
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
        listener.start { fd in setUp(fd, loop) }
        return (loop, listener)
    }

    /// Sends every byte of `bytes` on a blocking socket.
    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            XCTAssertGreaterThan(sent, 0, "send: \(String(cString: strerror(errno)))")
            if sent <= 0 { return }
            offset += sent
        }
    }

    func testBytesAndAFinThatCameWhileReadingWasPausedAreReadOnResume() throws {
        let seen = Seen()
        let connection = Box<TCPConnection>()
        let (loop, listener) = try serve { fd, loop in
            let tcp = TCPConnection(fd: fd, loop: loop)
            connection.value = tcp
            tcp.onData = { data in seen.add(data); tcp.pauseReading() }
            tcp.onPeerClosedWrite = { seen.peerClosedWrite() }
            tcp.onClose = { seen.close() }
            try? tcp.start()
        }
        defer { listener.close(); loop.stop() }
        let client = try LoopbackSocket.connect(port: listener.port)
        defer { close(client) }
        sendAll(client, Array("one".utf8))
        XCTAssertTrue(eventually { seen.received == Array("one".utf8) }, "first bytes: \(seen.received)")
        // Paused now: these bytes and the FIN after them are reported once, while nobody reads.
        sendAll(client, Array("two".utf8))
        shutdown(client, Int32(SHUT_WR))
        XCTAssertTrue(eventually { seen.toldPeerClosedWrite }, "a FIN while paused is told")
        XCTAssertEqual(seen.received, Array("one".utf8), "nothing is delivered while paused")
        loop.execute {
            connection.value?.onData = { data in seen.add(data) }
            connection.value?.resumeReading()
        }
        XCTAssertTrue(eventually { seen.closed }, "the FIN behind the bytes ends the connection after resuming")
        XCTAssertEqual(String(decoding: seen.received, as: UTF8.self), "onetwo")
    }

    func testInputLeftAfterATurnsReadsAndAResumeIsReadWithoutAnotherReport() throws {
        let seen = Seen()
        let connection = Box<TCPConnection>()
        let (loop, listener) = try serve { fd, loop in
            // Room for much more than one turn's reads (4 x 64 KiB), so it all waits in the socket at once.
            var size: Int32 = 8 << 20
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            let tcp = TCPConnection(fd: fd, loop: loop)
            connection.value = tcp
            tcp.onData = { data in seen.add(data) }
            tcp.onClose = { seen.close() }
            tcp.pauseReading()
            try? tcp.start()
        }
        defer { listener.close(); loop.stop() }
        let client = try LoopbackSocket.connect(port: listener.port)
        defer { close(client) }
        XCTAssertTrue(eventually { connection.value != nil }, "accepted")
        // Fill the paused server's socket until it takes no more (the client's own buffer then fills too).
        var size: Int32 = 8 << 20
        setsockopt(client, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let chunk = [UInt8](repeating: 7, count: 64 * 1024)
        var sent = 0
        while true {
            let count = chunk.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { break }
            sent += count
        }
        XCTAssertGreaterThan(sent, 4 * 64 * 1024, "more than one turn's reads wait")
        loop.execute { connection.value?.resumeReading() }
        XCTAssertTrue(eventually { seen.count == sent }, "all \(sent) bytes read after resuming, with no new bytes to report them: \(seen.count)")
        XCTAssertFalse(seen.closed)
    }

    func testAFinRightBehindBytesIsReadToTheEnd() throws {
        let seen = Seen()
        let (loop, listener) = try serve { fd, loop in
            let tcp = TCPConnection(fd: fd, loop: loop)
            tcp.onData = { data in seen.add(data) }
            tcp.onClose = { seen.close() }
            try? tcp.start()
        }
        defer { listener.close(); loop.stop() }
        for round in 0..<20 {
            let before = seen.count
            let client = try LoopbackSocket.connect(port: listener.port)
            // Bytes and FIN together, often before the connection is even accepted: one report for both.
            sendAll(client, Array("bye".utf8))
            shutdown(client, Int32(SHUT_WR))
            var end: UInt8 = 0
            XCTAssertEqual(recv(client, &end, 1, 0), 0, "round \(round): the server closes once it read the FIN")
            close(client)
            XCTAssertEqual(seen.count, before + 3, "round \(round)")
        }
    }

    func testOutputThatWaitsForRoomIsWrittenWhenThePeerReads() throws {
        let seen = Seen()
        let total = 16 << 20
        let (loop, listener) = try serve { fd, loop in
            let tcp = TCPConnection(fd: fd, loop: loop)
            tcp.onDrained = { seen.drain() }
            try? tcp.start()
            // Far more than the socket takes: the rest goes as the peer reads.
            tcp.send(ByteBuffer(bytes: [UInt8](repeating: 1, count: total)))
        }
        defer { listener.close(); loop.stop() }
        let client = try LoopbackSocket.connect(port: listener.port)
        defer { close(client) }
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while received < total {
            let count = recv(client, &buffer, buffer.count, 0)
            XCTAssertGreaterThan(count, 0, "the server stopped after \(received) bytes")
            if count <= 0 { break }
            received += count
        }
        XCTAssertEqual(received, total)
        XCTAssertTrue(eventually { seen.drained }, "onDrained once everything was written")
    }
}
