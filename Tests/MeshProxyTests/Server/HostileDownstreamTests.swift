import ConfigValues
import Foundation
@testable import MeshProxy
import MeshNet
import MeshTLS
import MeshTestSupport
import XCTest

/// Downstream clients that lie or stall, against a running proxy: PROXY protocol headers with bad addresses,
/// truncated, split over many writes or too long; TLS clients that stop mid-handshake; a `use_original_dst`
/// listener whose hand-off target hands off too.
final class HostileDownstreamTests: XCTestCase {
    private var upstream: SampleUpstream!
    private var proxy: ProxyServer?
    private var directory: URL!
    private let proxyPort = freeLocalPort(), tlsPort = freeLocalPort(), adminPort = freeLocalPort()
    /// Everything the proxy logs at debug level.
    private let log = CapturedLog()

    override func setUpWithError() throws {
        upstream = try SampleUpstream(name: "app")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let authority = try CertificateAuthority()
        let identity = try authority.issueServer(dnsNames: ["app.local"])
        try Data(try identity.chain[0].pem()).write(to: directory.appendingPathComponent("cert.pem"))
        try Data(try identity.key.pem()).write(to: directory.appendingPathComponent("key.pem"))
        let tcpProxy = "{name: envoy.filters.network.tcp_proxy, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcp, cluster: app}}"
        let yaml = """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}}
        static_resources:
          listeners:
          - name: captured
            address: {socket_address: {address: 127.0.0.1, port_value: \(proxyPort)}}
            use_original_dst: true
            listener_filters_timeout: 0.5s
            listener_filters: [{name: envoy.filters.listener.proxy_protocol, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol}}]
            filter_chains: [{filters: [\(tcpProxy)]}]
          - name: handed
            address: {socket_address: {address: 0.0.0.0, port_value: \(proxyPort)}}
            bind_to_port: false
            use_original_dst: true
            filter_chains: [{filters: [\(tcpProxy)]}]
          - name: tls
            address: {socket_address: {address: 127.0.0.1, port_value: \(tlsPort)}}
            filter_chains:
            - transport_socket_connect_timeout: 0.3s
              transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  common_tls_context: {tls_certificates: [{certificate_chain: {filename: \(directory.path)/cert.pem}, private_key: {filename: \(directory.path)/key.pem}}]}
              filters: [\(tcpProxy)]
          clusters:
          - name: app
            connect_timeout: 1s
            load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}

        """
        let file = directory.appendingPathComponent("bootstrap.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let log = self.log
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 1,
                                    log: ProxyLog(level: .debug) { log.append($0) })
        proxy.start()
        self.proxy = proxy
    }

    override func tearDown() {
        proxy?.stop()
        upstream?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private let request = Array("GET /through HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n".utf8)

    /// Writes `pieces` one by one (a pause between them so they arrive as separate reads), then reads until the proxy closes.
    private func exchange(port: Int, _ pieces: [[UInt8]]) throws -> [UInt8] {
        let socket = try ClientSocket(port: port)
        defer { socket.close() }
        for piece in pieces {
            try socket.write(piece)
            usleep(2_000)  // not a wait for a result: only so the proxy sees separate reads
        }
        return socket.readUntilClosed(deadline: Date().addingTimeInterval(10))
    }

    private func answered(_ bytes: [UInt8]) -> Bool { String(decoding: bytes, as: UTF8.self).hasSuffix("app GET /through\n") }

    func testPROXYHeadersThatLieAreRefusedAndAHeaderSplitOverManyReadsIsRead() throws {
        let good = Array("PROXY TCP4 10.1.2.3 127.0.0.1 5555 \(proxyPort)\r\n".utf8)
        XCTAssertTrue(answered(try exchange(port: proxyPort, [good + request])))
        // One byte per read.
        XCTAssertTrue(answered(try exchange(port: proxyPort, good.map { [$0] } + [request])))
        let lies: [(String, [UInt8])] = [
            ("v1 bad source", Array("PROXY TCP4 999.1.2.3 127.0.0.1 5555 80\r\n".utf8)),
            ("v1 port out of range", Array("PROXY TCP4 10.1.2.3 127.0.0.1 5555 70000\r\n".utf8)),
            ("v1 negative port", Array("PROXY TCP4 10.1.2.3 127.0.0.1 -1 80\r\n".utf8)),
            ("v1 TCP4 with IPv6 addresses", Array("PROXY TCP4 ::1 ::1 5555 80\r\n".utf8)),
            ("v1 missing fields", Array("PROXY TCP4 10.1.2.3\r\n".utf8)),
            ("v1 LF without CR", Array("PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\n".utf8)),
            ("v1 longer than 107 bytes", Array(("PROXY TCP4 " + String(repeating: "1", count: 200)).utf8)),
            ("not PROXY at all", request),
            ("v2 family unknown", ProxyProtocolHeader.v2Signature + [0x21, 0x31, 0x00, 0x00]),
            ("v2 IPv4 with an address block too short", ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4]),
            ("v2 version 3", ProxyProtocolHeader.v2Signature + [0x31, 0x11, 0x00, 0x0C] + [UInt8](repeating: 1, count: 12)),
        ]
        for (label, header) in lies {
            XCTAssertEqual(try exchange(port: proxyPort, [header + request]), [], label)
        }
        // A v2 header whose TLVs run past its stated length: the rest is the stream (not TLVs), so the request line
        // is garbage to the app; here, a length that never arrives: closed by listener_filters_timeout.
        let truncated = ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x01, 0x00] + [127, 0, 0, 1, 127, 0, 0, 1, 0x15, 0xB3, 0x00, 0x50, 0x01, 0x00]
        let started = Date()
        XCTAssertEqual(try exchange(port: proxyPort, [truncated]), [])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "a PROXY header that never completes closes at listener_filters_timeout (0.5 s)")
        XCTAssertTrue(eventually { (self.proxy?.stats.value("listener.127.0.0.1_\(self.proxyPort).downstream_cx_proxy_proto_error") ?? 0) >= 10 })
        // The proxy still serves after all that.
        XCTAssertTrue(answered(try exchange(port: proxyPort, [good + request])))
    }

    func testAHandOffTargetThatAlsoUsesOriginalDestinationDoesNotLoop() throws {
        // The header names the listener's own port: the connection is handed to `handed` (0.0.0.0, same port, not
        // bound), which has use_original_dst too; it must serve, not hand off again.
        let header = Array("PROXY TCP4 10.1.2.3 127.0.0.1 5555 \(proxyPort)\r\n".utf8)
        XCTAssertTrue(answered(try exchange(port: proxyPort, [header + request])))
    }

    func testATLSClientThatStallsMidHandshakeIsClosedAtTheHandshakeTimeout() throws {
        for partial in [[], [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]] as [[UInt8]] {
            let started = Date()
            XCTAssertEqual(try exchange(port: tlsPort, [partial]), [])
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "closed by transport_socket_connect_timeout (0.3 s), not the 10 s read deadline")
        }
        XCTAssertTrue(eventually { (self.proxy?.stats.value("listener.127.0.0.1_\(self.tlsPort).ssl.handshake_timeout") ?? 0) >= 2 })
        XCTAssertEqual(upstream.requests, [])
    }

    func testTheServersPrivateKeyNeverReachesTheDebugLog() throws {
        guard let curl = ["/usr/bin/curl", "/usr/local/bin/curl"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("no curl: no complete TLS handshake to log")
        }
        _ = try exchange(port: tlsPort, [[0x16, 0x03, 0x01]])  // a stalled handshake, logged
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        process.arguments = ["-sk", "--max-time", "10", "https://127.0.0.1:\(tlsPort)/through"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(answer, "app GET /through\n")
        let key = try String(contentsOf: directory.appendingPathComponent("key.pem"), encoding: .utf8)
        let keyLines = key.split(separator: "\n").filter { !$0.hasPrefix("-----") }
        let logged = log.text
        XCTAssertFalse(logged.isEmpty, "the proxy logged nothing at debug level")
        for line in keyLines { XCTAssertFalse(logged.contains(line), "a line of the private key is in the debug log") }
        XCTAssertFalse(logged.contains("PRIVATE KEY"))
        print("debug log during TLS: \(logged.split(separator: "\n").count) lines, none with the key's \(keyLines.count) lines")
    }
}

/// A blocking client socket for tests that write in pieces.
private final class ClientSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError(message: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { Glibc.close(fd); throw TestClientError(message: "connect 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    func write(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent < 0 { throw TestClientError(message: "send: \(String(cString: strerror(errno)))") }
    }

    /// Everything until the peer closes, or until `deadline`.
    func readUntilClosed(deadline: Date) -> [UInt8] {
        var received: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { break }
            if count > 0 { received += chunk[0..<count] }
        }
        return received
    }

    func close() { Glibc.close(fd) }
}

/// Log lines collected from the proxy's threads.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return lines.joined() }
}
