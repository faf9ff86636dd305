import Foundation
import XCTest
@testable import MeshCLIKit

/// `meshctl proxy-config ... -f` on real Envoy 1.40 output (../shared/conformance/envoy-admin).
final class ProxyConfigCommandTests: XCTestCase {
    static let samples = TestPaths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/envoy-admin").path

    private func run(_ arguments: [String]) -> CLIRun {
        runMeshctl(arguments.map { $0.hasPrefix("@") ? Self.samples + "/" + $0.dropFirst() : $0 })
    }

    func testClustersOfTheSample() {
        let result = run(["proxy-config", "cluster", "-f", "@config_dump.json"])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "SERVICE FQDN                          PORT     SUBSET     DIRECTION     TYPE       DESTINATION RULE")
        XCTAssertTrue(lines.contains("reviews.default.svc.cluster.local     9080     v2         outbound      STATIC     reviews.default"), result.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("BlackHoleCluster ") })
        let filtered = run(["pc", "clusters", "-f", "@config_dump.json", "--fqdn", "reviews", "--subset", "v3"])
        XCTAssertEqual(filtered.stdout.split(separator: "\n").count, 2, filtered.stdout)
    }

    /// --waypoint on istioctl's waypoint dump: a row per chain and filter chain matcher path (IP, then port or protocol).
    func testWaypointListeners() {
        let dump = TestPaths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/istio/proxy-config/proxyconfig/testdata/config_dump.json").path
        let result = runMeshctl(["pc", "listener", "-f", dump, "--waypoint"])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertEqual(lines.first, "LISTENER CHAIN MATCH DESTINATION")
        XCTAssertTrue(lines.contains { $0.hasPrefix("envoy://main_internal inbound-vip|8000||httpbin.default.svc.cluster.local-http ip=10.104.171.68 -> port=8000 ") },
                      result.stdout)
        // On the sample sidecar (no filter chain matcher) each chain's match is its filter_chain_match.
        let sidecar = run(["pc", "listener", "-f", "@config_dump.json", "--waypoint"])
        XCTAssertTrue(sidecar.stdout.contains("envoy://virtualInbound "), sidecar.stdout)
    }

    /// x authz check on istioctl's listener dump: the policies behind its RBAC filters, DENY, ALLOW, LOG, CUSTOM.
    func testAuthorizationPoliciesOfAListenerDump() {
        let dump = TestPaths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/istio/proxy-config/authz/testdata/configdump.yaml").path
        let result = runMeshctl(["x", "authz", "check", "-f", dump])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        XCTAssertEqual(result.stdout, "ACTION   AuthorizationPolicy         RULES\nALLOW    _anonymous_match_nothing_   1\nALLOW    httpbin.default             1\n"
                       + "CUSTOM   ext-authz.default           1\n")
        // The sample sidecar has no dynamic listeners: the header alone.
        XCTAssertEqual(run(["x", "authz", "check", "-f", "@config_dump.json"]).stdout, "ACTION   AuthorizationPolicy   RULES\n")
        XCTAssertEqual(runMeshctl(["x", "authz", "check"]).exitCode, .usage)
    }

    func testListenersRoutesAndEndpointsOfTheSample() {
        let listeners = run(["pc", "listener", "-f", "@config_dump.json", "--port", "15006"])
        XCTAssertTrue(listeners.stdout.contains("127.0.0.1 15006 Trans: raw_buffer; App: http/1.1,h2c"), listeners.stdout)
        XCTAssertTrue(listeners.stdout.contains("Cluster: inbound|9080||"))
        XCTAssertFalse(listeners.stdout.contains(" 9080  ALL"))
        let types = run(["pc", "listener", "-f", "@config_dump.json", "--verbose=false"])
        XCTAssertTrue(types.stdout.contains("ADDRESSES PORT  TYPE\n"), types.stdout)

        let routes = run(["pc", "route", "-f", "@config_dump.json", "--name", "9080"])
        XCTAssertTrue(routes.stdout.contains("/fault/abort*"), routes.stdout)
        XCTAssertTrue(routes.stdout.contains("reviews, reviews.default"))
        XCTAssertFalse(routes.stdout.contains("inbound|9080||"))

        let endpoints = run(["pc", "endpoint", "-f", "@clusters.json", "--status", "healthy"])
        XCTAssertTrue(endpoints.stdout.contains("127.0.0.1:19089     HEALTHY     FAILED            outbound|9080|v3|reviews.default.svc.cluster.local"),
                      endpoints.stdout)
        let eds = run(["pc", "eds", "-f", "@config_dump-include_eds.json", "--status", "unhealthy"])
        XCTAssertTrue(eds.stdout.contains("127.0.0.1:19089     UNHEALTHY     us-central1/us-central1-c     outbound|9080|v3|"), eds.stdout)
    }

    func testSecretsBootstrapAndAll() {
        let secrets = run(["pc", "secret", "-f", "@config_dump.json"])
        XCTAssertTrue(secrets.stdout.contains("ROOTCA            CA             ACTIVE     true"), secrets.stdout)
        XCTAssertFalse(secrets.stdout.contains("BEGIN"), "no certificate or key text")
        let secretJSON = run(["pc", "secret", "-f", "@config_dump.json", "-o", "json"])
        XCTAssertTrue(secretJSON.stdout.contains("\"dynamicActiveSecrets\""), secretJSON.stdout)
        XCTAssertTrue(secretJSON.stdout.contains("\"privateKey\": {\n                        \"inlineBytes\": \"W3JlZGFjdGVkXQ==\""), "[redacted]")

        let bootstrap = run(["pc", "bootstrap", "-f", "@config_dump.json", "-o", "short"])
        XCTAssertEqual(bootstrap.stdout, "Istio Version: 1.32-sample\nEnvoy Version: 1.40.0/Clean/RELEASE/BoringSSL\n")
        let bootstrapJSON = run(["pc", "b", "-f", "@config_dump.json"])
        XCTAssertTrue(bootstrapJSON.stdout.hasPrefix("{\n    \"bootstrap\": {\n"), bootstrapJSON.stdout)

        let all = run(["pc", "all", "-f", "@config_dump-include_eds.json", "--with-headers"])
        XCTAssertEqual(all.exitCode, .success, all.stderr)
        for title in ["BOOTSTRAP INFO", "CLUSTER INFO", "LISTENER INFO", "ROUTE INFO", "SECRET INFO", "ENDPOINTS INFO"] {
            XCTAssertTrue(all.stdout.contains("------ \(title) ------"), title)
        }
        XCTAssertTrue(all.stdout.contains("endpoint/127.0.0.1:19089"))
        let allJSON = run(["pc", "all", "-f", "@config_dump-include_eds.json", "-o", "json"])
        XCTAssertTrue(allJSON.stdout.contains("type.googleapis.com/envoy.admin.v3.EndpointsConfigDump"))
    }

    func testBadInputAndUsage() throws {
        let noSource = runMeshctl(["pc", "cluster"])
        XCTAssertEqual(noSource.exitCode, .usage)
        XCTAssertTrue(noSource.stderr.contains("give a pod"), noSource.stderr)
        let notAPod = runMeshctl(["pc", "cluster", "deployment/web.shop"])
        XCTAssertEqual(notAPod.exitCode, .usage)
        XCTAssertTrue(notAPod.stderr.contains("\"deployment/web\" does not refer to a pod"), notAPod.stderr)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let broken = folder.appendingPathComponent("dump.json")
        try Data("{\"configs\": [\n  {\"@type\": 1,}".utf8).write(to: broken)
        let result = runMeshctl(["pc", "cluster", "-f", broken.path])
        XCTAssertEqual(result.exitCode, .dataError)
        XCTAssertTrue(result.stderr.contains("\(broken.path):2:"), result.stderr)
        let empty = folder.appendingPathComponent("empty.json")
        try Data("{}".utf8).write(to: empty)
        let missing = runMeshctl(["pc", "listener", "-f", empty.path])
        XCTAssertEqual(missing.exitCode, .dataError)
        XCTAssertTrue(missing.stderr.contains("config dump has no configuration type"), missing.stderr)
        let noHosts = runMeshctl(["pc", "endpoint", "-f", empty.path])
        XCTAssertEqual(noHosts.stdout, "ENDPOINT     STATUS     OUTLIER CHECK     CLUSTER\n")
    }
}
