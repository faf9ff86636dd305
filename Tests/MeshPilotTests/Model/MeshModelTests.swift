import ConfigValues
@testable import MeshPilot
import XCTest

final class MeshModelTests: XCTestCase {
    func testInfersPortProtocolsAsIstioDoes() {
        XCTAssertEqual(PortProtocol(portName: "http-web", appProtocol: nil, transport: "TCP"), .http)
        XCTAssertEqual(PortProtocol(portName: "HTTP2", appProtocol: nil, transport: nil), .http2)
        XCTAssertEqual(PortProtocol(portName: "grpc-api", appProtocol: nil, transport: nil), .grpc)
        XCTAssertEqual(PortProtocol(portName: "grpc-web", appProtocol: nil, transport: nil), .grpcWeb)
        XCTAssertEqual(PortProtocol(portName: "tcp-db", appProtocol: nil, transport: nil), .tcp)
        XCTAssertEqual(PortProtocol(portName: "mongo", appProtocol: nil, transport: nil), .mongo)
        XCTAssertEqual(PortProtocol(portName: "tls-x", appProtocol: nil, transport: nil), .tls)
        XCTAssertEqual(PortProtocol(portName: "web", appProtocol: "http", transport: nil), .http)
        XCTAssertEqual(PortProtocol(portName: "tcp", appProtocol: "kubernetes.io/h2c", transport: nil), .http2)
        XCTAssertEqual(PortProtocol(portName: "web", appProtocol: nil, transport: nil), .unsupported)
        XCTAssertEqual(PortProtocol(portName: "http", appProtocol: nil, transport: "UDP"), .udp)
    }

    func testReadsServicesEndpointsAndWorkloads() throws {
        let model = MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml"))
        XCTAssertEqual(model.services.map(\.hostname).sorted(), ["productpage.default.svc.cluster.local", "ratings.default.svc.cluster.local", "reviews.default.svc.cluster.local"])
        let reviews = try XCTUnwrap(model.services.first { $0.name == "reviews" })
        XCTAssertEqual(reviews.ports.first?.proto, .http)
        let endpoints = model.endpoints(of: reviews, port: 9080)
        XCTAssertEqual(endpoints.map(\.address), ["127.10.0.3", "127.10.0.4", "127.10.0.5"])
        XCTAssertEqual(endpoints.map(\.serviceAccount), ["bookinfo-reviews", "bookinfo-reviews", "bookinfo-reviews"])
        XCTAssertEqual(endpoints.map(\.tlsMode), ["istio", "istio", "istio"])
        XCTAssertEqual(endpoints[1].locality, Locality(region: "us-central1", zone: "us-central1-b"))
        let pod = try XCTUnwrap(model.workload(for: PilotFixtures.productpage))
        XCTAssertTrue(pod.hasSidecar)
        XCTAssertEqual(pod.applicationIP, "127.11.0.2")
        XCTAssertEqual(pod.workloadMetadata, "productpage-v1;default;productpage;v1;Kubernetes")
    }

    func testScopesConfigByExportToSidecarAndNamespace() throws {
        let extra = """
        apiVersion: v1
        kind: Service
        metadata: {name: hidden, namespace: other, annotations: {networking.istio.io/exportTo: "."}}
        spec: {clusterIP: 10.96.1.1, ports: [{name: http, port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: shared, namespace: other}
        spec: {clusterIP: 10.96.1.2, ports: [{name: http, port: 80}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: root-reviews, namespace: istio-system}
        spec: {host: reviews.default.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: private, namespace: other}
        spec: {hosts: [shared], exportTo: ["."], http: [{route: [{destination: {host: shared}}]}]}
        """
        let model = MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra))
        let pod = try XCTUnwrap(model.workload(for: PilotFixtures.productpage))
        let visible = model.visibleServices(for: pod).map(\.name)
        XCTAssertTrue(visible.contains("shared"))
        XCTAssertFalse(visible.contains("hidden"))
        XCTAssertEqual(model.virtualServices(visibleFrom: "default").map(\.name), ["reviews"])
        // The namespace's own rule wins over the root namespace's.
        XCTAssertEqual(model.destinationRule(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", proxyNamespace: "default")?.name, "reviews")

        let sidecar = """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: default}
        spec: {egress: [{hosts: ["./*"]}]}
        """
        let scoped = MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra + "\n---\n" + sidecar))
        XCTAssertEqual(scoped.visibleServices(for: pod).map(\.name).sorted(), ["productpage", "ratings", "reviews"])
    }
}
