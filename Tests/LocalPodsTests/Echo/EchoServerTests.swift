import ConfigValues
import Foundation
import MeshNet
import MeshTestSupport
import XCTest
@testable import LocalPods

/// The echo app over real sockets, in this process: each test serves on its own 127.x address.
final class EchoServerTests: XCTestCase {
    private var servers: [EchoServer] = []
    private let lines = LogLines()

    override func tearDown() {
        for server in servers { server.stop() }
        servers = []
    }

    /// An address of its own on loopback, so tests never meet another's server.
    private func freshAddress() -> String { freshLoopbackAddress() }

    private func start(_ environment: [String: String]) throws -> (server: EchoServer, address: String) {
        let address = environment["POD_IP"] ?? freshAddress()
        var settings = try EchoSettings(environment: ["POD_IP": address, "POD_NAME": "echo-v1-abcde", "POD_NAMESPACE": "shop",
                                                      "SERVICE_ACCOUNT": "echo", "POD_VERSION": "v1"].merging(environment) { $1 })
        settings.ports = [0]
        let server = try EchoServer(settings: settings) { [lines] line in lines.append(line) }
        server.start()
        servers.append(server)
        return (server, settings.bindAddress)
    }

    private func get(_ server: (server: EchoServer, address: String), _ path: String, headers: [(name: String, value: String)] = [],
                     method: String = "GET", source: String? = nil) throws -> Result<HTTPCall.Response, HTTPCall.Failure> {
        let url = try CallURL("http://\(server.address):\(server.server.ports[0])\(path)")
        return HTTPCall.performWaiting(HTTPCall.Request(method: method, url: url, headers: headers), address: server.address, source: source, timeout: 10)
    }

    private func text(_ result: Result<HTTPCall.Response, HTTPCall.Failure>) throws -> (status: Int, body: String) {
        let response = try result.get()
        return (response.head.status, String(decoding: response.body, as: UTF8.self))
    }

    func testTheEchoNamesThePodAndShowsTheRequestAsTextAndJSON() throws {
        let echo = try start([:])
        let plain = try text(get(echo, "/hello?x=1", headers: [("X-Trace", "abc")], source: "127.0.0.1"))
        XCTAssertEqual(plain.status, 200)
        for line in ["pod=echo-v1-abcde", "namespace=shop", "serviceAccount=echo", "version=v1", "server=\(echo.address):\(echo.server.ports[0])",
                     "request=GET /hello?x=1 HTTP/1.1", "header=X-Trace: abc", "status=200"] {
            XCTAssertTrue(plain.body.contains(line + "\n"), "\(line) in\n\(plain.body)")
        }
        XCTAssertTrue(plain.body.contains("client=127.0.0.1:"), plain.body)
        let json = try JSONValue.parse(try text(get(echo, "/x", headers: [("Accept", "application/json")])).body)
        XCTAssertEqual(json["pod"]?.string, "echo-v1-abcde")
        XCTAssertEqual(json["version"]?.string, "v1")
        XCTAssertEqual(json["target"]?.string, "/x")
        XCTAssertEqual(json["headers"]?["Accept"]?.string, "application/json")
        XCTAssertTrue(eventually { lines.all.contains { $0.contains("\"GET /hello?x=1 HTTP/1.1\" 200 ") } }, "one log line per request: \(lines.all)")
    }

    func testStatusDelayHeadersAndClose() throws {
        let echo = try start([:])
        XCTAssertEqual(try text(get(echo, "/status/503")).status, 503)
        XCTAssertEqual(try text(get(echo, "/status/204")).body, "", "no body with 204")
        let refused = try text(get(echo, "/status/42"))
        XCTAssertEqual(refused.status, 400)
        XCTAssertTrue(refused.body.contains("from 200 to 599"), refused.body)
        let started = Date()
        XCTAssertEqual(try text(get(echo, "/delay/300ms")).status, 200)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.3)
        XCTAssertEqual(try text(get(echo, "/delay/soon")).status, 400)
        let headers = try text(get(echo, "/headers", headers: [("X-A", "1")]))
        XCTAssertTrue(headers.body.contains("X-A: 1\n") && !headers.body.contains("pod="), headers.body)
        guard case .failure(let closed) = try get(echo, "/close") else { return XCTFail("/close answered") }
        XCTAssertTrue(closed.description.contains("closed without an answer"), closed.description)
        XCTAssertTrue(eventually { lines.all.contains { $0.contains("\"GET /close HTTP/1.1\" closed") } }, "\(lines.all)")
    }

    func testErrorRateAndDelaySettings() throws {
        let failing = try start(["ECHO_ERROR_RATE": "1", "ECHO_DELAY": "200ms"])
        let started = Date()
        let answer = try text(get(failing, "/"))
        XCTAssertEqual(answer.status, 503)
        XCTAssertTrue(answer.body.contains("ECHO_ERROR_RATE"), answer.body)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.2)
        let healthy = try start(["ECHO_ERROR_RATE": "0"])
        XCTAssertEqual(try (0..<5).map { _ in try text(get(healthy, "/")).status }, [200, 200, 200, 200, 200])
    }

    /// /call reaches another pod by its Service name (the names file), from this pod's address.
    func testCallReachesAServiceByNameFromThePodAddress() throws {
        let callee = try start(["POD_NAME": "backend-0"])
        let names = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: names) }
        try ClusterNames(table: [ClusterNames.serviceName("backend", namespace: "shop"): [callee.address]]).fileText
            .write(to: names, atomically: true, encoding: .utf8)
        let caller = try start([ServiceLinks.namesFileVariable: names.path])
        let answer = try text(get(caller, "/call?url=" + "http://backend:\(callee.server.ports[0])/who"))
        XCTAssertEqual(answer.status, 200, answer.body)
        XCTAssertTrue(answer.body.contains("status=200 OK"), answer.body)
        XCTAssertTrue(answer.body.contains("pod=backend-0") && answer.body.contains("client=\(caller.address):"), answer.body)
        let unknown = try text(get(caller, "/call?url=http://nowhere/"))
        XCTAssertEqual(unknown.status, 502)
        XCTAssertTrue(unknown.body.contains("no Service nowhere in namespace shop"), unknown.body)
        let outside = try text(get(caller, "/call?url=http://api.example.invalid/"))
        XCTAssertEqual(outside.status, 502, "nothing leaves loopback")
        XCTAssertEqual(try text(get(caller, "/call")).status, 400)
    }

    /// ECHO_KEEPALIVE_TIMEOUT closes an idle keep-alive connection after that long, not before.
    func testKeepAliveTimeoutClosesIdleConnections() throws {
        let echo = try start(["ECHO_KEEPALIVE_TIMEOUT": "300ms"])
        let socket = try LoopbackClient(address: echo.address, port: echo.server.ports[0])
        try socket.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(socket.readUntilClosed(timeout: 5).hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertGreaterThanOrEqual(socket.closedAfter ?? 0, 0.25, "kept open while idle for the timeout")
        XCTAssertNotNil(socket.closedAfter, "closed by the server")
    }

    /// ECHO_CLOSE_AFTER=1 answers the first request of a keep-alive connection and closes it when the second comes.
    func testCloseAfterDropsTheNextRequestOfAKeptAliveConnection() throws {
        let echo = try start(["ECHO_CLOSE_AFTER": "1"])
        let socket = try LoopbackClient(address: echo.address, port: echo.server.ports[0])
        try socket.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        let received = socket.readUntilClosed(timeout: 10)
        XCTAssertEqual(received.components(separatedBy: "HTTP/1.1 200 OK").count, 2, "one answer, then the connection closed: \(received)")
        XCTAssertNotNil(socket.closedAfter, "closed by the server")
        // A new connection gets its one answer again.
        XCTAssertEqual(try text(get(echo, "/third")).status, 200)
        XCTAssertThrowsError(try EchoSettings(environment: ["ECHO_CLOSE_AFTER": "-1"])) { XCTAssertTrue("\($0)".contains("ECHO_CLOSE_AFTER=-1"), "\($0)") }
    }

    func testTCPEchoesBytes() throws {
        let echo = try start(["ECHO_PROTOCOL": "tcp"])
        let socket = try LoopbackClient(address: echo.address, port: echo.server.ports[0])
        try socket.send("ping\n")
        XCTAssertTrue(eventually { socket.readAvailable().contains("ping\n") })
        socket.close()
        XCTAssertTrue(eventually { lines.all.contains { $0.contains("\"tcp\" - 5 ") } }, "\(lines.all)")
    }

    func testTLSWithASelfSignedCertificate() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("no curl at /usr/bin/curl on this machine") }
        let echo = try start(["ECHO_TLS": "true"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sk", "--max-time", "10", "https://\(echo.address):\(echo.server.ports[0])/tls"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let body = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(body.contains("request=GET /tls HTTP/1.1"), body)
    }

    /// ECHO_PROTOCOL=tcp with ECHO_TLS: bytes echoed inside TLS (a TLSHandler under the echo), Python's ssl as the client.
    func testTCPEchoesBytesInsideTLS() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no python3 at /usr/bin/python3 on this machine") }
        let echo = try start(["ECHO_PROTOCOL": "tcp", "ECHO_TLS": "true"])
        let script = """
            import socket, ssl, sys
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            with context.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)) as tls:
                tls.sendall(b"ping over tls\\n")
                got = b""
                while not got.endswith(b"\\n"): got += tls.recv(100)
                print(tls.version(), got.decode().strip())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, echo.address, String(echo.server.ports[0])]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(printed, "TLSv1.3 ping over tls\n")
        XCTAssertTrue(eventually { lines.all.contains { $0.contains("\"tcp\" - 14 ") } }, "\(lines.all)")
    }

    func testSettingsThatCannotBeUsedSayWhichAndHow() {
        let cases: [([String: String], String)] = [
            (["PORTS": "8080,x"], "PORTS=8080,x: \"x\" is not a port"), (["PORT": "0"], "PORT=0: not a port"),
            (["ECHO_ERROR_RATE": "2"], "ECHO_ERROR_RATE=2: not a fraction from 0 to 1"), (["ECHO_DELAY": "forever"], "ECHO_DELAY=forever: not a duration"),
            (["ECHO_TLS": "maybe"], "ECHO_TLS=maybe: use true or false"), (["ECHO_BIND": "pod"], "ECHO_BIND=pod: not an IP address"),
            (["ECHO_BIND": "0.0.0.0"], "ECHO_BIND=0.0.0.0: local mode's pods listen on loopback only"), (["POD_IP": "10.1.2.3"], "POD_IP=10.1.2.3"),
            (["ECHO_PROTOCOL": "quic"], "ECHO_PROTOCOL=quic: unknown protocol"), (["ECHO_TLS_CERT": "/c.pem"], "set both or neither"),
        ]
        for (environment, expected) in cases {
            XCTAssertThrowsError(try EchoSettings(environment: environment), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
        XCTAssertEqual(try? EchoSettings(environment: ["ECHO_PROTOCOL": "h2c"]).wireProtocol, .h2c)
        XCTAssertEqual(try? EchoSettings(environment: ["ECHO_PROTOCOL": "grpc"]).wireProtocol, .grpc)
        let settings = try? EchoSettings(environment: ["PORTS": "8080,9090,8080", "POD_IP": "127.10.0.7", "ECHO_BIND": "127.0.0.1"])
        XCTAssertEqual(settings?.ports, [8080, 9090])
        XCTAssertEqual(settings?.bindAddress, "127.0.0.1", "ECHO_BIND wins over POD_IP")
        XCTAssertEqual(try? EchoSettings(environment: [:]).ports, [EchoSettings.defaultPort])
    }
}

/// Log lines collected from any thread.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
