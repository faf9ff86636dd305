import Foundation
import MeshTestSupport
import XCTest
@testable import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// Backpressure through a relay on real sockets: a source writes into the proxy, the proxy relays to a sink, and
/// the sink reads slowly or not at all.
final class ChannelRelayTests: XCTestCase {
    /// A proxy on one loop: accepts a connection, connects to the sink, relays both ways.
    private final class Proxy: @unchecked Sendable {
        let loop: EventLoop
        let listener: TCPListener
        private let lock = NSLock()
        private var relay: (downstream: Channel, upstream: Channel, downEnd: ChannelRelay.End, upEnd: ChannelRelay.End)?

        init(sinkPort: Int) throws {
            loop = try EventLoop(name: "relay-proxy")
            loop.start()
            listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
            listener.start { [self] fd in
                guard let downstream = try? TCPConnection(fd: fd, loop: loop, tls: nil) else { close(fd); return }
                TCPConnection.connect(host: "127.0.0.1", port: sinkPort, loop: loop, tls: nil) { [self] result in
                    guard case .success(let upstream) = result else { downstream.close(); return }
                    let downEnd = ChannelRelay.End(), upEnd = ChannelRelay.End()
                    let down = Channel(connection: downstream, handlers: [downEnd])
                    let up = Channel(connection: upstream, handlers: [upEnd])
                    ChannelRelay.join(down, downEnd, up, upEnd)
                    try? up.start()
                    try? down.start()
                    lock.lock(); relay = (down, up, downEnd, upEnd); lock.unlock()
                }
            }
        }

        var isReady: Bool { lock.lock(); defer { lock.unlock() }; return relay != nil }

        /// Runs `body` on the loop with the relay's parts.
        func inspect<T>(_ body: @escaping (Channel, Channel, ChannelRelay.End, ChannelRelay.End) -> T) -> T {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: T?
            loop.execute { [self] in
                lock.lock(); let parts = relay!; lock.unlock()
                result = body(parts.downstream, parts.upstream, parts.downEnd, parts.upEnd)
                done.signal()
            }
            done.wait()
            return result!
        }

        func stop() {
            listener.close()
            loop.stop()
        }
    }

    /// A listening socket whose first accepted connection is handed over blocking, with a receive timeout.
    private final class Sink: @unchecked Sendable {
        let loop: EventLoop
        let listener: TCPListener
        private let lock = NSLock()
        private var accepted: Int32?

        init() throws {
            loop = try EventLoop(name: "relay-sink")
            loop.start()
            listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
            // A small receive buffer (inherited by the accepted socket), so the kernel cannot soak up what the proxy sends.
            var small: Int32 = 64 * 1024
            setsockopt(listener.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            listener.start { [self] fd in
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                lock.lock(); accepted = fd; lock.unlock()
            }
        }

        var fd: Int32? { lock.lock(); defer { lock.unlock() }; return accepted }

        /// Reads until `total` bytes came (checking each is `index % 251`), `chunk` bytes per read; the count read.
        func read(total: Int, chunk: Int, progress: (Int) -> Void = { _ in }) -> Int {
            guard let fd else { return 0 }
            return readPattern(fd: fd, total: total, chunk: chunk, progress: progress)
        }

        func stop() {
            if let fd { close(fd) }
            listener.close()
            loop.stop()
        }
    }

    /// Reads from `fd` until `total` bytes came (checking each is `index % 251`), `chunk` bytes per read; the count
    /// read, or -1 at the first wrong byte.
    private static func readPattern(fd: Int32, total: Int, chunk: Int, progress: (Int) -> Void = { _ in }) -> Int {
        var buffer = [UInt8](repeating: 0, count: chunk)
        var received = 0
        while received < total {
            let count = Glibc.read(fd, &buffer, chunk)
            guard count > 0 else { break }
            for index in 0..<count where buffer[index] != UInt8((received + index) % 251) { return -1 }
            received += count
            progress(received)
        }
        return received
    }

    /// Writes `total` bytes of the `index % 251` pattern to a blocking socket from another thread.
    private func startSource(port: Int, total: Int) throws -> (fd: Int32, done: DispatchSemaphore) {
        let fd = try LoopbackSocket.connect(port: port)
        return (fd, writePattern(fd: fd, total: total))
    }

    /// Writes `total` bytes of the `index % 251` pattern to `fd` from another thread, then shuts its sending side.
    private func writePattern(fd: Int32, total: Int) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let block = (0..<(251 * 1024)).map { UInt8($0 % 251) }
            var sent = 0
            while sent < total {
                // The block is a whole number of patterns, so a short write just continues inside it.
                let offset = sent % block.count
                let count = min(block.count - offset, total - sent)
                let written = block.withUnsafeBytes { write(fd, $0.baseAddress! + offset, count) }
                guard written > 0 else { break }
                sent += written
            }
            shutdown(fd, Int32(SHUT_WR))
            done.signal()
        }
        return done
    }

    func testASlowReaderMakesTheWriterUnwritableAndThePausedReadResumesWhenDrained() throws {
        let sink = try Sink()
        defer { sink.stop() }
        let proxy = try Proxy(sinkPort: sink.listener.port)
        defer { proxy.stop() }
        let total = 64 * 1024 * 1024
        let source = try startSource(port: proxy.listener.port, total: total)
        defer { close(source.fd) }
        XCTAssertTrue(eventually { proxy.isReady && sink.fd != nil })

        // The sink reads nothing: the upstream's queue passes the high watermark and the downstream stops reading.
        XCTAssertTrue(eventually { proxy.inspect { down, _, _, _ in down.connection.isReadingPaused } }, "the downstream pauses")
        let (writable, pauses, queued) = proxy.inspect { _, up, downEnd, upEnd in (up.isWritable, upEnd.pauses, downEnd.mostQueuedByPeer) }
        XCTAssertFalse(writable)
        XCTAssertGreaterThanOrEqual(pauses, 1)
        // At most one read beyond the high watermark is queued: the read that crossed it.
        XCTAssertLessThanOrEqual(queued, WriteWatermarks.standard.high + ReceiveBuffer.blockSize)

        // The sink drains everything: reading resumes and every byte arrives in order.
        XCTAssertEqual(sink.read(total: total, chunk: 65536), total)
        XCTAssertEqual(source.done.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(eventually { proxy.inspect { _, up, _, _ in up.isWritable } })
    }

    func testTheOtherWayAClientThatDoesNotReadPausesTheUpstream() throws {
        let sink = try Sink()
        defer { sink.stop() }
        let proxy = try Proxy(sinkPort: sink.listener.port)
        defer { proxy.stop() }
        let client = try LoopbackSocket.connect(port: proxy.listener.port)
        defer { close(client) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        XCTAssertTrue(eventually { proxy.isReady && sink.fd != nil })
        // The upstream answers with far more than the kernel buffers hold; the client reads nothing yet.
        let total = 64 * 1024 * 1024
        let written = writePattern(fd: sink.fd!, total: total)
        XCTAssertTrue(eventually { proxy.inspect { _, up, _, _ in up.connection.isReadingPaused } }, "the upstream pauses")
        let (writable, pauses, queued) = proxy.inspect { down, _, downEnd, upEnd in (down.isWritable, downEnd.pauses, upEnd.mostQueuedByPeer) }
        XCTAssertFalse(writable)
        XCTAssertGreaterThanOrEqual(pauses, 1)
        XCTAssertLessThanOrEqual(queued, WriteWatermarks.standard.high + ReceiveBuffer.blockSize)
        XCTAssertEqual(Self.readPattern(fd: client, total: total, chunk: 65536), total)
        XCTAssertEqual(written.wait(timeout: .now() + 10), .success)
    }

    func testStreaming200MiBToASlowReaderKeepsTheProxysMemoryBounded() throws {
        let sink = try Sink()
        defer { sink.stop() }
        let proxy = try Proxy(sinkPort: sink.listener.port)
        defer { proxy.stop() }
        let total = 200 * 1024 * 1024
        let rssBefore = residentBytes()
        let source = try startSource(port: proxy.listener.port, total: total)
        defer { close(source.fd) }
        XCTAssertTrue(eventually { proxy.isReady && sink.fd != nil })
        // Small reads make the sink slower than the proxy's 64 KiB ones. RSS is sampled every 8 MiB.
        var rssPeak = rssBefore
        var nextSample = 0
        let received = sink.read(total: total, chunk: 4096) { count in
            if count >= nextSample { rssPeak = max(rssPeak, residentBytes()); nextSample += 8 << 20 }
        }
        XCTAssertEqual(received, total, "every byte arrives, in order")
        XCTAssertEqual(source.done.wait(timeout: .now() + 10), .success)
        let (pauses, queued) = proxy.inspect { _, _, downEnd, upEnd in (upEnd.pauses, downEnd.mostQueuedByPeer) }
        XCTAssertGreaterThan(pauses, 0, "the slow sink paused the source's side")
        XCTAssertLessThanOrEqual(queued, WriteWatermarks.standard.high + ReceiveBuffer.blockSize, "the proxy held at most a watermark and a read")
        let growth = rssPeak - rssBefore
        XCTAssertLessThan(growth, 48 << 20, "RSS grew \(growth >> 20) MiB while 200 MiB went through")
        print("relay of 200 MiB: \(pauses) pauses, at most \(queued) bytes queued, RSS growth \(growth >> 10) KiB")
    }

    /// This process's resident set, from /proc/self/statm.
    private func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
