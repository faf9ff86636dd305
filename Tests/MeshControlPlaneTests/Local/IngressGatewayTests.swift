import Foundation
import Manifests
import MeshTestSupport
import XCTest
@testable import MeshControlPlane

/// The ingress gateway's host ports: chosen, kept, and forwarded to the gateway Service's ports.
final class IngressGatewayTests: XCTestCase {
    private func parse(_ texts: [String]) throws -> [JSONValue] { try texts.map { try JSONValue.parse($0) } }

    func testHostPortsForwardToTheirServicePortAndStayWhileNothingIsReady() throws {
        let services = try parse([
            #"{"metadata":{"name":"istio-ingressgateway","namespace":"istio-system"},"spec":{"type":"LoadBalancer","clusterIP":"127.96.0.20","ports":[{"name":"status-port","port":15021},{"name":"http2","port":80,"targetPort":8080},{"name":"https","port":443,"targetPort":8443}]}}"#,
        ])
        let endpoints = try parse([
            #"{"metadata":{"name":"istio-ingressgateway","namespace":"istio-system"},"subsets":[{"addresses":[{"ip":"127.10.0.7"}],"ports":[{"name":"http2","port":8080},{"name":"status-port","port":15021}]}]}"#,
        ])
        let hostPorts = IngressGateway.hostPorts(IngressSettings(httpPort: 18080, httpsPort: 18443))
        let routing = ServiceRouting(services: services, endpoints: endpoints, slices: [], hostPorts: hostPorts)
        typealias F = ServiceRouting.Frontend
        typealias B = ServiceRouting.Backend
        XCTAssertEqual(routing.frontends[F(address: "127.0.0.1", port: 18080)], [B(address: "127.10.0.7", port: 8080)])
        XCTAssertEqual(routing.frontends[F(address: "127.96.0.20", port: 80)], [B(address: "127.10.0.7", port: 8080)])
        // 443 has no ready endpoint: its host port still listens (and resets), so the port stays local mode's.
        XCTAssertEqual(routing.frontends[F(address: "127.0.0.1", port: 18443)], [])
        XCTAssertEqual(routing.owners[F(address: "127.0.0.1", port: 18443)], "istio-system/istio-ingressgateway")
        // Without the Service at all, both host ports are still held.
        let empty = ServiceRouting(services: [], endpoints: [], slices: [], hostPorts: hostPorts)
        XCTAssertEqual(empty.frontends.count, 2)
    }

    func testPortsAreTheAskedOnesElseTheLastFreeOnesElsePreferredOrNext() throws {
        // Asked for: as asked (0: one the system hands out).
        XCTAssertEqual(IngressSettings.choose(http: 18081, https: 18444, last: nil), IngressSettings(httpPort: 18081, httpsPort: 18444))
        let any = IngressSettings.choose(http: 0, https: 0, last: IngressSettings(httpPort: 18082, httpsPort: 18445))
        XCTAssertNotEqual(any.httpPort, 0)
        XCTAssertNotEqual(any.httpPort, any.httpsPort)
        // The last ones while free.
        let last = IngressSettings(httpPort: any.httpPort, httpsPort: any.httpsPort)
        XCTAssertEqual(IngressSettings.choose(http: nil, https: nil, last: last), last)
        // A last port taken by now: another free one.
        let holder = try XCTUnwrap(bindLoopback())
        defer { close(holder.fd) }
        let moved = IngressSettings.choose(http: nil, https: nil, last: IngressSettings(httpPort: holder.port, httpsPort: any.httpsPort))
        XCTAssertNotEqual(moved.httpPort, holder.port)
        XCTAssertTrue(IngressSettings.isFree(moved.httpPort))
        XCTAssertFalse(IngressSettings.isFree(holder.port))
    }

    func testTheStateFileRoundTripsAndRefusesHalfAFile() {
        let settings = IngressSettings(httpPort: 8080, httpsPort: 8443)
        XCTAssertEqual(IngressSettings(fileText: settings.fileText), settings)
        XCTAssertNil(IngressSettings(fileText: "http=8080\n"))
        XCTAssertNil(IngressSettings(fileText: "http=80800\nhttps=8443\n"))
    }

    func testTheGatewayObjectsAreAnIstioInstallsWithALoadBalancerOnLoopback() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ingress-objects-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let plane = try LocalControlPlane(stateDirectory: folder, port: 0)
        try IngressGateway.ensure(plane.api)
        let deployment = try XCTUnwrap(try plane.api.store.get("deployments.apps", namespace: "istio-system", name: "istio-ingressgateway"))
        let container = try XCTUnwrap(deployment.value(atPath: "spec.template.spec.containers")?.array?.first)
        XCTAssertEqual(container["args"]?.array?.prefix(2).compactMap(\.string), ["proxy", "router"])
        XCTAssertTrue(container["image"]?.string?.contains("/proxyv2:") ?? false)
        XCTAssertEqual(deployment.value(atPath: "spec.template.metadata.labels")?["istio"]?.string, "ingressgateway")
        let service = try XCTUnwrap(try plane.api.store.get("services", namespace: "istio-system", name: "istio-ingressgateway"))
        XCTAssertEqual(service.value(atPath: "spec.type")?.string, "LoadBalancer")
        XCTAssertEqual(service.value(atPath: "spec.ports")?.array?.compactMap { $0["targetPort"]?.int }, [15021, 8080, 8443])
        XCTAssertEqual(service.value(atPath: "status.loadBalancer.ingress")?.array?.first?["ip"]?.string, "127.0.0.1")
        XCTAssertNotNil(try plane.api.store.get("serviceaccounts", namespace: "istio-system", name: "istio-ingressgateway-service-account"))
        // Ensuring again changes nothing.
        let version = service.value(atPath: "metadata.resourceVersion")
        try IngressGateway.ensure(plane.api)
        XCTAssertEqual(try plane.api.store.get("services", namespace: "istio-system", name: "istio-ingressgateway")?.value(atPath: "metadata.resourceVersion"), version)
    }

    /// A listening socket on 127.0.0.1 (a port someone else holds).
    private func bindLoopback() -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }) == 0, listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
