import Foundation
import KubeClient
import Manifests
@testable import MeshConformance
import MeshControlPlane
import XCTest
@testable import MeshCLIKit

/// `x diagnose POD` end to end: meshctl -> the local control plane's pods/proxy -> a stand-in Envoy admin port
/// serving a capture of the envoy-faults corpus.
final class DiagnoseLiveTests: XCTestCase {
    static var faults: String {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return DoctorCorpus.locate(istioCorpusRoot: ConformanceHarness.locateCorpus(packageRoot: packageRoot.path)).path
    }

    func testLivePodAndDeploymentThroughTheAPIServer() throws {
        let capture = Self.faults + "/circuit-breaker"
        guard FileManager.default.fileExists(atPath: capture) else { throw XCTSkip("the envoy-faults corpus is not at \(Self.faults)") }
        let cluster = try AnalyzeCommandCases.LocalCluster()
        defer { cluster.stop() }
        let admin = try EnvoyAdminStub.serving(folder: capture)
        defer { admin.stop() }
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: cluster.variables)))
        try client.send("POST", "/api/v1/namespaces", body: try JSONValue.parse(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"istio-injection":"enabled"}}}"#))
        try client.send("POST", "/api/v1/namespaces/shop/pods", body: try JSONValue.parse(
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"checkout-v1-abc","namespace":"shop","labels":{"app":"checkout","version":"v1"}},"spec":{"containers":[{"name":"checkout","image":"c","ports":[{"containerPort":8080}]},{"name":"istio-proxy","image":"proxyv2"}]},"status":{"phase":"Running","podIP":"127.0.0.1"}}"#))
        try client.send("POST", "/apis/apps/v1/namespaces/shop/deployments", body: try JSONValue.parse(
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"checkout-v1","namespace":"shop"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"checkout","version":"v1"}},"template":{"metadata":{"labels":{"app":"checkout","version":"v1"}},"spec":{"containers":[{"name":"checkout","image":"c"}]}}}}"#))
        let port = ["--proxy-admin-port", String(admin.port)]
        // The local mode runs no containers yet, so the proxy's log is empty: the doctor says it saw no request.
        for source in ["checkout-v1-abc", "deploy/checkout-v1"] {
            let run = runMeshctl(["x", "diagnose", source, "-n", "shop", "-o", "json"] + port, variables: cluster.variables)
            XCTAssertEqual(run.exitCode, .success, run.stderr)
            let json = try JSONValue.parse(run.stdout)
            XCTAssertEqual(json["causes"]?.array?.count, 0, run.stdout)
            XCTAssertTrue(json["checked"]?.array?.first?.string?.hasPrefix("access log: 0 line(s)") == true, run.stdout)
            XCTAssertTrue(run.stdout.contains("Deployment shop/checkout-v1") || run.stdout.contains("checked"), run.stdout)
        }
        let missing = runMeshctl(["x", "diagnose", "deploy/nothing", "-n", "shop"] + port, variables: cluster.variables)
        XCTAssertEqual(missing.exitCode, .failure, missing.stdout)
    }

    func testToKeepsTheRequestsToOneDestination() throws {
        let capture = Self.faults + "/circuit-breaker"
        guard FileManager.default.fileExists(atPath: capture) else { throw XCTSkip("the envoy-faults corpus is not at \(Self.faults)") }
        let toInventory = runMeshctl(["x", "diagnose", "--capture", capture, "--to", "inventory:7070", "-o", "json"])
        XCTAssertEqual(toInventory.exitCode, .success, toInventory.stderr)
        XCTAssertTrue(toInventory.stdout.contains("\"id\": \"circuit-breaker\""), toInventory.stdout)
        let toPricing = runMeshctl(["x", "diagnose", "--capture", capture, "--to", "http://pricing.shop/v1", "-o", "json"])
        XCTAssertEqual(try JSONValue.parse(toPricing.stdout)["causes"]?.array?.count, 0, toPricing.stdout)
        XCTAssertEqual(runMeshctl(["x", "diagnose", "--log", "x", "--to", "pricing"]).exitCode, .usage)
    }
}
