import Foundation
import KubeClient
import Manifests
@testable import MeshConformance
import MeshControlPlane
import XCTest
@testable import MeshCLIKit

/// proxy-config against a pod, end to end: meshctl's KubeClient -> the local control plane's pods/proxy ->
/// a stand-in Envoy admin port on 127.0.0.1 serving the envoy-admin samples.
final class ProxyConfigClusterPathTests: XCTestCase {
    private var cluster: AnalyzeCommandCases.LocalCluster!
    private var admin: EnvoyAdminStub!
    private var directory: URL { cluster.directory }
    private var variables: [String: String] { cluster.variables }

    override func setUpWithError() throws {
        cluster = try AnalyzeCommandCases.LocalCluster()
        admin = try EnvoyAdminStub.serving(folder: ProxyConfigCommandTests.samples)
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: Self.pod("productpage-v1", sidecar: true))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: Self.pod("plain", sidecar: false))
    }

    override func tearDown() {
        admin?.stop()
        cluster?.stop()
    }

    static func pod(_ name: String, sidecar: Bool) -> JSONValue {
        let app: JSONValue = .object([("name", .string("app")), ("image", .string("app"))])
        let proxy: JSONValue = .object([("name", .string("istio-proxy")), ("image", .string("proxyv2"))])
        return .object([("apiVersion", .string("v1")), ("kind", .string("Pod")),
                        ("metadata", .object([("name", .string(name)), ("namespace", .string("default")),
                                              ("labels", .object([("app", .string(String(name.split(separator: "-")[0])))]))])),
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
        let authz = meshctl(["x", "authz", "check", "productpage-v1"])
        XCTAssertEqual(authz.exitCode, .success, authz.stderr)
        XCTAssertEqual(authz.stdout, "ACTION   AuthorizationPolicy   RULES\n", "the sample has no dynamic listeners")
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

    func testProxyStatusAsksEveryIstiod() throws {
        let address = "127.43.\(Int.random(in: 1...250)).\(Int.random(in: 1...250))"
        let syncz = #"[{"cluster_id":"Kubernetes","proxy":"productpage-v1.default","istio_version":"1.32.0","cluster_sent":"a","cluster_acked":"a","listener_sent":"b","listener_acked":"a"}]"#
        let istiod = try EnvoyAdminStub(host: address, port: 15014) { _, path in path == "debug/syncz" ? (200, syncz) : nil }
        defer { istiod.stop() }
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string("istio-system"))]))]))
        try client.send("POST", "/api/v1/namespaces/istio-system/pods", body: try JSONValue.parse(
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"istiod-1","namespace":"istio-system","labels":{"app":"istiod"}},"spec":{"containers":[{"name":"discovery","image":"pilot"}]},"status":{"phase":"Running","podIP":"\#(address)"}}"#))
        let table = runMeshctl(["proxy-status"], variables: variables)
        XCTAssertEqual(table.exitCode, .success, table.stderr)
        XCTAssertEqual(table.stdout, "NAME                       CLUSTER        ISTIOD       VERSION     SUBSCRIBED TYPES\n"
                       + "productpage-v1.default     Kubernetes     istiod-1     1.32.0      2 (CDS,LDS)\n")
        let verbose = runMeshctl(["proxy-status", "--verbosity", "1"], variables: variables)
        XCTAssertTrue(verbose.stdout.contains("SYNCED     IGNORED     IGNORED     STALE"), verbose.stdout)
        let other = runMeshctl(["proxy-status", "-r", "canary"], variables: variables)
        XCTAssertEqual(other.exitCode, .failure)
        XCTAssertTrue(other.stderr.contains("no running Istio pods in \"istio-system\" of revision canary"), other.stderr)
    }

    func testDescribePodAndService() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/default/services", body: try JSONValue.parse(
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"reviews","namespace":"default"},"spec":{"selector":{"app":"productpage"},"ports":[{"name":"http","port":9080}]}}"#))
        let pod = meshctl(["x", "describe", "pod", "productpage-v1"])
        XCTAssertEqual(pod.exitCode, .success, pod.stderr)
        // The sample's route names the reviews VirtualService, which this cluster does not hold.
        XCTAssertTrue(pod.stdout.contains("--------------------\nService: reviews\n   Port: http 9080/HTTP targets pod port 9080\n"
                                          + "WARNING: Proxy is stale; it references to non-existent virtual service reviews.default\n"), pod.stdout)
        XCTAssertTrue(pod.stdout.hasSuffix("Skipping Gateway information (no ingress gateway pods)\n"), pod.stdout)
        // The pod reports no container status, so describe service finds no ready sidecar.
        let service = meshctl(["x", "describe", "svc", "reviews.default"])
        XCTAssertEqual(service.stdout, "Pod productpage-v1: no istio-proxy container status (is the sidecar injected?)\n"
                       + "Service \"reviews\" has no Istio pods.  (1 pods in service).\n"
                       + "Use `meshctl kube-inject` or redeploy with Istio automatic sidecar injection.\n")
        let plain = meshctl(["x", "des", "po", "plain"])
        XCTAssertEqual(plain.exitCode, .failure)
        XCTAssertTrue(plain.stdout.contains("WARNING: plain is not part of mesh; no Istio sidecar"), plain.stdout)
        XCTAssertEqual(meshctl(["x", "describe", "pod"]).exitCode, .usage)
    }

    func testRootCACompare() {
        let same = meshctl(["pc", "rootca-compare", "productpage-v1", "productpage-v1.default"])
        XCTAssertEqual(same.exitCode, .success, same.stderr)
        XCTAssertEqual(same.stdout, "[productpage-v1.default] and [productpage-v1.default] have an identical ROOTCA: mTLS between them can be verified\n")
        let one = meshctl(["pc", "rc", "productpage-v1"])
        XCTAssertEqual(one.exitCode, .usage)
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

    /// A proxy that has not started: the pod is Pending, without an IP, so the API server cannot reach its port.
    func testAProxyNotReadyIsNamed() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        var pending = Self.pod("starting-v1", sidecar: true)
        pending["status"] = .object([("phase", .string("Pending"))])
        try client.send("POST", "/api/v1/namespaces/default/pods", body: pending)
        for arguments in [["pc", "cluster", "starting-v1"], ["proxy-status", "starting-v1"], ["x", "envoy-stats", "starting-v1"], ["x", "describe", "pod", "starting-v1"]] {
            let result = meshctl(arguments)
            XCTAssertEqual(result.exitCode, .failure, arguments.joined(separator: " "))
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            if arguments[0] == "proxy-status" { continue }  // no istiod here: that is what it says
            XCTAssertTrue(result.stderr.contains("starting-v1") && (result.stderr.contains("is not ready (the pod is Pending)") || result.stderr.contains("is not running (Pending)")),
                          result.stderr)
        }
        let usage = meshctl(["pc", "nosuchview", "productpage-v1"])
        XCTAssertEqual(usage.exitCode, .usage, usage.stderr)
        XCTAssertEqual(meshctl(["pc", "cluster", "deployment/productpage"]).exitCode, .usage)
    }

    /// RBAC refusing pods/proxy: the local control plane does not enforce RBAC, so a stand-in API server on a real
    /// socket answers the pod and a 403 Status for its proxy subresource, as kube-apiserver does.
    func testRBACRefusingThePodProxyIsNamed() throws {
        let pod = Self.pod("web-1", sidecar: true).serialized
        let forbidden = #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web-1\" is forbidden: User \"dev\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\"","reason":"Forbidden","code":403}"#
        let server = try EnvoyAdminStub { _, path in
            if path.hasPrefix("api/v1/namespaces/default/pods/web-1:15000/proxy/") { return (403, forbidden) }
            if path == "api/v1/namespaces/default/pods/web-1" { return (200, pod) }
            return nil
        }
        defer { server.stop() }
        let kubeconfig = directory.appendingPathComponent("rbac-kubeconfig")
        try """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "http://127.0.0.1:\(server.port)"}}]
        users: [{name: dev, user: {token: not-a-secret}}]
        contexts: [{name: c, context: {cluster: c, user: dev, namespace: default}}]
        current-context: c

        """.write(to: kubeconfig, atomically: true, encoding: .utf8)
        for arguments in [["pc", "cluster", "web-1"], ["x", "envoy-stats", "web-1"]] {
            let result = runMeshctl(arguments, variables: ["KUBECONFIG": kubeconfig.path])
            XCTAssertEqual(result.exitCode, .failure, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("not allowed to read pod web-1.default's proxy admin port (RBAC refuses the pods/proxy subresource")
                          && result.stderr.contains("ask for get on pods/proxy in namespace default"), result.stderr)
        }
    }

    func testEnvoyStatsThroughThePodProxy() throws {
        let server = meshctl(["x", "envoy-stats", "productpage-v1"])
        XCTAssertEqual(server.exitCode, .success, server.stderr)
        XCTAssertEqual(server.stdout, try String(contentsOfFile: ProxyConfigCommandTests.samples + "/stats.txt", encoding: .utf8))
        let prom = meshctl(["x", "envoy-stats", "productpage-v1", "-o", "prom"])
        XCTAssertTrue(prom.stdout.hasPrefix("# TYPE envoy_cluster_assignment_stale counter\n"), String(prom.stdout.prefix(200)))
        let json = meshctl(["x", "es", "productpage-v1", "-o", "json"])
        XCTAssertTrue(json.stdout.hasPrefix("{\n    \"stats\": [\n"), String(json.stdout.prefix(200)))
        let clusters = meshctl(["x", "envoy-stats", "productpage-v1", "--type", "clusters"])
        XCTAssertTrue(clusters.stdout.contains("outbound|9080|v3|reviews.default.svc.cluster.local::127.0.0.1:19089::health_flags::/failed_outlier_check"),
                      String(clusters.stdout.prefix(300)))
        let usage = meshctl(["x", "envoy-stats", "productpage-v1", "--type", "clusters", "-o", "prom"])
        XCTAssertEqual(usage.exitCode, .usage)
    }

    func testCaptureWritesTheEnvoyFaultsLayout() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/default/services", body: try JSONValue.parse(
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"productpage","namespace":"default"},"spec":{"selector":{"app":"productpage"},"ports":[{"name":"http","port":9080}]}}"#))
        try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string("other"))]))]))
        try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string("istio-system"))]))]))
        let unrelated = [
            ("/api/v1/namespaces/default/services", #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"ratings","namespace":"default"},"spec":{"selector":{"app":"ratings"},"ports":[{"name":"http","port":9080}]}}"#),
            ("/apis/networking.istio.io/v1/namespaces/default/destinationrules", #"{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"productpage-dr","namespace":"default"},"spec":{"host":"productpage"}}"#),
            ("/apis/networking.istio.io/v1/namespaces/other/destinationrules", #"{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"ratings-dr","namespace":"other"},"spec":{"host":"ratings.default.svc.cluster.local"}}"#),
            ("/apis/networking.istio.io/v1/namespaces/other/virtualservices", #"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"productpage-vs","namespace":"other"},"spec":{"hosts":["shop.example.com"],"gateways":["shop-gateway"],"http":[{"route":[{"destination":{"host":"productpage.default"}}]}]}}"#),
            ("/apis/networking.istio.io/v1/namespaces/other/gateways", #"{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"shop-gateway","namespace":"other"},"spec":{"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["*"]}]}}"#),
            ("/apis/networking.istio.io/v1/namespaces/other/gateways", #"{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"other-gateway","namespace":"other"},"spec":{"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["*"]}]}}"#),
            ("/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications", #"{"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"mesh-strict","namespace":"istio-system"},"spec":{"mtls":{"mode":"STRICT"}}}"#),
            ("/apis/security.istio.io/v1/namespaces/default/authorizationpolicies", #"{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"default-ns-policy","namespace":"default"},"spec":{}}"#),
            ("/apis/security.istio.io/v1/namespaces/default/authorizationpolicies", #"{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"productpage-only","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":"productpage"}}}}"#),
            ("/apis/security.istio.io/v1/namespaces/default/authorizationpolicies", #"{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"not-selecting","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":"ratings"}}}}"#),
            ("/apis/security.istio.io/v1/namespaces/other/authorizationpolicies", #"{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"other-ns-policy","namespace":"other"},"spec":{}}"#),
        ]
        for (path, text) in unrelated { try client.send("POST", path, body: try JSONValue.parse(text)) }
        let folder = directory.appendingPathComponent("capture")
        let result = meshctl(["x", "capture", "productpage-v1", "-n", "default", "-d", folder.path])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(names, ["access.log", "clusters.json", "clusters.txt", "config_dump.json", "istio.yaml", "listeners.json", "server_info.json", "stats.txt"])
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("config_dump.json"), encoding: .utf8),
                       try String(contentsOfFile: ProxyConfigCommandTests.samples + "/config_dump.json", encoding: .utf8))
        let objects = try String(contentsOf: folder.appendingPathComponent("istio.yaml"), encoding: .utf8)
        XCTAssertTrue(objects.contains("kind: Service\nmetadata:\n"), objects)
        XCTAssertTrue(objects.contains("name: productpage"), objects)
        XCTAssertFalse(objects.contains("kind: Secret"))
        for name in ["productpage-dr", "productpage-vs", "shop-gateway", "mesh-strict", "default-ns-policy", "productpage-only"] {
            XCTAssertTrue(objects.contains("name: \(name)\n"), "\(name) concerns the pod: " + objects)
        }
        for name in ["ratings", "ratings-dr", "other-ns-policy", "other-gateway", "not-selecting"] {
            XCTAssertFalse(objects.contains("name: \(name)\n"), "\(name) does not concern the pod")
        }
        // What was written reads back with the -f commands.
        let again = runMeshctl(["pc", "cluster", "-f", folder.appendingPathComponent("config_dump.json").path])
        XCTAssertEqual(again.exitCode, .success)

        let missing = meshctl(["x", "capture", "productpage-v1"])
        XCTAssertEqual(missing.exitCode, .usage)
        XCTAssertTrue(missing.stderr.contains("-d DIR is required"), missing.stderr)
    }

    func testAccessLogLinesAreRecognised() {
        XCTAssertTrue(CaptureCommand.isAccessLogLine(#"[2026-11-27T16:41:52.176Z] "GET /noretry/v3 HTTP/1.1" 503 UF upstream_reset"#))
        XCTAssertTrue(CaptureCommand.isAccessLogLine(#"[2026-11-27T16:42:00.000Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster"#))
        XCTAssertFalse(CaptureCommand.isAccessLogLine("2026-11-27T16:41:35.555Z info ads ADS: new connection"))
        XCTAssertFalse(CaptureCommand.isAccessLogLine("[warning][misc] deprecated"))
    }
}
