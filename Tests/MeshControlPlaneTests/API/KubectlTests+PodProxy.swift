import Foundation
import XCTest
@testable import MeshControlPlane
import Manifests
import MeshNet
import MeshHTTP1

/// pods/proxy and pods/log with the real kubectl: the request reaches a server at the pod's status.podIP.
extension KubectlTests {
    func testPodProxyReachesThePodAndLogsAnswer() throws {
        let loop = try EventLoop(name: "pod-under-test")
        loop.start()
        defer { loop.stop() }
        let pod = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil) { request, responder in
            let text = request.target.hasPrefix("/ready") ? "LIVE\n" : "\(request.method) \(request.target)"
            responder.respond(HTTPResponse(status: request.target.hasPrefix("/missing") ? 404 : 200, contentType: "text/plain", text: text))
        }
        pod.start()
        defer { pod.stop() }
        let manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: web, namespace: default}
            spec: {containers: [{name: app, image: web}, {name: istio-proxy, image: proxyv2}]}
            status: {phase: Running, podIP: 127.0.0.1}
            """
        XCTAssertEqual(try kubectl(["create", "-f", "-"], input: manifest).status, 0)

        var result = try kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web:\(pod.port)/proxy/ready"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "LIVE\n")
        result = try kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web:\(pod.port)/proxy/stats?usedonly&filter=x"])
        // kubectl adds its own timeout parameter; the path and the query reach the pod as kubectl sent them.
        XCTAssertTrue(result.output.hasPrefix("GET /stats?"), result.output)
        XCTAssertTrue(result.output.contains("filter=x") && result.output.contains("usedonly"), result.output)
        result = try kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web:\(pod.port)/proxy/missing"])
        XCTAssertNotEqual(result.status, 0, "the pod's 404 is passed on")

        result = try kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web:1/proxy/ready"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("error trying to reach service: dial tcp 127.0.0.1:1"), result.output)
        result = try kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/nope:80/proxy/ready"])
        XCTAssertTrue(result.output.contains("pods \"nope\" not found"), result.output)

        // No container runs in local mode: no log, said as kubectl says it for a container not started (not an empty success).
        result = try kubectl(["logs", "web", "-c", "istio-proxy"])
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("container \"istio-proxy\" in pod \"web\" is waiting to start"), result.output)
        result = try kubectl(["logs", "web", "-c", "sidecar"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("container sidecar is not valid for pod web"), result.output)
    }
}

/// The pod's answer as the pod proxy reads it: hostile framing is refused, never trusted.
final class PodHTTPForwarderTests: XCTestCase {
    func testResponsesAreReadByTheirFraming() {
        let plain = PodHTTPForwarder.parse(Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nLIVE\nextra".utf8))
        XCTAssertEqual(plain?.status, 200)
        XCTAssertEqual(plain.map { String(decoding: $0.body, as: UTF8.self) }, "LIVE\n")
        let chunked = PodHTTPForwarder.parse(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n".utf8))
        XCTAssertEqual(chunked.map { String(decoding: $0.body, as: UTF8.self) }, "abcdef")
        XCTAssertNil(PodHTTPForwarder.parse(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nab".utf8)))
        XCTAssertNil(PodHTTPForwarder.parse(Array("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort".utf8)))
        XCTAssertNil(PodHTTPForwarder.parse(Array("garbage".utf8)))
    }
}
