import Foundation
import KubeClient
import Manifests
@testable import MeshConformance
import XCTest
@testable import MeshCLIKit

/// proxy-status end to end: meshctl -> the local control plane's pod proxy -> a stand-in istiod debug port
/// (15014, on its own loopback address) and a stand-in Envoy admin port serving the envoy-admin samples.
final class ProxyStatusCommandTests: XCTestCase {
    private var cluster: AnalyzeCommandCases.LocalCluster!
    private var stubs: [EnvoyAdminStub] = []
    private var variables: [String: String] { cluster.variables }
    private var sample = ""

    static let syncz = #"[{"cluster_id":"Kubernetes","proxy":"productpage-v1.default","istio_version":"1.32.0","cluster_sent":"a","cluster_acked":"a","listener_sent":"b","listener_acked":"a"},"#
        + #"{"cluster_id":"Kubernetes","proxy":"ratings-v1.shop","istio_version":"1.32.0","cluster_sent":"a","cluster_acked":"a"}]"#

    override func setUpWithError() throws {
        cluster = try AnalyzeCommandCases.LocalCluster()
        sample = try String(contentsOfFile: ProxyConfigCommandTests.samples + "/config_dump.json", encoding: .utf8)
        let admin = try EnvoyAdminStub.serving(folder: ProxyConfigCommandTests.samples)
        stubs.append(admin)
        let address = "127.44.\(Int.random(in: 1...250)).\(Int.random(in: 1...250))"
        let dump = sample
        stubs.append(try EnvoyAdminStub(host: address, port: 15014) { _, path in
            if path == "debug/syncz" { return (200, Self.syncz) }
            if path == "debug/clusterz" { return (200, #"[{"id":"east","secretName":"istio-remote-secret-east","syncStatus":"synced"}]"#) }
            if path == "debug/config_dump?proxyID=productpage-v1.default" { return (200, dump) }
            return nil
        })
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: ProxyConfigClusterPathTests.pod("productpage-v1", sidecar: true))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: ProxyConfigClusterPathTests.pod("ratings-v1", sidecar: true))
        try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string("istio-system"))]))]))
        try client.send("POST", "/api/v1/namespaces/istio-system/pods", body: try JSONValue.parse(
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"istiod-1","namespace":"istio-system","labels":{"app":"istiod"}},"spec":{"containers":[{"name":"discovery","image":"pilot"}]},"status":{"phase":"Running","podIP":"\#(address)"}}"#))
    }

    override func tearDown() {
        for stub in stubs { stub.stop() }
        cluster?.stop()
    }

    /// -o json prints istiod's answer as a CSDS DiscoveryResponse, as istioctl does; -n keeps one namespace's proxies.
    func testMachineReadableOutputIsTheCSDSAnswer() throws {
        let json = runMeshctl(["proxy-status", "-o", "json"], variables: variables)
        XCTAssertEqual(json.exitCode, .success, json.stderr)
        let response = try JSONValue.parse(json.stdout)
        XCTAssertEqual(response["typeUrl"]?.string, "type.googleapis.com/envoy.service.status.v3.ClientConfig")
        let first = try XCTUnwrap(response["resources"]?.array?.first)
        XCTAssertEqual(first["node"]?["id"]?.string, "productpage-v1.default")
        XCTAssertEqual(first["node"]?["metadata"]?.stringMap, ["CLUSTER_ID": "Kubernetes", "ISTIO_VERSION": "1.32.0", "NAMESPACE": "default"])
        XCTAssertEqual(first["genericXdsConfigs"]?.array?.compactMap { $0["configStatus"]?.string }, ["SYNCED", "STALE"])
        XCTAssertTrue(json.stdout.contains("\"metadata\": {\n                        \"CLUSTER_ID\""), "jsonpb's Struct layout: " + json.stdout)

        let yaml = runMeshctl(["proxy-status", "-o", "yaml", "-n", "shop"], variables: variables)
        XCTAssertEqual(yaml.exitCode, .success, yaml.stderr)
        XCTAssertTrue(yaml.stdout.contains("id: ratings-v1.shop"), yaml.stdout)
        XCTAssertFalse(yaml.stdout.contains("productpage"), yaml.stdout)
        let table = runMeshctl(["proxy-status", "-n", "shop"], variables: variables)
        XCTAssertEqual(table.stdout.split(separator: "\n").count, 2, table.stdout)

        let usage = runMeshctl(["proxy-status", "-o", "wide"], variables: variables)
        XCTAssertEqual(usage.exitCode, .usage, usage.stderr)
    }

    /// With a POD: istiod's config dump for it against the proxy's own.
    func testPodComparesWhatIstiodSentWithWhatTheProxyHolds() throws {
        let port = String(stubs[0].port)
        let same = runMeshctl(["proxy-status", "productpage-v1.default", "--proxy-admin-port", port], variables: variables)
        XCTAssertEqual(same.exitCode, .success, same.stderr)
        XCTAssertTrue(same.stdout.hasPrefix("Clusters Match\nListeners Match\nRoutes Match (RDS last loaded at "), same.stdout)

        // A saved dump without the route configuration (and so without a time it was loaded).
        var root = try JSONValue.parse(sample)
        var configs = root["configs"]?.array ?? []
        for index in configs.indices where configs[index]["@type"]?.string?.hasSuffix(".v3.RoutesConfigDump") == true {
            configs[index]["dynamic_route_configs"] = .array(Array((configs[index]["dynamic_route_configs"]?.array ?? []).dropFirst()))
        }
        root["configs"] = .array(configs)
        let file = cluster.directory.appendingPathComponent("changed.json")
        try root.serialized.write(to: file, atomically: true, encoding: .utf8)
        let changed = runMeshctl(["proxy-status", "productpage-v1", "--file", file.path], variables: variables)
        XCTAssertEqual(changed.exitCode, .success, changed.stderr)
        XCTAssertTrue(changed.stdout.hasPrefix("Clusters Match\nListeners Match\nRoutes Don't Match\n--- Istiod Routes\n+++ Envoy Routes\n@@ -1,444 +1,4 @@\n"),
                      changed.stdout)

        // No istiod has a dump for this proxy: one line naming the proxy and what to check.
        let unknown = runMeshctl(["proxy-status", "ratings-v1", "--proxy-admin-port", port], variables: variables)
        XCTAssertEqual(unknown.exitCode, .failure)
        XCTAssertTrue(unknown.stderr.contains("no istiod in \"istio-system\" has a config dump for proxy ratings-v1.default"), unknown.stderr)
        XCTAssertEqual(unknown.stderr.split(separator: "\n").count, 1, unknown.stderr)
        XCTAssertEqual(runMeshctl(["proxy-status", "--file", file.path], variables: variables).exitCode, .usage)
    }

    /// remote-clusters: each istiod's /debug/clusterz as a table with the istiod's revision label.
    func testRemoteClustersListsEachIstiodsClusters() {
        let result = runMeshctl(["remote-clusters"], variables: variables)
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        XCTAssertEqual(result.stdout, "NAME     SECRET                       STATUS     ISTIOD       REVISION\n"
                       + "east     istio-remote-secret-east     synced     istiod-1     \n")
        let other = runMeshctl(["remote-clusters", "-r", "canary"], variables: variables)
        XCTAssertEqual(other.exitCode, .failure)
        XCTAssertTrue(other.stderr.contains("no running Istio pods in \"istio-system\" of revision canary"), other.stderr)
    }
}
