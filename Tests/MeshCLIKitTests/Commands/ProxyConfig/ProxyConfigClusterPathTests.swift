import Foundation
import KubeClient
import Manifests
import MeshConformance
import MeshControlPlane
import XCTest
@testable import MeshCLIKit

/// proxy-config against a pod, end to end: meshctl's KubeClient -> the local control plane's pods/proxy ->
/// a stand-in Envoy admin port on 127.0.0.1 serving the envoy-admin samples.
final class ProxyConfigClusterPathTests: XCTestCase {
    private var directory: URL!
    private var plane: LocalControlPlane!
    private var admin: EnvoyAdminStub!
    private var variables: [String: String] = [:]

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-pc-\(UUID().uuidString)")
        plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0)
        try plane.start()
        let kubeconfig = directory.appendingPathComponent("config")
        try plane.kubeconfig(name: "local").write(to: kubeconfig, atomically: true, encoding: .utf8)
        variables = ["KUBECONFIG": kubeconfig.path, "HOME": directory.path]
        admin = try EnvoyAdminStub.serving(folder: ProxyConfigCommandTests.samples)
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: Self.pod("productpage-v1", sidecar: true))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: Self.pod("plain", sidecar: false))
    }

    override func tearDown() {
        admin?.stop()
        plane?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    static func pod(_ name: String, sidecar: Bool) -> JSONValue {
        let app: JSONValue = .object([("name", .string("app")), ("image", .string("app"))])
        let proxy: JSONValue = .object([("name", .string("istio-proxy")), ("image", .string("proxyv2"))])
        return .object([("apiVersion", .string("v1")), ("kind", .string("Pod")),
                        ("metadata", .object([("name", .string(name)), ("namespace", .string("default"))])),
                        ("spec", .object([("containers", .array(sidecar ? [app, proxy] : [app]))])),
                        ("status", .object([("phase", .string("Running")), ("podIP", .string("127.0.0.1"))]))])
    }

    private func meshctl(_ arguments: [String]) -> CLIRun {
        runMeshctl(arguments + ["--proxy-admin-port", String(admin.port)], variables: variables)
    }

    func testEveryViewThroughThePodProxy() {
        let clusters = meshctl(["proxy-config", "cluster", "productpage-v1.default"])
        XCTAssertEqual(clusters.exitCode, .success, clusters.stderr)
        XCTAssertTrue(clusters.stdout.contains("reviews.default.svc.cluster.local     9080     v3"), clusters.stdout)
        let listeners = meshctl(["pc", "listeners", "productpage-v1"])
        XCTAssertTrue(listeners.stdout.contains("Route: 9080"), listeners.stdout)
        let routes = meshctl(["pc", "routes", "productpage-v1", "--name", "9080", "-o", "json"])
        XCTAssertTrue(routes.stdout.contains("\"virtualHosts\""), routes.stdout)
        let endpoints = meshctl(["pc", "endpoints", "productpage-v1"])
        XCTAssertTrue(endpoints.stdout.contains("127.0.0.1:19089     HEALTHY     FAILED"), endpoints.stdout + endpoints.stderr)
        let all = meshctl(["pc", "all", "productpage-v1"])
        XCTAssertTrue(all.stdout.contains("endpoint/127.0.0.1:19089"), "all reads config_dump?include_eds: " + all.stdout.suffix(300))
        let secrets = meshctl(["pc", "secret", "productpage-v1"])
        XCTAssertTrue(secrets.stdout.contains("ROOTCA"), secrets.stdout)
        let log = meshctl(["pc", "log", "productpage-v1"])
        XCTAssertEqual(log.exitCode, .success, log.stderr)
        XCTAssertTrue(log.stdout.hasPrefix("productpage-v1.default:\nactive loggers:\n"), log.stdout)
        let level = meshctl(["pc", "log", "productpage-v1", "--level", "http:debug"])
        XCTAssertEqual(level.exitCode, .success, level.stderr)
        let unknownLogger = meshctl(["pc", "log", "productpage-v1", "--level", "nosuchlogger:debug"])
        XCTAssertEqual(unknownLogger.exitCode, .failure)
        XCTAssertTrue(unknownLogger.stderr.contains("unrecognized logger name: nosuchlogger"), unknownLogger.stderr)
    }

    func testErrorsNameThePodAndWhatToDo() throws {
        let missing = meshctl(["pc", "cluster", "nosuchpod"])
        XCTAssertEqual(missing.exitCode, .failure)
        XCTAssertTrue(missing.stderr.contains("unable to retrieve Pod: pods \"nosuchpod\" not found"), missing.stderr)
        let plain = meshctl(["pc", "cluster", "plain"])
        XCTAssertEqual(plain.exitCode, .failure)
        XCTAssertTrue(plain.stderr.contains("pod plain.default has no istio-proxy container"), plain.stderr)
        XCTAssertEqual(plain.stderr.split(separator: "\n").count, 1, plain.stderr)

        // An admin port where nothing listens.
        let closed = runMeshctl(["pc", "cluster", "productpage-v1", "--proxy-admin-port", "1"], variables: variables)
        XCTAssertEqual(closed.exitCode, .failure)
        XCTAssertTrue(closed.stderr.contains("pod productpage-v1.default does not answer on its admin port 1"), closed.stderr)
        XCTAssertEqual(closed.stderr.split(separator: "\n").count, 1, closed.stderr)
    }
}
