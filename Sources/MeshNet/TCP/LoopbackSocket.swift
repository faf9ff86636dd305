#if canImport(Glibc)
import Glibc
#endif

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
