#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket; each accepted connection is handed to `accepted` on the listener's loop.
public final class TCPListener: @unchecked Sendable {
    public let fd: Int32
    /// The port bound (useful when asked for port 0).
    public let port: Int
    private let loop: EventLoop
    private var accepted: (Int32) -> Void = { _ in }
    private var backOffTimer: EventLoop.TimerID?
    private var closed = false
    /// accept(2) calls so far, for tests that check the listener does not spin. Loop thread only.
    var acceptCalls = 0

    /// How long accepting pauses when the process or the system is out of descriptors (nginx waits as long):
    /// the waiting connection keeps the listener readable, so retrying at once would only spin.
    static let backOffSeconds = 0.5
    /// Connections taken per readiness, so a flood of them cannot hold the loop from its other sockets.
    private static let acceptsPerTurn = 64

    /// Binds `host` (an IPv4 or IPv6 literal) and `port` (0 for any free one) and listens. With `reusePort`, other
    /// listeners with it may bind the same port, and the kernel spreads new connections among them (one per loop).
    public init(host: String, port: Int, loop: EventLoop, reusePort: Bool = false) throws(NetworkError) {
        self.loop = loop
        var storage = sockaddr_storage()
        let length = try Self.fill(&storage, host: host, port: port)
        let family = Int32(storage.ss_family)
        let socketFD = Socket.openStream(family: family)
        guard socketFD >= 0 else { throw NetworkError.system("socket") }
        var on: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(socketFD, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) } }
        guard bound == 0 else { let error = NetworkError.system("bind \(host):\(port)"); Glibc.close(socketFD); throw error }
        guard listen(socketFD, 4096) == 0 else { let error = NetworkError.system("listen"); Glibc.close(socketFD); throw error }
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
            guard !closed else { return }
            self.accepted = accepted
            try? loop.register(fd, for: .readable) { [self] _ in acceptWaiting() }
        }
    }

    /// Stops accepting and closes the socket.
    public func close() {
        loop.execute { [self] in
            guard !closed else { return }
            closed = true
            if let backOffTimer { loop.cancel(backOffTimer) }
            loop.unregister(fd)
            Glibc.close(fd)
            accepted = { _ in }
        }
    }

    private func acceptWaiting() {
        for _ in 0..<Self.acceptsPerTurn {
            acceptCalls += 1
            switch Socket.accept(fd) {
            case .connection(let client): accepted(client)
            case .none: return
            case .aborted: continue
            case .outOfResources, .failed: backOff(); return
            }
        }
    }

    /// Stops watching the listener for a while, then tries again.
    private func backOff() {
        guard backOffTimer == nil else { return }
        loop.watch(fd, for: [], halfClose: false)
        backOffTimer = loop.schedule(after: Self.backOffSeconds) { [self] in
            backOffTimer = nil
            guard !closed else { return }
            loop.watch(fd, for: .readable, halfClose: false)
            acceptWaiting()
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
