import Foundation
import KubeClient
import LocalPods
import Manifests
import MeshTestSupport
import XCTest
@testable import MeshControlPlane

/// Where Services' ports lead, from the objects alone.
final class ServiceRoutingTests: XCTestCase {
    private func parse(_ texts: [String]) throws -> [JSONValue] { try texts.map { try JSONValue.parse($0) } }

    func testEndpointsBySliceOrObjectNamedPortsReadinessAndHeadlessNames() throws {
        let services = try parse([
            #"{"metadata":{"name":"web","namespace":"shop"},"spec":{"clusterIP":"127.96.0.10","ports":[{"name":"http","port":80,"targetPort":"web"},{"name":"admin","port":9000}]}}"#,
            #"{"metadata":{"name":"api","namespace":"shop"},"spec":{"clusterIP":"127.96.0.11","ports":[{"port":8080,"targetPort":8081}]}}"#,
            #"{"metadata":{"name":"peers","namespace":"shop"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}"#,
            #"{"metadata":{"name":"old","namespace":"shop"},"spec":{"clusterIP":"10.96.0.12","ports":[{"port":80}]}}"#,
            #"{"metadata":{"name":"ext","namespace":"shop"},"spec":{"type":"ExternalName","externalName":"api.example.invalid"}}"#,
        ])
        let endpoints = try parse([
            #"{"metadata":{"name":"web","namespace":"shop"},"subsets":[{"addresses":[{"ip":"127.10.0.9"}],"ports":[{"name":"http","port":8080}]}]}"#,
            #"{"metadata":{"name":"api","namespace":"shop"},"subsets":[{"addresses":[{"ip":"127.10.0.1"}],"notReadyAddresses":[{"ip":"127.10.0.2"}],"ports":[{"port":8081}]}]}"#,
            #"{"metadata":{"name":"peers","namespace":"shop"},"subsets":[{"addresses":[{"ip":"127.10.0.5"},{"ip":"127.10.0.4"}],"ports":[{"port":80}]}]}"#,
        ])
        let slices = try parse([
            #"{"metadata":{"name":"web-abc","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"http","port":8080},{"name":"admin","port":9001}],"endpoints":[{"addresses":["127.10.0.3"],"conditions":{"ready":true}},{"addresses":["127.10.0.4"]},{"addresses":["127.10.0.6"],"conditions":{"ready":false}}]}"#,
        ])
        let routing = ServiceRouting(services: services, endpoints: endpoints, slices: slices)
        typealias F = ServiceRouting.Frontend
        typealias B = ServiceRouting.Backend
        XCTAssertEqual(routing.frontends[F(address: "127.96.0.10", port: 80)], [B(address: "127.10.0.3", port: 8080), B(address: "127.10.0.4", port: 8080)],
                       "the slices win over the Endpoints object; a slice endpoint without conditions is ready")
        XCTAssertEqual(routing.frontends[F(address: "127.96.0.10", port: 9000)], [B(address: "127.10.0.3", port: 9001), B(address: "127.10.0.4", port: 9001)])
        XCTAssertEqual(routing.frontends[F(address: "127.96.0.11", port: 8080)], [B(address: "127.10.0.1", port: 8081)], "not-ready addresses are left out")
        XCTAssertEqual(routing.frontends.count, 3, "headless, off-loopback and ExternalName Services are not forwarded")
        XCTAssertEqual(try routing.names.resolve("peers", namespace: "shop"), ["127.10.0.4", "127.10.0.5"])
        XCTAssertEqual(try routing.names.resolve("web.shop", namespace: "x"), ["127.96.0.10"])
        XCTAssertThrowsError(try routing.names.resolve("old", namespace: "shop"))
    }
}

/// The service proxy of a running control plane, with Services and Endpoints written through the API and two echo
/// processes as the pods.
final class ServiceProxyTests: XCTestCase {
    private var running: RunningControlPlane!
    private var plane: LocalControlPlane { running.plane }

    override func setUpWithError() throws {
        running = try RunningControlPlane(name: "proxy")
    }

    override func tearDown() {
        running?.stop()
    }

    @discardableResult
    private func call(_ method: String, _ path: String, _ body: String? = nil) throws -> JSONValue {
        let answer = try running.call(method, path, body)
        guard (200..<300).contains(answer.status) else { throw EchoProcessError(description: "\(method) \(path): \(answer.status) \(answer.json.serialized)") }
        return answer.json
    }

    /// Which pod answered a GET to `address:port`, or the failure.
    private func ask(_ address: String, _ port: Int, from source: String? = nil) -> Result<String, HTTPCall.Failure> {
        let url = try! CallURL("http://\(address):\(port)/")
        return HTTPCall.performWaiting(HTTPCall.Request(url: url), address: address, source: source, timeout: 5).map { response in
            let body = String(decoding: response.body, as: UTF8.self)
            return body.split(separator: "\n").first { $0.hasPrefix("pod=") }.map { String($0.dropFirst(4)) } ?? body
        }
    }

    private func endpoints(ready: [String], notReady: [String], port: Int) -> String {
        func addresses(_ list: [String]) -> String { "[" + list.map { #"{"ip":"\#($0)"}"# }.joined(separator: ",") + "]" }
        return #"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"echo","namespace":"default"},"subsets":[{"addresses":\#(addresses(ready)),"notReadyAddresses":\#(addresses(notReady)),"ports":[{"name":"http","port":\#(port)}]}]}"#
    }

    func testRoundRobinRefusalAndLiveUpdates() throws {
        let base = freshLoopbackAddress().split(separator: ".").prefix(3).joined(separator: ".")
        let port = Int.random(in: 20_000...40_000)
        let first = try EchoProcess(name: "echo-a", address: "\(base).1", port: port)
        let second = try EchoProcess(name: "echo-b", address: "\(base).2", port: port)
        defer { first.stop(); second.stop() }

        // A Service without a selector: its Endpoints are ours to write, as a controller would.
        let service = try call("POST", "/api/v1/namespaces/default/services",
                               #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"echo"},"spec":{"ports":[{"name":"http","port":8080,"targetPort":"web"}]}}"#)
        let clusterIP = try XCTUnwrap(service["spec"]?["clusterIP"]?.string)
        XCTAssertTrue(clusterIP.hasPrefix("127.") && IPAddress.isLoopback(clusterIP), clusterIP)
        XCTAssertTrue(eventually { (try? String(contentsOf: plane.paths.names, encoding: .utf8))?.contains("echo.default.svc.cluster.local \(clusterIP)\n") == true },
                      "the names file has the Service")
        guard case .failure(let refused) = ask(clusterIP, 8080) else { return XCTFail("answered with no endpoints") }
        XCTAssertTrue(refused.description.contains("Connection refused"), refused.description)

        try call("POST", "/api/v1/namespaces/default/endpoints", endpoints(ready: [first.address, second.address], notReady: [], port: port))
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8080).get()) != nil }, "forwarded once the Endpoints are there")
        let answers = try (0..<6).map { _ in try ask(clusterIP, 8080).get() }
        XCTAssertEqual(Set(answers), ["echo-a", "echo-b"])
        XCTAssertTrue(zip(answers, answers.dropFirst()).allSatisfy { $0 != $1 }, "round robin: \(answers)")

        // The backend sees the caller's own address.
        let caller = "\(base).77"
        let seen = HTTPCall.performWaiting(HTTPCall.Request(url: try CallURL("http://\(clusterIP):8080/")), address: clusterIP, source: caller, timeout: 5)
        XCTAssertTrue(String(decoding: try seen.get().body, as: UTF8.self).contains("client=\(caller):"))

        try call("PUT", "/api/v1/namespaces/default/endpoints/echo", endpoints(ready: [second.address], notReady: [first.address], port: port))
        XCTAssertTrue(eventually { (0..<4).allSatisfy { _ in (try? ask(clusterIP, 8080).get()) == "echo-b" } }, "only the ready pod")

        try call("PUT", "/api/v1/namespaces/default/endpoints/echo", endpoints(ready: [], notReady: [first.address, second.address], port: port))
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8080).get()) == nil }, "refused with no ready endpoint")

        try call("PUT", "/api/v1/namespaces/default/endpoints/echo", endpoints(ready: [first.address], notReady: [], port: port))
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8080).get()) == "echo-a" }, "back when a pod is ready again")
        try call("DELETE", "/api/v1/namespaces/default/services/echo")
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8080).get()) == nil }, "a deleted Service is not forwarded")
        XCTAssertTrue(eventually { (try? String(contentsOf: plane.paths.names, encoding: .utf8))?.contains("echo.default") == false })
    }

    /// A client that shuts down its sending side (as `printf hi | nc -N` does) still gets the backend's answer:
    /// the FIN goes through to the backend, and the answer back.
    func testAHalfClosedClientStillGetsTheAnswer() throws {
        let address = freshLoopbackAddress(), port = Int.random(in: 20_000...40_000)
        let echo = try EchoProcess(name: "tcp-0", address: address, port: port, environment: ["ECHO_PROTOCOL": "tcp"])
        defer { echo.stop() }
        let service = try call("POST", "/api/v1/namespaces/default/services",
                               #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"echo"},"spec":{"ports":[{"name":"http","port":7000}]}}"#)
        let clusterIP = try XCTUnwrap(service["spec"]?["clusterIP"]?.string)
        try call("POST", "/api/v1/namespaces/default/endpoints", endpoints(ready: [address], notReady: [], port: port))
        var answer: [UInt8]?
        XCTAssertTrue(eventually(timeout: 15) { answer = Self.sendAndHalfClose(Array("hi there".utf8), to: clusterIP, port: 7000); return answer != nil },
                      "connected through the Service")
        XCTAssertEqual(answer.map { String(decoding: $0, as: UTF8.self) }, "hi there", "the echo came back after the client's FIN")
    }

    /// Connects, sends `bytes`, shuts down the sending side, and reads until the other side closes (5 s at most);
    /// nil when the connection failed.
    private static func sendAndHalfClose(_ bytes: [UInt8], to host: String, port: Int) -> [UInt8]? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0, send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return nil }
        shutdown(fd, Int32(SHUT_WR))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { return count == 0 ? received : nil }
            received += chunk[0..<count]
        }
    }

    /// A Service whose endpoints are EndpointSlices (targetPort by name, through the slice port's name) is forwarded
    /// as its slices say, and follows them.
    func testEndpointSlicesAreFollowed() throws {
        let address = freshLoopbackAddress(), port = Int.random(in: 20_000...40_000)
        let echo = try EchoProcess(name: "sliced-0", address: address, port: port)
        defer { echo.stop() }
        let service = try call("POST", "/api/v1/namespaces/default/services",
                               #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"sliced"},"spec":{"ports":[{"name":"web","port":8081,"targetPort":"web"}]}}"#)
        let clusterIP = try XCTUnwrap(service["spec"]?["clusterIP"]?.string)
        func slice(ready: Bool) -> String {
            #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"sliced-x1","labels":{"kubernetes.io/service-name":"sliced"}},"addressType":"IPv4","ports":[{"name":"web","port":\#(port),"protocol":"TCP"}],"endpoints":[{"addresses":["\#(address)"],"conditions":{"ready":\#(ready)}}]}"#
        }
        try call("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice(ready: true))
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8081).get()) == "sliced-0" }, "forwarded to the slice's endpoint")
        try call("PUT", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/sliced-x1", slice(ready: false))
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8081).get()) == nil }, "refused once the endpoint is not ready")
    }

    /// A control plane started again on the same state directory forwards its Services again, from the store.
    func testARestartedControlPlaneForwardsAgain() throws {
        let address = freshLoopbackAddress(), port = Int.random(in: 20_000...40_000)
        let echo = try EchoProcess(name: "kept-0", address: address, port: port)
        defer { echo.stop() }
        let service = try call("POST", "/api/v1/namespaces/default/services",
                               #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kept"},"spec":{"ports":[{"port":8082}]}}"#)
        let clusterIP = try XCTUnwrap(service["spec"]?["clusterIP"]?.string)
        try call("POST", "/api/v1/namespaces/default/endpoints",
                 #"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"kept"},"subsets":[{"addresses":[{"ip":"\#(address)"}],"ports":[{"port":\#(port)}]}]}"#)
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8082).get()) == "kept-0" })
        plane.stop()
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8082).get()) == nil }, "nothing listens once it stopped")
        let again = try LocalControlPlane(stateDirectory: running.directory, port: 0)
        try again.start()
        defer { again.stop() }
        XCTAssertTrue(eventually { (try? ask(clusterIP, 8082).get()) == "kept-0" }, "forwarded again after the restart")
    }
}
