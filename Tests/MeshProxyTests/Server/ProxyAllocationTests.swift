import Foundation
import MeshTestSupport
import XCTest

/// Heap allocations per proxied keep-alive request, counted in a real `meshctl proxy` process by the preloaded
/// malloc counter (bench/malloc_counter.c, built here with the system's C compiler). Counting is deterministic where
/// timing is not, so a ceiling here catches a data path that starts allocating again.
final class ProxyAllocationTests: XCTestCase {
    /// What the debug build (the one `swift test` runs) costs per request, with a little room. Debug code is not
    /// specialized, so generic parsing allocates per byte there: 567 here, where a release build made 15 (69 before
    /// the data path's clean-up; counted the same way with bench/malloc_counter.c). Either way the count is exact from
    /// run to run, so a new allocation per request shows. 620 since the merge of the connection manager's idle and
    /// header timeouts, upgrades, mirroring and Istio's stats (567 before it; the merge's own per-request timers,
    /// histogram lookups and filter scans were taken out again, the rest is still to find). 608 since HTTP/1.1
    /// connections keep their streams' route and idle timers (SharedDeadline) instead of two per request; 520
    /// with main's HTTP/1.1 codec work and request-body streaming merged (release: 8 a request). 210 since the
    /// upstream answer's head is read by index loops instead of generic line and field scans, and the request head
    /// is written into a reused buffer (release: 5 a request). 203 since keep-alive heads keep the last head's
    /// Strings for fields spelled the same, and the upstream request's and the answer's header lists reuse one
    /// storage per loop (release: 2 a request, the stream and its x-request-id).
    static let ceiling = 206.0

    func testProxiedKeepAliveRequestStaysUnderTheAllocationCeiling() throws {
        guard let compiler = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no C compiler (cc, gcc or clang in /usr/bin) to build bench/malloc_counter.c")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-allocations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let counter = directory.appendingPathComponent("malloc_counter.so")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: compiler)
        build.arguments = ["-O2", "-shared", "-fPIC", "-o", counter.path, root.appendingPathComponent("bench/malloc_counter.c").path]
        try build.run()
        build.waitUntilExit()
        XCTAssertEqual(build.terminationStatus, 0, "building bench/malloc_counter.c failed")

        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let port = freeLocalPort()
        let bootstrap = directory.appendingPathComponent("proxy.yaml")
        try Self.bootstrap(listenerPort: port, adminPort: freeLocalPort(), upstreamPort: upstream.port).write(to: bootstrap, atomically: true, encoding: .utf8)
        let report = directory.appendingPathComponent("allocations")
        let proxy = Process()
        proxy.executableURL = BuiltProducts.meshctl
        proxy.arguments = ["proxy", "-c", bootstrap.path, "--concurrency", "1", "--log-level", "error"]
        // The start-up pages' release (a second after start, reading /proc/self/smaps) would fall inside the counted
        // window: it is not the data path's, so it stays off here.
        proxy.environment = ["PATH": "/usr/bin:/bin", "LD_PRELOAD": counter.path, "MALLOC_COUNTER_REPORT": report.path,
                             "MESHCTL_KEEP_STARTUP_PAGES": "1"]
        proxy.standardInput = FileHandle.nullDevice
        try proxy.run()
        defer { proxy.terminate(); proxy.waitUntilExit() }

        var connected: KeepAliveClient?
        XCTAssertTrue(eventually(timeout: 30) { connected = try? KeepAliveClient(port: port); return connected != nil }, "the proxy did not listen on \(port)")
        let client = try XCTUnwrap(connected)
        defer { client.close() }
        // Warm up: the first requests make the upstream connection, the stats slots and the buffers that stay.
        for _ in 0..<300 { XCTAssertEqual(try client.get(), 200) }
        var sequence = 0
        func allocations() throws -> Int {
            sequence += 1
            kill(proxy.processIdentifier, SIGUSR2)
            let wanted = sequence
            var count: Int?
            _ = eventually(timeout: 20) {
                guard let text = try? String(contentsOf: report, encoding: .utf8) else { return false }
                let fields = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
                if fields.count == 2 && fields[0] == wanted { count = fields[1] }
                return count != nil
            }
            return try XCTUnwrap(count, "the malloc counter did not report")
        }
        let requests = 2000
        let before = try allocations()
        for _ in 0..<requests { XCTAssertEqual(try client.get(), 200) }
        let after = try allocations()
        let perRequest = Double(after - before) / Double(requests)
        print("meshctl proxy: \(String(format: "%.2f", perRequest)) heap allocations per proxied keep-alive request (ceiling \(Self.ceiling))")
        XCTAssertLessThanOrEqual(perRequest, Self.ceiling, "the proxy's HTTP/1.1 data path allocates more per request than it did")
    }

    static func bootstrap(listenerPort: Int, adminPort: Int, upstreamPort: Int) -> String {
        """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}}
        static_resources:
          listeners:
          - name: l
            address: {socket_address: {address: 127.0.0.1, port_value: \(listenerPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: l
                  route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
          clusters:
          - name: app
            connect_timeout: 1s
            load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstreamPort)}}}}]}]}
        """
    }
}

/// One keep-alive HTTP/1.1 connection, blocking: a GET, its whole answer read (Content-Length framing).
private final class KeepAliveClient {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { Glibc.close(fd); throw TestClientError(message: "connect to \(port) failed") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() { Glibc.close(fd) }

    /// The status of a `GET /` on this connection.
    func get() throws -> Int {
        let request = Array("GET / HTTP/1.1\r\nHost: proxy.test\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { throw TestClientError(message: "write failed") }
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { throw TestClientError(message: "bad head \(head)") }
                let length = lines.dropFirst().compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    return parts.count == 2 && parts[0].lowercased() == "content-length" ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
                }.first ?? 0
                if buffer.count >= end + 4 + length {
                    buffer.removeFirst(end + 4 + length)
                    return status
                }
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { throw TestClientError(message: "the proxy closed the connection") }
            buffer += chunk[..<count]
        }
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4) where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}
