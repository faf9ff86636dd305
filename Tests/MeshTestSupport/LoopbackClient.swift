import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking client socket to an address on loopback, for raw exchanges.
public final class LoopbackClient {
    private let fd: Int32
    private let opened = Date()
    /// Seconds from opening until the server closed, once it has.
    public private(set) var closedAfter: Double?

    public init(address: String, port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, address, &target.sin_addr)
        let result = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { let code = errno; Glibc.close(fd); throw LoopbackClientError(description: "connect \(address):\(port): \(String(cString: strerror(code)))") }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    public func send(_ text: String) throws { try send(bytes: Array(text.utf8)) }

    public func send(bytes: [UInt8]) throws {
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw LoopbackClientError(description: "send failed") }
    }

    /// Sends FIN (shuts down the sending side); the server's answer can still be read.
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// The bytes that have arrived so far.
    public var receivedBytes: [UInt8] { received }

    private var received: [UInt8] = []

    /// What has arrived so far (waits at most 50 ms for more).
    public func readAvailable() -> String {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count > 0 { received += chunk[0..<count] }
        if count == 0 && closedAfter == nil { closedAfter = Date().timeIntervalSince(opened) }
        return String(decoding: received, as: UTF8.self)
    }

    /// Reads until the server closes or `timeout` passes; what arrived.
    public func readUntilClosed(timeout: Double) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while closedAfter == nil && Date() < deadline { _ = readAvailable() }
        return String(decoding: received, as: UTF8.self)
    }

    /// The port this side of the connection has.
    public var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private var isClosed = false
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }
}

public struct LoopbackClientError: Error, CustomStringConvertible {
    public let description: String
}

/// Whether the server side of a TCP connection on IPv4 loopback has nothing unread: the process behind `server`
/// has taken what `clientPort` sent (read from /proc/net/tcp, the kernel's own table).
public func serverHasReadEverything(server address: String, port: Int, clientPort: Int) -> Bool {
    let octets = address.split(separator: ".").compactMap { Int($0) }
    // Read to the end: procfs files report a size of 0.
    guard octets.count == 4, let file = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return false }
    defer { try? file.close() }
    let table = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
    let local = String(format: "%02X%02X%02X%02X:%04X", octets[3], octets[2], octets[1], octets[0], port)
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        guard fields.count > 4, fields[1] == local, fields[2].hasSuffix(String(format: ":%04X", clientPort)) else { continue }
        return fields[4].hasSuffix(":00000000")
    }
    return false
}
