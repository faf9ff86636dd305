import Foundation
import MeshHTTP2
import MeshNet
import MeshHTTP1
import MeshTestSupport
import XCTest
@testable import LocalPods

/// The echo app with ECHO_PROTOCOL=h2c and grpc, over real sockets: MeshHTTP2's client in this process, and curl
/// against `meshctl x echo` in a process of its own.
final class EchoServerHTTP2Tests: XCTestCase {
    private var servers: [EchoServer] = []
    private var clientLoop: EventLoop!

    override func setUpWithError() throws {
        clientLoop = try EventLoop(name: "echo-h2-client")
        clientLoop.start()
    }

    override func tearDown() {
        for server in servers { server.stop() }
        servers = []
        clientLoop?.stop()
    }

    private func start(_ environment: [String: String]) throws -> (server: EchoServer, address: String) {
        var settings = try EchoSettings(environment: ["POD_IP": freshLoopbackAddress(), "POD_NAME": "echo-v2-fghij", "POD_NAMESPACE": "shop",
                                                      "POD_VERSION": "v2"].merging(environment) { $1 })
        settings.ports = [0]
        let server = try EchoServer(settings: settings) { _ in }
        server.start()
        servers.append(server)
        return (server, settings.bindAddress)
    }

    /// Sends `request` on a new h2c connection and waits for the whole answer (trailers join its headers).
    private func send(_ request: HTTPRequest, to echo: (server: EchoServer, address: String)) throws -> HTTPResponse {
        let connected = Box<Result<HTTP2Client, NetworkError>?>(nil)
        HTTP2Client.connect(host: echo.address, port: echo.server.ports[0], loop: clientLoop) { connected.set($0) }
        XCTAssertTrue(eventually { connected.get() != nil }, "connected")
        let client = try XCTUnwrap(connected.get()).get()
        defer { client.close() }
        let answered = Box<Result<HTTPResponse, HTTP2Error>?>(nil)
        client.send(request) { answered.set($0) }
        XCTAssertTrue(eventually(timeout: 15) { answered.get() != nil }, "answered: \(request.method) \(request.target)")
        return try XCTUnwrap(answered.get()).get()
    }

    private static func framed(_ message: String) -> [UInt8] {
        let bytes = Array(message.utf8)
        return [0, UInt8(bytes.count >> 24 & 0xff), UInt8(bytes.count >> 16 & 0xff), UInt8(bytes.count >> 8 & 0xff), UInt8(bytes.count & 0xff)] + bytes
    }

    private func grpcCall(_ echo: (server: EchoServer, address: String), _ message: [UInt8], headers: [(name: String, value: String)] = []) throws -> HTTPResponse {
        try send(HTTPRequest(method: "POST", target: "/echo.Echo/Say", version: 20,
                             headers: [("content-type", "application/grpc"), ("te", "trailers")] + headers, body: message), to: echo)
    }

    func testH2cAnswersAsHTTP1DoesWithTheHTTP2RequestLine() throws {
        let echo = try start(["ECHO_PROTOCOL": "h2c"])
        let plain = try send(HTTPRequest(method: "GET", target: "/hello?x=1", version: 20, headers: [("x-trace", "abc")]), to: echo)
        XCTAssertEqual(plain.status, 200)
        let body = String(decoding: plain.body, as: UTF8.self)
        for line in ["pod=echo-v2-fghij", "namespace=shop", "version=v2", "request=GET /hello?x=1 HTTP/2", "header=x-trace: abc", "status=200"] {
            XCTAssertTrue(body.contains(line + "\n"), "\(line) in\n\(body)")
        }
        XCTAssertEqual(try send(HTTPRequest(method: "GET", target: "/status/418", version: 20), to: echo).status, 418)
        let headers = try send(HTTPRequest(method: "GET", target: "/headers", version: 20, headers: [("x-one", "1")]), to: echo)
        XCTAssertTrue(String(decoding: headers.body, as: UTF8.self).contains("x-one: 1\n"))
        let started = Date()
        XCTAssertEqual(try send(HTTPRequest(method: "GET", target: "/delay/300ms", version: 20), to: echo).status, 200)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.3)
        XCTAssertThrowsError(try send(HTTPRequest(method: "GET", target: "/close", version: 20), to: echo), "/close resets the stream")
    }

    func testGRPCEchoesTheMessageWithStatusZeroInTheTrailers() throws {
        let echo = try start(["ECHO_PROTOCOL": "grpc"])
        let message = Self.framed("hello grpc") + Self.framed("second")
        let answer = try grpcCall(echo, message)
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.header("content-type"), "application/grpc")
        XCTAssertEqual(answer.body, message, "both messages come back unchanged")
        XCTAssertEqual(answer.header("grpc-status"), "0")
        let plain = try send(HTTPRequest(method: "GET", target: "/x", version: 20), to: echo)
        XCTAssertTrue(String(decoding: plain.body, as: UTF8.self).contains("request=GET /x HTTP/2\n"), "not gRPC: the ordinary echo")
    }

    func testGRPCStatusAskedForAndBadFramingAndDeadlines() throws {
        let echo = try start(["ECHO_PROTOCOL": "grpc", "ECHO_DELAY": "400ms"])
        let asked = try grpcCall(echo, Self.framed("x"), headers: [("x-echo-grpc-status", "7")])
        XCTAssertEqual(asked.header("grpc-status"), "7")
        XCTAssertEqual(asked.body, [])
        XCTAssertTrue(asked.header("grpc-message")?.contains("x-echo-grpc-status") == true, "\(asked.headers)")
        let torn = try grpcCall(echo, Array(Self.framed("cut short").dropLast(3)))
        XCTAssertEqual(torn.header("grpc-status"), "13")
        XCTAssertTrue(torn.header("grpc-message")?.contains("length-prefixed") == true, "\(torn.headers)")
        let started = Date()
        let late = try grpcCall(echo, Self.framed("x"), headers: [("grpc-timeout", "100m")])
        XCTAssertEqual(late.header("grpc-status"), "4", "the 100 ms deadline runs out before the 400 ms delay")
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.4)
        let inTime = try grpcCall(echo, Self.framed("x"), headers: [("grpc-timeout", "5S")])
        XCTAssertEqual(inTime.header("grpc-status"), "0")
        XCTAssertEqual(try grpcCall(echo, Self.framed("x"), headers: [("grpc-timeout", "soon")]).header("grpc-status"), "13")
    }

    func testTimeoutsAndFraming() {
        XCTAssertEqual(GRPCEchoAnswer.timeout("250m"), 0.25)
        XCTAssertEqual(GRPCEchoAnswer.timeout("2S"), 2)
        XCTAssertEqual(GRPCEchoAnswer.timeout("1H"), 3600)
        for bad in ["", "S", "123456789S", "5x", "-1S", "1.5S"] { XCTAssertNil(GRPCEchoAnswer.timeout(bad), bad) }
        XCTAssertTrue(GRPCEchoAnswer.isFramed([]))
        XCTAssertTrue(GRPCEchoAnswer.isFramed(Self.framed("")))
        XCTAssertFalse(GRPCEchoAnswer.isFramed([2, 0, 0, 0, 0]), "flag must be 0 or 1")
        XCTAssertFalse(GRPCEchoAnswer.isFramed([0, 0, 0]))
    }

    func testH2cWithTLSIsRefusedWithWhatToDo() {
        XCTAssertThrowsError(try EchoSettings(environment: ["ECHO_PROTOCOL": "h2c", "ECHO_TLS": "true"])) { error in
            XCTAssertTrue("\(error)".contains("cleartext only"), "\(error)")
        }
    }

    func testCurlWithPriorKnowledgeAndUpgradeAgainstMeshctlXEcho() throws {
        let curl = "/usr/bin/curl"
        guard FileManager.default.isExecutableFile(atPath: curl) else { throw XCTSkip("no \(curl) on this machine") }
        let address = freshLoopbackAddress()
        let echo = try EchoProcess(name: "echo-h2c", address: address, port: 8080, environment: ["ECHO_PROTOCOL": "h2c", "POD_VERSION": "v3"])
        defer { echo.stop() }
        for mode in ["--http2-prior-knowledge", "--http2"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: curl)
            process.arguments = ["-sS", mode, "-H", "X-Mode: \(mode)", "-w", "[%{http_version} %{response_code}]", "http://\(address):8080/status/202"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, mode)
            for line in ["pod=echo-h2c", "version=v3", "request=GET /status/202 HTTP/2", "status=202"] {
                XCTAssertTrue(text.contains(line + "\n"), "\(mode): \(line) in\n\(text)")
            }
            // The upgraded request came as HTTP/1.1 and keeps its names' case; prior knowledge sends them lower-case.
            XCTAssertTrue(text.lowercased().contains("header=x-mode: \(mode)\n"), "\(mode): \(text)")
            XCTAssertTrue(text.hasSuffix("[2 202]"), "\(mode): \(text)")
        }
        XCTAssertTrue(echo.output.contains("\"GET /status/202 HTTP/2\" 202 "), echo.output)
    }
}

/// A value set on a loop thread and read by the test's.
private final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ new: Value) { lock.lock(); value = new; lock.unlock() }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
}

private extension HTTPResponse {
    /// The first value of a header or trailer, by name in any case.
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}
