import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket; each accepted connection is handed to `accepted` on the listener's loop.
public final class TCPListener: @unchecked Sendable {
    public let fd: Int32
    /// The port bound (useful when asked for port 0).
    public let port: Int
    private let loop: EventLoop

    /// Binds `host` (an IPv4 or IPv6 literal) and `port` (0 for any free one) and listens.
    public init(host: String, port: Int, loop: EventLoop) throws(NetworkError) {
        self.loop = loop
        var storage = sockaddr_storage()
        let length = try Self.fill(&storage, host: host, port: port)
        let family = Int32(storage.ss_family)
        let socketFD = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw NetworkError.system("socket") }
        var on: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) } }
        guard bound == 0 else { let error = NetworkError.system("bind \(host):\(port)"); Glibc.close(socketFD); throw error }
        guard listen(socketFD, 512) == 0 else { let error = NetworkError.system("listen"); Glibc.close(socketFD); throw error }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &actualLength) } }
        // sin_port and sin6_port sit at the same offset.
        let networkPort = withUnsafePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port } }
        fd = socketFD
        self.port = Int(UInt16(bigEndian: networkPort))
    }

    /// Starts accepting; call once, from any thread.
    public func start(accepted: @escaping (Int32) -> Void) {
        loop.execute { [self] in
            try? loop.register(fd, for: .readable) { [self] _ in
                while true {
                    let client = accept(fd, nil, nil)
                    if client < 0 { break }
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    var on: Int32 = 1
                    setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                    accepted(client)
                }
            }
        }
    }

    /// Stops accepting and closes the socket.
    public func close() {
        let fd = self.fd
        loop.execute { [loop] in
            loop.unregister(fd)
            Glibc.close(fd)
        }
    }

    static func fill(_ storage: inout sockaddr_storage, host: String, port: Int) throws(NetworkError) -> socklen_t {
        var length: socklen_t = 0
        let ok = withUnsafeMutablePointer(to: &storage) { pointer -> Bool in
            if host.contains(":") {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    address.pointee.sin6_family = sa_family_t(AF_INET6)
                    address.pointee.sin6_port = UInt16(port).bigEndian
                    length = socklen_t(MemoryLayout<sockaddr_in6>.size)
                    return inet_pton(AF_INET6, host, &address.pointee.sin6_addr) == 1
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                address.pointee.sin_family = sa_family_t(AF_INET)
                address.pointee.sin_port = UInt16(port).bigEndian
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
                return inet_pton(AF_INET, host, &address.pointee.sin_addr) == 1
            }
        }
        guard ok else { throw NetworkError.address(host) }
        return length
    }
}

/// One accepted TCP connection on a loop, optionally inside TLS: bytes in go to `onData`, bytes out are queued
/// and written as the socket takes them, so a slow peer only slows itself. All calls on the loop's thread.
public final class TCPConnection: @unchecked Sendable {
    public let loop: EventLoop
    private let fd: Int32
    private let tls: TLSSession?
    private var outgoing: [UInt8] = []
    private var outgoingOffset = 0
    private var closed = false
    private var closeAfterFlush = false
    private var readPaused = false
    /// TLS may need the socket readable to write, or writable to read.
    private var tlsWantsWriteToRead = false
    private static let readSize = 64 * 1024
    private var readBuffer = [UInt8](repeating: 0, count: TCPConnection.readSize)

    /// Bytes arrived.
    public var onData: (ArraySlice<UInt8>) -> Void = { _ in }
    /// Everything queued has been written.
    public var onDrained: () -> Void = {}
    /// The connection is gone (peer closed, error, or `close`); called once.
    public var onClose: () -> Void = {}
    /// The peer stopped sending while reading was paused (it may still read what is sent).
    public var onPeerClosedWrite: () -> Void = {}
    private var peerClosedWrite = false

    public init(fd: Int32, loop: EventLoop, tls: TLSServerContext?) throws {
        self.fd = fd
        self.loop = loop
        self.tls = try tls.map { try TLSSession(server: $0, socket: fd) }
        screensPlainHTTP = tls != nil
    }

    /// A TLS server connection whose first bytes have not been looked at yet.
    private var screensPlainHTTP = false

    init(fd: Int32, loop: EventLoop, session: TLSSession?) {
        self.fd = fd
        self.loop = loop
        self.tls = session
    }

    /// Whether TLS, if any, has finished its handshake (bytes can flow).
    public var isEstablished: Bool { tls?.handshakeDone ?? true }

    /// The TLS session, for what it negotiated.
    public var session: TLSSession? { tls }

    /// Opens a connection to `host:port` (IP literals) without blocking the loop, with TLS when `tls` is given;
    /// `completion` runs on the loop with the started connection or the reason it failed.
    public static func connect(host: String, port: Int, loop: EventLoop, tls: TLSClientContext?, serverName: String? = nil,
                               completion: @escaping (Result<TCPConnection, NetworkError>) -> Void) {
        loop.execute {
            var storage = sockaddr_storage()
            let length: socklen_t
            do { length = try TCPListener.fill(&storage, host: host, port: port) } catch { return completion(.failure(error as? NetworkError ?? .address(host))) }
            let fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return completion(.failure(.system("socket"))) }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            let result = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) } }
            func established() {
                do {
                    let session = try tls.map { try TLSSession(client: $0, socket: fd, host: serverName ?? host) }
                    let connection = TCPConnection(fd: fd, loop: loop, session: session)
                    try connection.start()
                    completion(.success(connection))
                    // Start the TLS handshake now rather than on the first write.
                    if session != nil { connection.flush() }
                } catch {
                    Glibc.close(fd)
                    completion(.failure(.tls("\(error)")))
                }
            }
            if result == 0 { return established() }
            guard errno == EINPROGRESS else { let error = NetworkError.system("connect \(host):\(port)"); Glibc.close(fd); return completion(.failure(error)) }
            do {
                try loop.register(fd, for: .writable) { _ in
                    loop.unregister(fd)
                    var code: Int32 = 0
                    var size = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size)
                    guard code == 0 else { Glibc.close(fd); return completion(.failure(.system("connect \(host):\(port)", code))) }
                    established()
                }
            } catch {
                Glibc.close(fd)
                completion(.failure(error as? NetworkError ?? .system("epoll_ctl", EBADF)))
            }
        }
    }

    /// Starts reading. Loop thread only.
    public func start() throws(NetworkError) {
        try loop.register(fd, for: .readable) { [weak self] readiness in self?.ready(readiness) }
    }

    /// Bytes waiting to be written.
    public var pendingOutput: Int { outgoing.count - outgoingOffset }

    /// Whether the connection has been closed (by either side). Loop thread only.
    public var isClosed: Bool { closed }

    public func send(_ bytes: [UInt8]) {
        guard !closed, !bytes.isEmpty else { return }
        if outgoingOffset > 0 && outgoingOffset == outgoing.count {
            outgoing.removeAll(keepingCapacity: true)
            outgoingOffset = 0
        }
        outgoing += bytes
        flush()
    }

    /// Stops delivering data until `resumeReading` (backpressure while a response is pending).
    public func pauseReading() { readPaused = true; updateInterest() }
    public func resumeReading() {
        readPaused = false
        updateInterest()
    }

    /// Closes once queued bytes are written.
    public func closeWhenDrained() {
        closeAfterFlush = true
        if pendingOutput == 0 { close() }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        tls?.shutdown()
        loop.unregister(fd)
        Glibc.close(fd)
        onClose()
        onData = { _ in }
        onDrained = {}
        onClose = {}
        onPeerClosedWrite = {}
    }

    private func ready(_ readiness: EventLoop.Readiness) {
        if readiness.contains(.writable) || (tlsWantsWriteToRead && readiness.contains(.readable)) { flush() }
        guard !closed else { return }
        if readiness.rawValue & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && (readPaused || !readiness.contains(.readable)) {
            close()
        } else if !readPaused && (readiness.contains(.readable) || readiness.rawValue & EPOLLRDHUP.rawValue != 0) {
            readAvailable()
        } else if readPaused && readiness.rawValue & EPOLLRDHUP.rawValue != 0 && !peerClosedWrite {
            peerClosedWrite = true
            updateInterest()
            onPeerClosedWrite()
        }
    }

    private func readAvailable() {
        if screensPlainHTTP {
            screensPlainHTTP = false
            if answeredPlainHTTP() { return }
        }
        if let tls, !tls.handshakeDone {
            switch tls.handshake() {
            case .done: break
            case .wantRead: return
            case .wantWrite: loop.watch(fd, for: [.readable, .writable]); return
            case .closed, .failed: close(); return
            }
        }
        while !closed && !readPaused {
            let count: Int
            if let tls {
                let step = readBuffer.withUnsafeMutableBytes { tls.read(into: $0) }
                switch step {
                case .done(let n): count = n
                case .wantRead: return
                case .wantWrite: tlsWantsWriteToRead = true; updateInterest(); return
                case .closed, .failed: close(); return
                }
            } else {
                count = readBuffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                    close(); return
                }
                if count == 0 { close(); return }
            }
            onData(readBuffer[0..<count])
        }
    }

    /// A client that speaks plain HTTP to the TLS port gets a plain HTTP 400 saying so, as Go's servers (kube-apiserver)
    /// answer, instead of a TLS alert it cannot read. A TLS record starts with 0x16; an HTTP request with a method's
    /// capital letter.
    private func answeredPlainHTTP() -> Bool {
        var first: UInt8 = 0
        guard recv(fd, &first, 1, Int32(MSG_PEEK)) == 1, (65...90).contains(first) else { return false }
        let answer = Array("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n".utf8)
        _ = answer.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Read what the request sent, so closing ends with FIN and the answer, not a reset that could discard it.
        for _ in 0..<16 where readBuffer.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, $0.count) }) > 0 {}
        shutdown(fd, Int32(SHUT_WR))
        close()
        return true
    }

    func flush() {
        if let tls, !tls.handshakeDone {
            switch tls.handshake() {
            case .done: break
            case .wantRead, .wantWrite: updateInterest(); return
            case .closed, .failed: close(); return
            }
        }
        while !closed && pendingOutput > 0 {
            let written: Int
            if let tls {
                let step = outgoing.withUnsafeBytes { tls.write(UnsafeRawBufferPointer(rebasing: $0[outgoingOffset...])) }
                switch step {
                case .done(let n): written = n
                case .wantRead, .wantWrite: updateInterest(); return
                case .closed, .failed: close(); return
                }
            } else {
                written = outgoing.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + outgoingOffset, $0.count - outgoingOffset) }
                if written < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { updateInterest(); return }
                    close(); return
                }
            }
            outgoingOffset += written
        }
        guard !closed else { return }
        tlsWantsWriteToRead = false
        outgoing.removeAll(keepingCapacity: true)
        outgoingOffset = 0
        updateInterest()
        if closeAfterFlush { close(); return }
        onDrained()
    }

    private func updateInterest() {
        guard !closed else { return }
        var interest: EventLoop.Readiness = []
        if !readPaused || tlsWantsWriteToRead { interest.insert(.readable) }
        if pendingOutput > 0 { interest.insert(.writable) }
        loop.watch(fd, for: interest, halfClose: !peerClosedWrite)
    }
}
