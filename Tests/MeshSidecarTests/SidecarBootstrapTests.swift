import ConfigValues
import Foundation
import MeshProxy
import MeshTestSupport
import XCTest
@testable import MeshSidecar

/// The bootstrap a local sidecar writes, from the istio-proxy container's args and environment.
final class SidecarBootstrapTests: XCTestCase {
    static let environment = [
        "POD_NAME": "reviews-v1-0", "POD_NAMESPACE": "shop", "INSTANCE_IP": "127.10.0.7", "SERVICE_ACCOUNT": "reviews",
        "MESHCTL_PILOT": "127.0.0.1:40123", "ISTIO_META_CLUSTER_ID": "Kubernetes", "ISTIO_META_MESH_ID": "cluster.local",
        "ISTIO_METAJSON_LABELS": #"{"app":"reviews","version":"v1"}"#, "ISTIO_META_APP_CONTAINERS": "reviews",
        "ISTIO_KUBE_APP_PROBERS": #"{"/app-health/reviews/readyz":{"httpGet":{"path":"/ready","port":9080}}}"#,
    ]
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let arguments = ["proxy", "sidecar", "--domain", "shop.svc.cluster.local", "--proxyLogLevel=warning"]

    func testSettingsComeFromTheInjectedContainer() throws {
        let settings = try SidecarSettings(arguments: Self.arguments, environment: Self.environment)
        XCTAssertEqual(settings.nodeID, "sidecar~127.10.0.7~reviews-v1-0.shop~shop.svc.cluster.local")
        XCTAssertEqual(settings.applicationIP, "127.11.0.7")
        XCTAssertEqual(settings.domain, "shop.svc.cluster.local")
        XCTAssertEqual(settings.metadata["LABELS"]?["version"]?.string, "v1")
        XCTAssertEqual(settings.metadata["CLUSTER_ID"]?.string, "Kubernetes")
        XCTAssertEqual(settings.metadata["NAMESPACE"]?.string, "shop")
        XCTAssertEqual(settings.metadata["SERVICE_ACCOUNT"]?.string, "reviews")
        XCTAssertEqual(settings.appProbers["/app-health/reviews/readyz"]?["httpGet"]?["port"]?.int, 9080)
        XCTAssertEqual(try SidecarSettings(arguments: ["proxy", "router"], environment: Self.environment).nodeID.hasPrefix("router~"), true)
    }

    func testWhatIsMissingIsNamed() {
        var environment = Self.environment
        environment["MESHCTL_PILOT"] = nil
        XCTAssertThrowsError(try SidecarSettings(arguments: Self.arguments, environment: environment)) { error in
            XCTAssertTrue("\(error)".contains("MESHCTL_PILOT is not set"), "\(error)")
        }
        XCTAssertThrowsError(try SidecarSettings(arguments: ["istio-iptables"], environment: Self.environment)) { error in
            XCTAssertTrue("\(error)".contains("proxy sidecar|router"), "\(error)")
        }
        environment = Self.environment
        environment["ISTIO_KUBE_APP_PROBERS"] = "not json"
        XCTAssertThrowsError(try SidecarSettings(arguments: Self.arguments, environment: environment))
    }

    /// Everything binds the pod IP; xDS comes from the pilot over REST-JSON through `xds-grpc`.
    func testTheBootstrapIsPilotAgentsShapeOnThePodIP() throws {
        let document = SidecarBootstrap.document(try SidecarSettings(arguments: Self.arguments, environment: Self.environment))
        XCTAssertEqual(document["node"]?["id"]?.string, "sidecar~127.10.0.7~reviews-v1-0.shop~shop.svc.cluster.local")
        XCTAssertEqual(document["admin"]?["address"]?["socket_address"]?["address"]?.string, "127.10.0.7")
        XCTAssertEqual(document["admin"]?["address"]?["socket_address"]?["port_value"]?.int, 15000)
        for key in ["lds_config", "cds_config"] {
            let source = document["dynamic_resources"]?[key]?["api_config_source"]
            XCTAssertEqual(source?["api_type"]?.string, "REST")
            XCTAssertEqual(source?["cluster_names"], .array([.string("xds-grpc")]))
            XCTAssertEqual(source?["refresh_delay"]?.string, "1s")
        }
        let clusters = document["static_resources"]?["clusters"]?.array ?? []
        XCTAssertEqual(clusters.compactMap { $0["name"]?.string }, ["prometheus_stats", "agent", "xds-grpc"])
        let xds = clusters.last?["load_assignment"]?["endpoints"]?.array?.first?["lb_endpoints"]?.array?.first?["endpoint"]?["address"]?["socket_address"]
        XCTAssertEqual(xds?["address"]?.string, "127.0.0.1")
        XCTAssertEqual(xds?["port_value"]?.int, 40123)
        let listeners = document["static_resources"]?["listeners"]?.array ?? []
        XCTAssertEqual(listeners.compactMap { $0["name"]?.string }, ["0.0.0.0_15090", "0.0.0.0_15021"])
        XCTAssertEqual(Set(listeners.compactMap { $0["address"]?["socket_address"]?["address"]?.string }), ["127.10.0.7"])
    }

    /// Envoy itself accepts the bootstrap (`--mode validate`), when an envoy binary is installed.
    func testEnvoyValidatesTheBootstrap() throws {
        guard let envoy = EnvoyBinary.find(packageRoot: Self.packageRoot) else { throw XCTSkip("no envoy binary (set ENVOY, or `make test` installs one): the bootstrap was not checked by Envoy") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-bootstrap-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let document = SidecarBootstrap.document(try SidecarSettings(arguments: Self.arguments, environment: Self.environment))
        try (JSONEmitter(indent: 2).emit(document.yamlNode) + "\n").write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: envoy)
        process.arguments = ["--mode", "validate", "-c", file.path, "--disable-hot-restart", "--log-level", "error"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
    }
}
