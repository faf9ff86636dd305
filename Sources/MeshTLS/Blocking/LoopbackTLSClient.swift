#if canImport(Glibc)
import Glibc
#endif
import MeshNet

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
