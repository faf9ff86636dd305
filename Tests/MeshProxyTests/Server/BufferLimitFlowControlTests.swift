import Foundation
import Glibc
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// `per_connection_buffer_limit_bytes` on real sockets: the listener's limit is how much of an answer the proxy
/// queues for a client that does not read before it stops reading the upstream, the cluster's how much of an upload
/// it queues for an upstream that does not read before it stops reading the client. A limit larger than the whole
/// transfer lets the proxy take all of it without pausing anything; a small one pauses the other side; with either,
/// every byte arrives.
final class BufferLimitFlowControlTests: XCTestCase {
    private var proxy: ProxyServer?
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-buflimit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        proxy?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A listening socket on loopback; `receiveBuffer`: SO_RCVBUF for the connections it accepts (so the kernel holds
    /// little of what the proxy sends).
    private func listeningSocket(receiveBuffer: Int32? = nil) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 4) == 0 else { close(fd); throw XCTSkip("cannot listen on loopback") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Reads from `fd` until a head's CRLF CRLF; returns what came after it.
    private static func readHead(_ fd: Int32) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { return nil }
            bytes += buffer[0..<count]
            if let range = bytes.firstRange(of: Array("\r\n\r\n".utf8)) { return Array(bytes[range.upperBound...]) }
        }
    }

    /// An upstream that answers one request with `total` bytes of body; returns the count its kernel took.
    private func startAnsweringUpstream(_ fd: Int32, total: Int) -> ByteCounter {
        let sent = ByteCounter()
        Thread.detachNewThread {
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            guard Self.readHead(connection) != nil else { return }
            let head = Array("HTTP/1.1 200 OK\r\ncontent-length: \(total)\r\n\r\n".utf8)
            _ = head.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
            var left = total
            while left > 0 {
                let wrote = chunk.withUnsafeBytes { send(connection, $0.baseAddress, min(left, $0.count), Int32(MSG_NOSIGNAL)) }
                guard wrote > 0 else { return }
                left -= wrote
                sent.add(wrote)
            }
            var rest = [UInt8](repeating: 0, count: 1024)
            while read(connection, &rest, rest.count) > 0 {}
        }
        return sent
    }

    /// An upstream that reads a request's head, then nothing until `reading` is signalled, then its `total`-byte body
    /// (counted in the result), and answers 200.
    private func startSlowSink(_ fd: Int32, total: Int) -> (reading: DispatchSemaphore, drained: ByteCounter) {
        let reading = DispatchSemaphore(value: 0)
        let drained = ByteCounter()
        Thread.detachNewThread {
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            guard let early = Self.readHead(connection) else { return }
            drained.add(early.count)
            reading.wait()
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            while drained.value < total {
                let count = read(connection, &buffer, buffer.count)
                guard count > 0 else { return }
                drained.add(count)
            }
            let answer = Array("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".utf8)
            _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            while read(connection, &buffer, buffer.count) > 0 {}
        }
        return (reading, drained)
    }

    /// A proxy with one listener (HTTP routing everything, or `tcpProxy`) to `upstreamPort`, each with its limit when given.
    private func startProxy(upstreamPort: Int, listenerLimit: Int?, clusterLimit: Int?, tcpProxy: Bool = false) throws -> Int {
        let listenerPort = freeLocalPort()
        let http = """
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: h
                  route_config: {virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app, timeout: 0s}}]}]}
                  http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
        """
        let tcp = """
                  "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                  stat_prefix: t
                  cluster: app
        """
        let file = directory.appendingPathComponent("envoy-\(listenerPort).yaml")
        try """
        static_resources:
          listeners:
          - name: http
            address: {socket_address: {address: 127.0.0.1, port_value: \(listenerPort)}}
        \(listenerLimit.map { "    per_connection_buffer_limit_bytes: \($0)\n" } ?? "")    filter_chains:
            - filters:
              - name: \(tcpProxy ? "envoy.filters.network.tcp_proxy" : "envoy.filters.network.http_connection_manager")
                typed_config:
        \(tcpProxy ? tcp : http)
          clusters:
          - name: app
            connect_timeout: 1s
        \(clusterLimit.map { "    per_connection_buffer_limit_bytes: \($0)\n" } ?? "")    load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstreamPort)}}}}]}]}
        """.write(to: file, atomically: true, encoding: .utf8)
        let configuration = try ProxyConfiguration.load(file: file.path)
        XCTAssertEqual(configuration.listeners.first?.bufferLimit?.bytes, listenerLimit)
        XCTAssertEqual(configuration.clusters.first?.bufferLimit?.bytes, clusterLimit)
        let proxy = try ProxyServer(configuration: configuration, concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        self.proxy = proxy
        proxy.start()
        return listenerPort
    }

    /// A client socket connected to `port`, its receive buffer small (set before connecting, so it stays small).
    private func connectClient(port: Int) throws -> Int32 {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4096
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { close(client); throw XCTSkip("cannot connect on loopback") }
        return client
    }

    /// One download of `total` bytes to a client that reads nothing until the upstream has sent what it could.
    /// Returns how much the upstream got sent before that, and the proxy's count of paused upstream reads.
    private func download(total: Int, listenerLimit: Int?, tcpProxy: Bool = false) throws -> (sentBeforeReading: Int, paused: Int) {
        let (fd, port) = try listeningSocket()
        defer { close(fd) }
        let sent = startAnsweringUpstream(fd, total: total)
        let proxyPort = try startProxy(upstreamPort: port, listenerLimit: listenerLimit, clusterLimit: nil, tcpProxy: tcpProxy)
        let proxy = try XCTUnwrap(proxy)
        let client = try connectClient(port: proxyPort)
        defer { close(client) }
        let request = "GET /big HTTP/1.1\r\nhost: app\r\n\r\n"
        XCTAssertEqual(send(client, request, request.utf8.count, Int32(MSG_NOSIGNAL)), request.utf8.count)
        let sentBeforeReading = settled { sent.value }
        let paused = proxy.stats.value("cluster.app.upstream_flow_control_paused_reading_total")
        let answer = readAnswer(client, bodyBytes: total)
        XCTAssertTrue(answer.head.hasPrefix("HTTP/1.1 200 OK\r\n"), answer.head)
        XCTAssertEqual(answer.body, total, "the whole answer arrives (listener limit \(listenerLimit.map(String.init) ?? "unset"))")
        if paused > 0 { XCTAssertGreaterThanOrEqual(proxy.stats.value("cluster.app.upstream_flow_control_resumed_reading_total"), 1) }
        proxy.stop()
        self.proxy = nil
        return (sentBeforeReading, paused)
    }

    func testTheListenersLimitIsWhatTheProxyQueuesForAClientThatDoesNotRead() throws {
        // 16 MiB: a 3 MiB answer fits under the limit, so the upstream is never paused and sends it all.
        let whole = 3 * 1024 * 1024
        let roomy = try download(total: whole, listenerLimit: 16 * 1024 * 1024)
        XCTAssertEqual(roomy.sentBeforeReading, whole)
        XCTAssertEqual(roomy.paused, 0, "the proxy paused the upstream below the listener's limit")
        // Unset: the default 64 KiB write queue; 16 KiB: less again. Either pauses the upstream far short of an answer
        // larger than what the sockets' kernel buffers can hold.
        let big = 96 * 1024 * 1024
        for limit in [nil, 16 * 1024] as [Int?] {
            let small = try download(total: big, listenerLimit: limit)
            XCTAssertEqual(small.paused, 1, "listener limit \(limit.map(String.init) ?? "unset")")
            XCTAssertLessThan(small.sentBeforeReading, big / 2, "listener limit \(limit.map(String.init) ?? "unset")")
        }
    }

    /// The same for a tcp_proxy listener: its client's connection queues up to the listener's limit.
    func testTheListenersLimitBoundsATCPProxysQueueForAClientThatDoesNotRead() throws {
        let whole = 3 * 1024 * 1024
        let roomy = try download(total: whole, listenerLimit: 16 * 1024 * 1024, tcpProxy: true)
        XCTAssertEqual(roomy.sentBeforeReading, whole)
        XCTAssertEqual(roomy.paused, 0, "the proxy paused the upstream below the listener's limit")
        let big = 96 * 1024 * 1024
        let small = try download(total: big, listenerLimit: 16 * 1024, tcpProxy: true)
        XCTAssertEqual(small.paused, 1)
        XCTAssertLessThan(small.sentBeforeReading, big / 2)
    }

    /// One upload of `total` bytes to an upstream that reads nothing until the client has sent what it could.
    /// Returns how much the client got sent before that, and the proxy's count of backed-up upstream writes.
    private func upload(total: Int, clusterLimit: Int?) throws -> (sentBeforeReading: Int, backedUp: Int) {
        let (fd, port) = try listeningSocket(receiveBuffer: 4096)
        defer { close(fd) }
        let (reading, drained) = startSlowSink(fd, total: total)
        let proxyPort = try startProxy(upstreamPort: port, listenerLimit: nil, clusterLimit: clusterLimit)
        let proxy = try XCTUnwrap(proxy)
        let client = try connectClient(port: proxyPort)
        defer { close(client) }
        let sent = ByteCounter()
        let head = "POST /upload HTTP/1.1\r\nhost: app\r\ncontent-length: \(total)\r\n\r\n"
        XCTAssertEqual(send(client, head, head.utf8.count, Int32(MSG_NOSIGNAL)), head.utf8.count)
        Thread.detachNewThread {
            let chunk = [UInt8](repeating: 0x62, count: 64 * 1024)
            var left = total
            while left > 0 {
                let wrote = chunk.withUnsafeBytes { send(client, $0.baseAddress, min(left, $0.count), Int32(MSG_NOSIGNAL)) }
                guard wrote > 0 else { return }
                left -= wrote
                sent.add(wrote)
            }
        }
        let sentBeforeReading = settled { sent.value }
        let backedUp = proxy.stats.value("cluster.app.upstream_flow_control_backed_up_total")
        reading.signal()
        XCTAssertTrue(eventually(timeout: 60) { drained.value == total }, "\(drained.value) of \(total) bytes reached the upstream")
        let answer = readAnswer(client, bodyBytes: 2)
        XCTAssertTrue(answer.head.hasPrefix("HTTP/1.1 200 OK\r\n"), answer.head)
        XCTAssertEqual(sent.value, total)
        if backedUp > 0 { XCTAssertGreaterThanOrEqual(proxy.stats.value("cluster.app.upstream_flow_control_drained_total"), 1) }
        proxy.stop()
        self.proxy = nil
        return (sentBeforeReading, backedUp)
    }

    func testTheClustersLimitIsWhatTheProxyQueuesForAnUpstreamThatDoesNotRead() throws {
        let whole = 3 * 1024 * 1024
        let roomy = try upload(total: whole, clusterLimit: 16 * 1024 * 1024)
        XCTAssertEqual(roomy.sentBeforeReading, whole)
        XCTAssertEqual(roomy.backedUp, 0, "the proxy stopped reading the client below the cluster's limit")
        let big = 96 * 1024 * 1024
        for limit in [nil, 16 * 1024] as [Int?] {
            let small = try upload(total: big, clusterLimit: limit)
            XCTAssertGreaterThanOrEqual(small.backedUp, 1, "cluster limit \(limit.map(String.init) ?? "unset")")
            XCTAssertLessThan(small.sentBeforeReading, big / 2, "cluster limit \(limit.map(String.init) ?? "unset")")
        }
    }
}
