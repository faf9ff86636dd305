#if canImport(Glibc)
import Glibc
#endif
import MeshNet

/// A TLS engine over a blocking socket, for clients in tests and benchmarks: each call blocks until it is done, and a
/// read gives up after the socket's receive timeout, so no caller can hang.
public final class BlockingTLSStream {
    public let engine: TLSEngine
    private let fd: Int32
    private var closed = false
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    /// Plaintext read but not yet returned by `readLine`.
    private var unread: [UInt8] = []

    /// Takes over `fd` (a connected blocking socket, closed on `close`, `reset` or deinit); reads wait at most
    /// `receiveTimeout` seconds.
    public init(fd: Int32, engine: TLSEngine, receiveTimeout: Int = 10) {
        self.fd = fd
        self.engine = engine
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if !closed { Glibc.close(fd) } }

    /// Runs the handshake to its end; a failure's alert is still sent to the peer.
    public func handshake() throws {
        defer { try? flush() }
        while try engine.handshake() == .needsInput {
            try flush()
            try fill()
        }
    }

    /// Encrypts and sends all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        let failure: TLSError? = bytes.withUnsafeBytes { plaintext in
            do throws(TLSError) { try engine.write(plaintext) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        try flush()
    }

    /// Some plaintext (what one record held), or nil once the peer's close_notify has arrived.
    public func read() throws -> [UInt8]? {
        if !unread.isEmpty { defer { unread = [] }; return unread }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let result = buffer.withUnsafeMutableBytes { space in Result { () throws(TLSError) in try engine.read(into: space) } }
            switch try result.get() {
            case .bytes(let count): return Array(buffer[0..<count])
            case .closed: return nil
            case .needsInput:
                try flush()
                try fill()
            }
        }
    }

    /// Plaintext up to and including the next newline (nil at close_notify).
    public func readLine() throws -> String? {
        while true {
            if let end = unread.firstIndex(of: 10) {
                defer { unread.removeFirst(end + 1) }
                return String(decoding: unread[...end], as: UTF8.self)
            }
            let held = unread
            unread = []
            guard let more = try read() else { return nil }
            unread = held + more
        }
    }

    /// Sends close_notify and closes the socket.
    public func close() {
        guard !closed else { return }
        engine.close()
        try? flush()
        closed = true
        Glibc.close(fd)
    }

    /// Closes with a TCP reset (no close_notify), so the peer's next write fails.
    public func reset() {
        guard !closed else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        closed = true
        Glibc.close(fd)
    }

    /// Sends all waiting ciphertext (MSG_NOSIGNAL: a peer that is gone is an error here, not a SIGPIPE).
    private func flush() throws(NetworkError) {
        while engine.pendingOutputBytes > 0 {
            let count = scratch.withUnsafeMutableBytes { engine.takeOutput(into: $0) }
            var offset = 0
            while offset < count {
                let sent = scratch.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL)) }
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { throw NetworkError.system("send") }
                offset += sent
            }
        }
    }

    /// Receives ciphertext once; at the end of the stream the engine is told so.
    private func fill() throws(NetworkError) {
        let transfer = scratch.withUnsafeMutableBytes { Socket.read(fd, into: $0) }
        switch transfer {
        case .done(let count): scratch.withUnsafeBytes { engine.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        case .end: engine.receiveEndOfInput()
        case .wouldBlock: throw NetworkError.system("recv (timed out)", EAGAIN)
        case .failed(let code): throw NetworkError.system("recv", code)
        }
    }
}
