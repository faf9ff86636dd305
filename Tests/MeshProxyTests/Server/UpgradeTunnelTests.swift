import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// A WebSocket server small enough to read: it answers the handshake with 101 (RFC 6455's sample key and accept),
/// echoes each text frame it gets as `echo: TEXT` (`slow` after 1.3 s), and after `quit` says `bye` and closes.
final class TinyWebSocketServer: @unchecked Sendable {
    private let listener: Int32
    let port: Int
    private let lock = NSLock()
    private var heads: [String] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestClientError(message: "cannot listen: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// The request heads the server has read.
    var requestHeads: [String] {
        lock.lock(); defer { lock.unlock() }
        return heads
    }

    func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            Thread { [self] in serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        func read() -> Bool {
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
        func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        while !String(decoding: buffer, as: UTF8.self).contains("\r\n\r\n") { guard read() else { return } }
        let text = String(decoding: buffer, as: UTF8.self)
        let head = String(text[..<text.range(of: "\r\n\r\n")!.lowerBound])
        buffer.removeFirst(head.utf8.count + 4)
        lock.lock(); heads.append(head); lock.unlock()
        write(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8))
        while true {
            while let (payload, used) = Self.maskedFrame(buffer) {
                buffer.removeFirst(used)
                if payload == "slow" { Thread.sleep(forTimeInterval: 1.3) }  // a slow upstream, past the route's timeout
                write(Self.frame("echo: " + payload, mask: nil))
                if payload == "quit" { write(Self.frame("bye", mask: nil)); return }
            }
            guard read() else { break }
        }
        write(Self.frame("bye", mask: nil))
    }

    /// A text frame (short payloads only), masked as a client must send it when `mask` is given.
    static func frame(_ text: String, mask: [UInt8]?) -> [UInt8] {
        let payload = Array(text.utf8)
        guard let mask else { return [0x81, UInt8(payload.count)] + payload }
        return [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    /// A complete masked text frame at the front of `bytes`: its text and length.
    static func maskedFrame(_ bytes: [UInt8]) -> (String, Int)? {
        guard bytes.count >= 6 else { return nil }
        let length = Int(bytes[1] & 0x7f)
        guard bytes.count >= 6 + length else { return nil }
        let mask = Array(bytes[2..<6])
        let payload = bytes[6..<(6 + length)].enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return (String(decoding: payload, as: UTF8.self), 6 + length)
    }
}

/// WebSocket through the connection manager's `upgrade_configs`: the 101 passed through, frames both ways, the
/// server's close and a client's FIN each ending the tunnel, an unlisted upgrade refused; checked against Envoy 1.40.
final class UpgradeTunnelTests: XCTestCase {
    private func bootstrap(directory: URL, upstream: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream)
        bootstrap.upgradeTypes = ["websocket"]
        bootstrap.routes = ["{name: ws, match: {prefix: /}, route: {cluster: app, timeout: 1s}}"]
        bootstrap.logFormat = "%REQ(:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_CLUSTER%"
        return bootstrap
    }

    /// One WebSocket conversation and one refused upgrade; what the client saw, with volatile headers dropped.
    private func run(port: Int) throws -> [String] {
        let client = try LoopbackClient(address: "127.0.0.1", port: port)
        try client.send("GET /chat HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        var text = ""
        XCTAssertTrue(eventually { text = client.readAvailable(); return text.contains("\r\n\r\n") }, "no 101: \(text)")
        // Answered past the route's 1 s timeout: an upgraded stream has no request end, so the timeout does not apply.
        try client.send(bytes: TinyWebSocketServer.frame("slow", mask: [5, 5, 5, 5]))
        XCTAssertTrue(eventually { client.readAvailable().contains("echo: slow") })
        try client.send(bytes: TinyWebSocketServer.frame("hello", mask: [1, 2, 3, 4]))
        XCTAssertTrue(eventually { client.readAvailable().contains("echo: hello") })
        try client.send(bytes: TinyWebSocketServer.frame("again", mask: [9, 8, 7, 6]))
        XCTAssertTrue(eventually { client.readAvailable().contains("echo: again") })
        try client.send(bytes: TinyWebSocketServer.frame("quit", mask: [3, 1, 4, 1]))
        text = client.readUntilClosed(timeout: 10)
        let split = text.components(separatedBy: "\r\n\r\n")
        let head = split[0].components(separatedBy: "\r\n").filter {
            let name = $0.split(separator: ":").first?.lowercased() ?? ""
            return !["date", "x-envoy-upstream-service-time"].contains(name)
        }.map { $0.lowercased() }.sorted()
        let frames = split.dropFirst().joined(separator: "\r\n\r\n").unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "." }.joined()

        // A client that finishes sending (FIN) ends its tunnel: Envoy does not pass a half-close through.
        let quitter = try LoopbackClient(address: "127.0.0.1", port: port)
        try quitter.send("GET /fin HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        XCTAssertTrue(eventually { quitter.readAvailable().contains("\r\n\r\n") })
        quitter.finishSending()
        XCTAssertTrue(eventually { _ = quitter.readAvailable(); return quitter.closedAfter != nil }, "the tunnel did not end at the client's FIN")

        let refused = try TestClient.get(port: port, path: "/other", host: "chat", headers: [("upgrade", "foo"), ("connection", "upgrade")])
        return head + [frames, "refused: \(refused.status) \(refused.body)"]
    }

    func testWebSocketTalksBothWaysAndEndsAsInEnvoy() throws {
        let server = try TinyWebSocketServer()
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-ws-\(UUID().uuidString)")
        for side in ["envoy", "meshctl"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(side), withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: directory) }

        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstream: server.port)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try proxyBootstrap.write()), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        let proxyResult = try run(port: proxyBootstrap.httpPort)
        let proxyLog = proxyBootstrap.accessLogLines(count: 3)
        proxy.stop()
        XCTAssertTrue(proxyResult.contains("http/1.1 101 switching protocols"), "\(proxyResult)")
        XCTAssertTrue(proxyResult.contains { $0.contains("echo: hello") && $0.contains("echo: again") && $0.hasSuffix("bye") }, "\(proxyResult)")
        XCTAssertEqual(proxyResult.last, "refused: 403 ")
        XCTAssertTrue(server.requestHeads.first?.lowercased().contains("upgrade: websocket") ?? false, "\(server.requestHeads)")

        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstream: server.port)
        let envoy = try RunningEnvoy(bootstrap: try envoyBootstrap.write(), adminPort: envoyBootstrap.adminPort, test: "the WebSocket differential test")
        let envoyResult = try run(port: envoyBootstrap.httpPort)
        let envoyLog = envoyBootstrap.accessLogLines(count: 3)
        envoy.stop()
        XCTAssertEqual(proxyResult, envoyResult, "what the client saw")
        XCTAssertEqual(proxyLog, envoyLog, "access log lines")
        print("envoy websocket differential: two WebSocket conversations (server close, client FIN) and a refused upgrade, compared with Envoy 1.40")
    }
}
