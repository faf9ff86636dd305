import Foundation

/// The accepting half servers share: the listening sockets (one, or one per loop) and the choice of loop for each
/// connection. The server only says what to make of a connection, on the loop chosen for it.
public final class ConnectionAcceptor: @unchecked Sendable {
    /// How connections are accepted.
    public enum Acceptance: Sendable {
        /// One listening socket on the first loop, connections handed to the loops in turn.
        case oneListener
        /// One `SO_REUSEPORT` listening socket per loop, each loop accepting its own connections (the kernel spreads them).
        case listenerPerLoop
    }

    /// The port bound (useful when asked for port 0).
    public let port: Int
    public let loops: [EventLoop]
    private let listeners: [TCPListener]
    private let counter = NSLock()
    private var nextLoop = 0
    /// Connections set up on each loop so far.
    private var accepted: [Int]

    /// Binds `host:port` (0: any free port) on `loops` (at least one).
    public init(host: String, port: Int, loops: [EventLoop], acceptance: Acceptance = .oneListener) throws(NetworkError) {
        precondition(!loops.isEmpty, "a server needs at least one loop")
        self.loops = loops
        accepted = Array(repeating: 0, count: loops.count)
        switch acceptance {
        case .oneListener:
            listeners = [try TCPListener(host: host, port: port, loop: loops[0])]
        case .listenerPerLoop:
            // The first binds (port 0 picks one); the others join it on the port it got.
            let first = try TCPListener(host: host, port: port, loop: loops[0], reusePort: true)
            var all = [first]
            for loop in loops.dropFirst() { all.append(try TCPListener(host: host, port: first.port, loop: loop, reusePort: true)) }
            listeners = all
        }
        self.port = listeners[0].port
    }

    /// Starts accepting (the loops must be started); `setUp` gets each connection on the loop it belongs to.
    public func start(_ setUp: @escaping (TCPConnection) -> Void) {
        if listeners.count > 1 {
            for (index, listener) in listeners.enumerated() {
                listener.start { [self] fd in hand(fd, to: index, setUp) }
            }
        } else {
            listeners[0].start { [self] fd in
                counter.lock()
                let index = nextLoop % loops.count
                nextLoop += 1
                counter.unlock()
                hand(fd, to: index, setUp)
            }
        }
    }

    /// Stops accepting; open connections end when their loops stop.
    public func stop() { for listener in listeners { listener.close() } }

    /// Connections set up per loop so far.
    public var connectionsPerLoop: [Int] {
        counter.lock(); defer { counter.unlock() }
        return accepted
    }

    /// Makes the connection on loop `index`: at once when the listener runs on that loop, else handed over.
    private func hand(_ fd: Int32, to index: Int, _ setUp: @escaping (TCPConnection) -> Void) {
        let loop = loops[index]
        counter.lock()
        accepted[index] += 1
        counter.unlock()
        if loop.inLoop { setUp(TCPConnection(fd: fd, loop: loop)) } else { loop.execute { setUp(TCPConnection(fd: fd, loop: loop)) } }
    }
}
