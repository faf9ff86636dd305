import Foundation

/// Ports handed out by this process, below Linux's ephemeral range (32768-60999): an outgoing connection's source
/// port or another `bind(0)` can never take one between the hand-out and the test's own bind, and no port is
/// handed out twice while the range lasts. The start is random so that test processes running side by side walk
/// different stretches.
private final class PortAllocator: @unchecked Sendable {
    static let shared = PortAllocator()
    static let range = 20_000..<32_768
    private let lock = NSLock()
    private var next = Int.random(in: range)

    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        for _ in Self.range {
            let port = next
            next = next + 1 < Self.range.upperBound ? next + 1 : Self.range.lowerBound
            if Self.isFree(port) { return port }
        }
        return nil
    }

    /// Whether 127.0.0.1:`port` can be bound right now (no listener, no connection in TIME_WAIT on it).
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not handed out before.
public func freeLocalPort() -> Int {
    if let port = PortAllocator.shared.take() { return port }
    // The whole range is busy: let the kernel pick one (bound, read, released).
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// 127.0.0.1:`port` as an IPv4 socket address (port 0: the kernel picks one).
public func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return address
}
