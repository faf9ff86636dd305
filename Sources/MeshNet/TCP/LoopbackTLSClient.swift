#if canImport(Glibc)
import Glibc
#endif

/// A blocking TLS client connection to a port on 127.0.0.1, for benchmarks and tests that play a client the server
/// must survive: connect and handshake, send raw bytes, and leave, with a TCP reset if asked. TLS runs on a
/// `TLSEngine` over the socket.
public final class LoopbackTLSClient {
    private let stream: BlockingTLSStream

    /// Connects and completes the TLS handshake (the certificate must name 127.0.0.1); reads wait at most
    /// `receiveTimeout` seconds.
    public init(port: Int, trust: TLSClientContext, receiveTimeout: Int = 5) throws {
        let fd = try LoopbackSocket.connect(port: port)
        let engine: TLSEngine
        do {
            engine = try TLSEngine(client: trust, serverName: nil, verifyHost: "127.0.0.1")
        } catch {
            close(fd)
            throw error
        }
        stream = BlockingTLSStream(fd: fd, engine: engine, receiveTimeout: receiveTimeout)
        do { try stream.handshake() } catch { throw NetworkError.tls("the handshake with 127.0.0.1:\(port) failed: \(error)") }
    }

    public func send(_ text: String) throws { try stream.write(Array(text.utf8)) }

    /// Closes with a TCP reset, so the server's next write fails.
    public func reset() { stream.reset() }
}

/// Blocking TCP sockets to 127.0.0.1, for clients in benchmarks and tests.
public enum LoopbackSocket {
    /// A blocking socket connected to 127.0.0.1:`port`; the caller closes it.
    public static func connect(port: Int) throws(NetworkError) -> Int32 {
        let fd = Socket.openStream(family: AF_INET, blocking: true)
        guard fd >= 0 else { throw NetworkError.system("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { let error = NetworkError.system("connect 127.0.0.1:\(port)"); close(fd); throw error }
        return fd
    }
}
