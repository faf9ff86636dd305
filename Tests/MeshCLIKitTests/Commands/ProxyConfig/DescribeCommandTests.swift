import Foundation
import KubeClient
import Manifests
@testable import MeshConformance
import XCTest
@testable import MeshCLIKit

/// x describe end to end through the local control plane: the pods' admin ports are stand-ins on their own
/// loopback addresses (one port number for all) serving istioctl's describe test dump (a DestinationRule on
/// productpage's clusters, the bookinfo VirtualService on its route).
final class DescribeCommandTests: XCTestCase {
    private var cluster: AnalyzeCommandCases.LocalCluster!
    private var stubs: [EnvoyAdminStub] = []
    private var variables: [String: String] { cluster.variables }
    private var adminPort = 0

    static let dump = ProxyConfigCommandTests.samples + "/../istio/proxy-config/describe/testdata/describe/http_config.json"

    override func setUpWithError() throws {
        cluster = try AnalyzeCommandCases.LocalCluster()
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        let body = try String(contentsOfFile: Self.dump, encoding: .utf8)
        let network = Int.random(in: 1...250)
        for (index, name) in ["productpage-v1", "ingress"].enumerated() {
            let stub = try EnvoyAdminStub(host: "127.45.\(network).\(index + 1)", port: adminPort) { _, path in path == "config_dump" ? (200, body) : nil }
            adminPort = stub.port
            stubs.append(stub)
            _ = name
        }
        try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string("istio-system"))]))]))
        let objects = [
            ("/api/v1/namespaces/default/services", #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"productpage","namespace":"default"},"spec":{"selector":{"app":"productpage"},"ports":[{"name":"http","port":9080}]}}"#),
            ("/api/v1/namespaces/default/pods", #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"productpage-v1","namespace":"default","labels":{"app":"productpage","version":"v1"}},"spec":{"containers":[{"name":"productpage","image":"p","ports":[{"containerPort":9080}]},{"name":"istio-proxy","image":"proxyv2"}]},"status":{"phase":"Running","podIP":"127.45.\#(network).1","containerStatuses":[{"name":"istio-proxy","ready":true},{"name":"productpage","ready":true}]}}"#),
            ("/api/v1/namespaces/istio-system/services", #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"istio-ingressgateway","namespace":"istio-system"},"spec":{"selector":{"istio":"ingressgateway"},"ports":[{"name":"http2","port":8080}]}}"#),
            ("/api/v1/namespaces/istio-system/pods", #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ingress","namespace":"istio-system","labels":{"istio":"ingressgateway"}},"spec":{"containers":[{"name":"istio-proxy","image":"proxyv2"}]},"status":{"phase":"Running","podIP":"127.45.\#(network).2","hostIP":"10.1.2.3","containerStatuses":[{"name":"istio-proxy","ready":true}]}}"#),
            ("/apis/networking.istio.io/v1/namespaces/default/destinationrules", #"{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"productpage","namespace":"default"},"spec":{"host":"productpage","subsets":[{"name":"v1","labels":{"version":"v1"}},{"name":"v2","labels":{"version":"v2"}}],"trafficPolicy":{"tls":{"mode":"DISABLE"},"loadBalancer":{"simple":"ROUND_ROBIN"}}}}"#),
            ("/apis/networking.istio.io/v1/namespaces/default/virtualservices", #"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"bookinfo","namespace":"default"},"spec":{"hosts":["productpage"],"gateways":["istio-system/bookinfo-gateway","mesh"],"http":[{"match":[{"uri":{"exact":"/productpage"}},{"uri":{"prefix":"/static"},"headers":{"end-user":{"exact":"jason"}}}],"route":[{"destination":{"host":"productpage","subset":"v1"},"weight":90},{"destination":{"host":"productpage","subset":"v2"},"weight":10}]},{"route":[{"destination":{"host":"productpage","subset":"v2"}}]}]}}"#),
            ("/apis/networking.istio.io/v1/namespaces/istio-system/gateways", #"{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"bookinfo-gateway","namespace":"istio-system"},"spec":{"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":8080,"name":"http","protocol":"HTTP"},"hosts":["*"]}]}}"#),
            ("/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications", #"{"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"default","namespace":"istio-system"},"spec":{"mtls":{"mode":"STRICT"}}}"#),
            ("/apis/security.istio.io/v1/namespaces/default/peerauthentications", #"{"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"productpage","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":"productpage"}},"mtls":{"mode":"UNSET"},"portLevelMtls":{"9080":{"mode":"PERMISSIVE"}}}}"#),
        ]
        for (path, text) in objects { try client.send("POST", path, body: try JSONValue.parse(text)) }
    }

    override func tearDown() {
        for stub in stubs { stub.stop() }
        cluster?.stop()
    }

    private func meshctl(_ arguments: [String]) -> CLIRun {
        runMeshctl(arguments + ["--proxy-admin-port", String(adminPort)], variables: variables)
    }

    func testPodShowsRulesRoutesMutualTLSAndGateways() {
        let result = meshctl(["x", "describe", "pod", "productpage-v1"])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        XCTAssertEqual(result.stdout, """
        Pod: productpage-v1
           Pod Revision: 
           Pod Ports: 9080 (productpage)
        --------------------
        Service: productpage
           Port: http 9080/HTTP targets pod port 9080
        DestinationRule: productpage for "productpage"
           Matching subsets: v1
              (Non-matching subsets v2)
           Traffic Policy TLS Mode: DISABLE
           Policies: load balancer
        VirtualService: bookinfo
           Route to host "productpage" subset "v1" with weight 90%
           Match: /productpage, Match: /static* when headers are end-user=jason
           1 additional destination(s) that will not reach this pod
        --------------------
        Effective PeerAuthentication:
           Workload mTLS mode: STRICT
           Port Level mTLS mode:
              9080: PERMISSIVE
        Applied PeerAuthentication:
           default.istio-system, productpage.default
        Clients send:
           productpage:9080: DISABLE (DestinationRule productpage)
              WARNING: the workload accepts only mTLS (STRICT), so these clients' requests are refused
        --------------------
        Exposed on Ingress Gateway http://10.1.2.3:8080
        VirtualService: bookinfo
           Route to host "productpage" subset "v1" with weight 90%
           Match: /productpage, Match: /static* when headers are end-user=jason
           1 additional destination(s) that will not reach this pod

        """)
    }

    func testServiceAndTheRouteToASubsetThePodsAreNotIn() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        // The pod moves to version v3: it is in neither subset, so no route reaches it.
        _ = try client.send("PATCH", "/api/v1/namespaces/default/pods/productpage-v1", body: try JSONValue.parse(#"{"metadata":{"labels":{"version":"v3"}}}"#),
                            contentType: "application/merge-patch+json")
        let result = meshctl(["x", "describe", "svc", "productpage"])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("""
        Service: productpage
           Port: http 9080/HTTP targets pod port 9080
        DestinationRule: productpage for "productpage"
           WARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets v1,v2)
           Matching subsets: 
              (Non-matching subsets v1,v2)
           Traffic Policy TLS Mode: DISABLE
           Policies: load balancer
        VirtualService: bookinfo
           WARNING: No destinations match pod subsets (checked 2 HTTP routes)
              Route to non-matching subset v1 for (Match: /productpage, Match: /static* when headers are end-user=jason)
              Route to non-matching subset v2 for (Match: /productpage, Match: /static* when headers are end-user=jason)
              Route to non-matching subset v2 for (everything)

        """), result.stdout)
    }

    /// The Errors section: each a one-line error naming the pod and what to do.
    func testErrorsNameThePodAndWhatToDo() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/default/pods", body: ProxyConfigClusterPathTests.pod("plain", sidecar: false))
        let plain = meshctl(["x", "describe", "pod", "plain"])
        XCTAssertEqual(plain.exitCode, .failure)
        XCTAssertTrue(plain.stdout.contains("WARNING: plain is not part of mesh; no Istio sidecar"), plain.stdout)
        XCTAssertEqual(plain.stderr.split(separator: "\n").count, 1, plain.stderr)
        XCTAssertTrue(plain.stderr.contains("pod plain.default has no istio-proxy container") && plain.stderr.contains("check-inject"), plain.stderr)

        // The proxies' admin ports do not answer (nothing listens there): the rules for the Service's host are read
        // from the cluster, and a one-line warning per proxy says so.
        let closed = runMeshctl(["x", "describe", "pod", "productpage-v1", "--proxy-admin-port", "1"], variables: variables)
        XCTAssertEqual(closed.exitCode, .success, closed.stderr)
        let warnings = closed.stderr.split(separator: "\n")
        XCTAssertEqual(warnings.count, 2, closed.stderr)
        XCTAssertTrue(warnings[0].hasPrefix("warning: could not read the config dump of sidecar productpage-v1.default: pod productpage-v1.default does not answer on its admin port 1"),
                      closed.stderr)
        XCTAssertTrue(warnings[1].contains("ingress gateway sidecar ingress.istio-system") && warnings[1].contains("the cluster's for the Service's host"), closed.stderr)
        XCTAssertTrue(closed.stdout.contains("DestinationRule: productpage for \"productpage\"\n   Matching subsets: v1\n"), closed.stdout)
        XCTAssertTrue(closed.stdout.contains("VirtualService: bookinfo\n   Route to host \"productpage\" subset \"v1\" with weight 90%\n"), closed.stdout)

        let unknown = meshctl(["x", "describe", "deployment", "productpage"])
        XCTAssertEqual(unknown.exitCode, .usage)
        XCTAssertTrue(unknown.stderr.contains("unknown resource type \"deployment\": use pod or service"), unknown.stderr)
    }
}
