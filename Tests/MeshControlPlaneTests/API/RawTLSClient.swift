import Foundation
import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TLS client socket for tests that need to misbehave: send raw bytes, read a little, leave with a reset.
final class RawTLSClient {
    private let fd: Int32
    private let session: TLSSession

    init(port: Int, authority: [UInt8]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw NetworkError.system("connect", errno) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        session = try TLSSession(client: try TLSClientContext(trusting: [try Certificate(pem: authority)]), socket: fd, host: "127.0.0.1")
        guard case .done = session.handshake() else { close(fd); throw NetworkError.tls("handshake with the test server failed") }
    }

    private var closed = false

    deinit { if !closed { close(fd) } }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard case .done = bytes.withUnsafeBytes({ session.write($0) }) else { throw NetworkError.tls("write failed") }
    }

    /// Closes with a TCP reset, so the server's next write fails.
    func reset() {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
        closed = true
    }
}
