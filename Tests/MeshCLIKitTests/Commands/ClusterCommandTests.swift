import Foundation
import XCTest
@testable import MeshCLIKit
import KubeClient
import Manifests
import MeshControlPlane

/// The cluster commands (check-inject, inject, version, apply, delete) against the local control plane over HTTPS,
/// through a kubeconfig as a user has one.
final class ClusterCommandTests: XCTestCase {
    private var plane: LocalControlPlane!
    private var directory: URL!
    private var variables: [String: String] = [:]

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-check-\(UUID().uuidString)")
        plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0)
        try plane.start()
        let kubeconfig = directory.appendingPathComponent("config")
        try plane.kubeconfig(name: "local").write(to: kubeconfig, atomically: true, encoding: .utf8)
        variables = ["KUBECONFIG": kubeconfig.path, "HOME": directory.path]
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces", body: try JSONValue.parse(#"{"metadata":{"name":"shop","labels":{"istio-injection":"enabled"}}}"#))
        try client.send("POST", "/apis/apps/v1/namespaces/shop/deployments", body: try JSONValue.parse(
            #"{"metadata":{"name":"cart"},"spec":{"selector":{"matchLabels":{"app":"cart"}},"template":{"metadata":{"labels":{"app":"cart"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#))
        try client.send("POST", "/apis/apps/v1/namespaces/shop/deployments", body: try JSONValue.parse(
            #"{"metadata":{"name":"batch"},"spec":{"selector":{"matchLabels":{"app":"batch"}},"template":{"metadata":{"labels":{"app":"batch","sidecar.istio.io/inject":"false"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#))
    }

    override func tearDown() {
        plane?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func testNamespacesAndWorkloads() throws {
        let namespaces = runMeshctl(["check-inject"], variables: variables)
        XCTAssertEqual(namespaces.exitCode, .success, namespaces.stderr)
        XCTAssertTrue(namespaces.stdout.hasPrefix("NAME           ISTIO-INJECTION   REVISION   INJECTION"), namespaces.stdout)
        XCTAssertTrue(namespaces.stdout.contains("\nshop           enabled                      enabled"), namespaces.stdout)
        XCTAssertTrue(namespaces.stdout.contains("not labelled: new pods get no sidecar"))

        let shop = runMeshctl(["check-inject", "-n", "shop"], variables: variables)
        XCTAssertEqual(shop.exitCode, .success, shop.stderr)
        XCTAssertEqual(shop.stdout.split(separator: "\n").count, 2, "-n shows that namespace only: \(shop.stdout)")
        XCTAssertTrue(shop.stdout.split(separator: "\n").last?.hasPrefix("shop   enabled") == true, shop.stdout)
        let nowhere = runMeshctl(["check-inject", "-n", "nowhere"], variables: variables)
        XCTAssertEqual(nowhere.exitCode, .failure)
        XCTAssertEqual(nowhere.stderr, "Error from server (NotFound): namespaces \"nowhere\" not found\n")

        let cart = runMeshctl(["check-inject", "-n", "shop", "deployment/cart"], variables: variables)
        XCTAssertEqual(cart.exitCode, .success, cart.stderr)
        XCTAssertTrue(cart.stdout.contains("istio-sidecar-injector   default    ✔          namespace label istio-injection=enabled selects it"), cart.stdout)
        XCTAssertTrue(cart.stdout.hasSuffix("new pods of deployment/cart get the sidecar from istio-sidecar-injector (revision default)\n"))

        let batch = runMeshctl(["check-inject", "-n", "shop", "deploy/batch", "-o", "json"], variables: variables)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(batch.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((document["injectedBy"] as? [String])?.count, 0)
        XCTAssertEqual(((document["webhooks"] as? [[String: Any]])?.first?["reason"] as? String), "pod label sidecar.istio.io/inject=false rules it out")

        let missing = runMeshctl(["check-inject", "-n", "shop", "deploy/nope"], variables: variables)
        XCTAssertEqual(missing.exitCode, .failure)
        XCTAssertEqual(missing.stderr, "Error from server (NotFound): deployments.apps \"nope\" not found\n")
        XCTAssertEqual(runMeshctl(["check-inject", "x", "-l", "app=y"], variables: variables).exitCode, .usage)
    }

    func testVersionAsksTheCluster() throws {
        let version = runMeshctl(["version", "-o", "json"], variables: variables)
        XCTAssertEqual(version.exitCode, .success, version.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(version.stdout.utf8)) as? [String: Any])
        let server = try XCTUnwrap(document["serverVersion"] as? [String: Any])
        XCTAssertEqual(server["kubernetes"] as? String, "v1.32.0")
        XCTAssertEqual(server["istio"] as? String, "1.32.0")
        let clientOnly = runMeshctl(["version", "--remote=false"], variables: variables)
        XCTAssertEqual(clientOnly.stdout.split(separator: "\n").count, 1)
    }

    /// Asked for the cluster's versions, `version` prints the client's and then fails (exit 1) naming why the
    /// cluster could not be read; it never passes a broken set-up off as "client only".
    func testVersionNamesWhyTheClusterCannotBeRead() throws {
        func failure(_ arguments: [String], _ variables: [String: String], _ expected: String,
                     file: StaticString = #filePath, line: UInt = #line) {
            let run = runMeshctl(["version"] + arguments, variables: variables)
            XCTAssertEqual(run.exitCode, .failure, run.stderr, file: file, line: line)
            XCTAssertTrue(run.stdout.hasPrefix("client version: "), run.stdout, file: file, line: line)
            XCTAssertTrue(run.stderr.hasPrefix("error: cannot read the cluster's versions: "), run.stderr, file: file, line: line)
            XCTAssertTrue(run.stderr.contains(expected), "\(run.stderr) lacks \(expected)", file: file, line: line)
            XCTAssertTrue(run.stderr.contains("--remote=false"), run.stderr, file: file, line: line)
        }
        let home = ["HOME": directory.path]
        failure([], home, "no kubeconfig: \(directory.path)/.kube/config does not exist")
        failure(["--kubeconfig", directory.appendingPathComponent("nope").path], home, "cannot read the kubeconfig")
        let broken = directory.appendingPathComponent("broken")
        try "apiVersion: v1\nclusters: [\n".write(to: broken, atomically: true, encoding: .utf8)
        failure(["--kubeconfig", broken.path], home, "broken:")
        failure(["--context", "elsewhere"], variables, "context \"elsewhere\" is not in")
        let wrongToken = directory.appendingPathComponent("wrong-token")
        let text = try String(contentsOf: directory.appendingPathComponent("config"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.trimmingCharacters(in: .whitespaces).hasPrefix("token:") ? line.prefix { $0 == " " } + "token: not-the-token" : line
        }
        try lines.joined(separator: "\n").write(to: wrongToken, atomically: true, encoding: .utf8)
        failure(["--kubeconfig", wrongToken.path], home, "Unauthorized")

        let offline = runMeshctl(["version", "--remote=false", "--kubeconfig", broken.path], variables: home)
        XCTAssertEqual(offline.exitCode, .success, offline.stderr)
    }

    func testInjectEnableAndDisableListRestarts() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces", body: try JSONValue.parse(#"{"metadata":{"name":"pay","labels":{"istio.io/rev":"canary"}}}"#))
        try client.send("POST", "/api/v1/namespaces/pay/pods", body: try JSONValue.parse(#"""
            {"metadata":{"name":"cart-5d9f-x1","labels":{"app":"cart","pod-template-hash":"5d9f"},
             "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"cart-5d9f","uid":"u"}]},
             "spec":{"containers":[{"name":"cart","image":"x"}]},"status":{"phase":"Running"}}
            """#))
        let dry = runMeshctl(["inject", "enable", "pay", "--dry-run"], variables: variables)
        XCTAssertEqual(dry.exitCode, .success, dry.stderr)
        XCTAssertTrue(dry.stdout.hasPrefix("namespace/pay would be labelled istio-injection=enabled (removed istio.io/rev=canary)"), dry.stdout)
        XCTAssertEqual(try client.get("/api/v1/namespaces/pay")["metadata"]?["labels"]?["istio.io/rev"]?.string, "canary", "a dry run changes nothing")

        let enabled = runMeshctl(["inject", "enable", "pay"], variables: variables)
        XCTAssertEqual(enabled.stdout, """
            namespace/pay labelled istio-injection=enabled (removed istio.io/rev=canary)
              restart to apply it to running pods:
                kubectl rollout restart deployment/cart -n pay

            """)
        let labels = try client.get("/api/v1/namespaces/pay")["metadata"]?["labels"]
        XCTAssertEqual(labels?["istio-injection"]?.string, "enabled")
        XCTAssertNil(labels?["istio.io/rev"])
        XCTAssertTrue(runMeshctl(["inject", "enable", "pay"], variables: variables).stdout.hasPrefix("namespace/pay already labelled"))

        let disabled = runMeshctl(["inject", "disable", "pay"], variables: variables)
        XCTAssertTrue(disabled.stdout.hasPrefix("namespace/pay labelled istio-injection=disabled\n  no running pod needs a restart"), disabled.stdout)
        XCTAssertEqual(runMeshctl(["inject", "enable"], variables: variables).exitCode, .usage)
        let missing = runMeshctl(["inject", "enable", "nope"], variables: variables)
        XCTAssertEqual(missing.stderr, "Error from server (NotFound): namespaces \"nope\" not found\n")
    }

    func testApplyValidatesFirstThenAppliesInOrderAndDeletes() throws {
        let file = directory.appendingPathComponent("rules.yaml")
        try """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: blog}
            spec:
              hosts: [cart]
              http: [{route: [{destination: {host: cart}}]}]
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: blog}

            """.write(to: file, atomically: true, encoding: .utf8)
        let applied = runMeshctl(["apply", "-f", file.path], variables: variables)
        XCTAssertEqual(applied.exitCode, .success, applied.stderr)
        XCTAssertEqual(applied.stdout, "namespace/blog created\nvirtualservice.networking.istio.io/cart created\n", "namespaces go first")
        XCTAssertEqual(runMeshctl(["apply", "-f", file.path], variables: variables).stdout,
                       "namespace/blog unchanged\nvirtualservice.networking.istio.io/cart unchanged\n")

        let bad = directory.appendingPathComponent("bad.yaml")
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first, namespace: blog}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\n"
            .appending("metadata: {name: gw, namespace: blog}\nspec:\n  servers: [{port: {number: 99999, name: http, protocol: HTTP}, hosts: ['*']}]\n")
            .write(to: bad, atomically: true, encoding: .utf8)
        let refused = runMeshctl(["apply", "-f", bad.path], variables: variables)
        XCTAssertEqual(refused.exitCode, .dataError)
        XCTAssertTrue(refused.stderr.hasPrefix("\(bad.path):9:29: error: Gateway blog/gw: spec.servers[0].port.number"), "one label, no `error: file: error:`: \(refused.stderr)")
        XCTAssertTrue(refused.stderr.contains("nothing was sent to the cluster"), refused.stderr)
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        XCTAssertThrowsError(try client.get("/api/v1/namespaces/blog/configmaps/first"), "the valid document before the bad one was not sent either")

        let deleted = runMeshctl(["delete", "-f", file.path], variables: variables)
        XCTAssertEqual(deleted.stdout, "virtualservice.networking.istio.io \"cart\" deleted\nnamespace \"blog\" deleted\n", deleted.stderr)
    }

    /// A field the server does not know is refused (fieldValidation=Strict), not dropped without a word.
    func testApplyRefusesUnknownFields() throws {
        let file = directory.appendingPathComponent("typo.yaml")
        try """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: typo, namespace: shop}
            spec:
              replica: 2
              selector: {matchLabels: {app: typo}}
              template:
                metadata: {labels: {app: typo}}
                spec: {containers: [{name: c, image: x}]}

            """.write(to: file, atomically: true, encoding: .utf8)
        let applied = runMeshctl(["apply", "-f", file.path], variables: variables)
        XCTAssertEqual(applied.exitCode, .failure, applied.stdout)
        XCTAssertTrue(applied.stderr.contains("Error from server (BadRequest)") && applied.stderr.contains("unknown field \"spec.replica\""),
                      applied.stderr)
    }

    func testApplyOfNothingIsBadInput() throws {
        let empty = directory.appendingPathComponent("empty.yaml")
        try "# to do\n".write(to: empty, atomically: true, encoding: .utf8)
        for command in ["apply", "delete"] {
            let result = runMeshctl([command, "-f", empty.path], variables: variables)
            XCTAssertEqual(result.exitCode, .dataError, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("error: no Kubernetes objects in \(empty.path)"), result.stderr)
        }
    }

    /// A cluster that runs no pods at all (local mode stores workloads without starting them) gets no "selects no
    /// pod" reports; once any pod runs, they are back.
    func testAnalyzeLeavesOutPodSelectorsOnAClusterThatRunsNoPods() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        try client.send("POST", "/api/v1/namespaces/shop/services", body: try JSONValue.parse(
            #"{"metadata":{"name":"cart"},"spec":{"selector":{"app":"cart"},"ports":[{"name":"http","port":80}]}}"#))
        try client.send("POST", "/apis/networking.istio.io/v1/namespaces/shop/destinationrules", body: try JSONValue.parse(
            #"{"metadata":{"name":"cart"},"spec":{"host":"cart","subsets":[{"name":"v1","labels":{"version":"v1"}}]}}"#))
        let idle = runMeshctl(["analyze", "-n", "shop"], variables: variables)
        XCTAssertEqual(idle.exitCode, .success, idle.stdout + idle.stderr)
        XCTAssertTrue(idle.stderr.contains("note: the cluster runs no pods, so analyzers of what selectors select were skipped"), idle.stderr)

        try client.send("POST", "/api/v1/namespaces/default/pods", body: try JSONValue.parse(
            #"{"metadata":{"name":"elsewhere"},"spec":{"containers":[{"name":"c","image":"x"}]},"status":{"phase":"Running"}}"#))
        let running = runMeshctl(["analyze", "-n", "shop"], variables: variables)
        XCTAssertEqual(running.exitCode, .analyzeIssues, running.stdout + running.stderr)
        XCTAssertTrue(running.stdout.contains("[IST0173] (DestinationRule shop/cart)"), running.stdout)
    }

    func testKubeInjectReadsTheClustersConfigMaps() throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        let pod = directory.appendingPathComponent("pod.yaml")
        try "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers: [{name: web, image: nginx}]\n"
            .write(to: pod, atomically: true, encoding: .utf8)
        let injected = runMeshctl(["kube-inject", "-f", pod.path, "--injectConfigMapName", "istio-sidecar-injector"], variables: variables)
        XCTAssertEqual(injected.exitCode, .success, injected.stderr)
        XCTAssertTrue(injected.stdout.contains("image: docker.io/istio/proxyv2:1.32.0") && injected.stdout.contains("name: istio-proxy"), injected.stdout)
        XCTAssertFalse(injected.stderr.contains("built-in Istio defaults"), "the cluster's configuration, not the built-in one")
        let missing = runMeshctl(["kube-inject", "-f", pod.path, "--injectConfigMapName", "istio-sidecar-injector", "-r", "canary"], variables: variables)
        XCTAssertEqual(missing.exitCode, .failure)
        XCTAssertTrue(missing.stderr.contains("configmaps \"istio-sidecar-injector-canary\" not found"), missing.stderr)

        let builtin = runMeshctl(["kube-inject", "-f", pod.path], variables: variables)
        XCTAssertEqual(injected.stdout, builtin.stdout, "the local ConfigMap injects what the built-in defaults inject")
        // Its templates are Go template text, and inject the shop's Deployments and a gateway as the built-in ones do.
        let gateway = directory.appendingPathComponent("gateway.yaml")
        try """
            apiVersion: v1
            kind: Pod
            metadata: {name: gw, namespace: shop, labels: {istio: ingressgateway}, annotations: {inject.istio.io/templates: gateway}}
            spec:
              containers: [{name: istio-proxy, image: auto, ports: [{containerPort: 8080}]}]

            """.write(to: gateway, atomically: true, encoding: .utf8)
        let shop = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/shop")
        for file in [gateway.path] + ["cart.yaml", "frontend.yaml"].map({ shop.appendingPathComponent($0).path }) {
            let fromConfigMap = runMeshctl(["kube-inject", "-f", file, "--injectConfigMapName", "istio-sidecar-injector", "--meshConfigMapName", "istio"],
                                           variables: variables)
            XCTAssertEqual(fromConfigMap.exitCode, .success, fromConfigMap.stderr)
            XCTAssertTrue(fromConfigMap.stdout.contains("name: istio-proxy"), fromConfigMap.stdout)
            XCTAssertEqual(fromConfigMap.stdout, runMeshctl(["kube-inject", "-f", file], variables: variables).stdout, file)
        }
        let configMap = try client.get("/api/v1/namespaces/istio-system/configmaps/istio-sidecar-injector")
        let config = try YAMLParser.parse(configMap["data"]?["config"]?.string ?? "").first?.root
        for name in ["sidecar", "gateway", "grpc-agent", "grpc-simple"] {
            XCTAssertTrue(config?["templates"]?[name]?.string?.contains("{{") ?? false, "the \(name) template is Go template text")
        }
        XCTAssertNil(configMap["data"]?["meshctlTemplates"])
        // A ConfigMap without the template the pod needs fails, as Istio's injector does.
        try client.send("POST", "/api/v1/namespaces/istio-system/configmaps", body: try JSONValue.parse(
            #"{"metadata":{"name":"istio-sidecar-injector-bare"},"data":{"config":"templates: {}\ndefaultTemplates: [sidecar]\n","values":"{}"}}"#))
        try client.send("POST", "/api/v1/namespaces/istio-system/configmaps", body: try JSONValue.parse(#"{"metadata":{"name":"istio-bare"},"data":{"mesh":"{}"}}"#))
        let bare = runMeshctl(["kube-inject", "-f", pod.path, "--injectConfigMapName", "istio-sidecar-injector", "-r", "bare"], variables: variables)
        XCTAssertEqual(bare.exitCode, .dataError, bare.stdout)
        XCTAssertTrue(bare.stderr.contains("requested template \"sidecar\" not found"), bare.stderr)
        XCTAssertEqual(bare.stdout, "", "nothing half-injected is written")
    }

    func testAnalyzeComparesServicesWithRemoteClusters() throws {
        let east = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("east"), port: 0)
        try east.start()
        defer { east.stop() }
        let eastConfig = try east.kubeconfig(name: "east")
        let west = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
        let eastClient = try KubernetesClient(access: ClusterAccess(contextName: "east", server: east.url, certificateAuthority: east.authorityPEM,
                                                                    credentials: .token(east.token), source: "test"))
        func service(_ port: Int) throws -> JSONValue {
            try JSONValue.parse(#"{"metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":\#(port)}]}}"#)
        }
        try west.send("POST", "/api/v1/namespaces/shop/services", body: try service(80))
        try eastClient.send("POST", "/api/v1/namespaces", body: try JSONValue.parse(#"{"metadata":{"name":"shop"}}"#))
        try eastClient.send("POST", "/api/v1/namespaces/shop/services", body: try service(8080))
        // The remote secret istioctl create-remote-secret makes: a kubeconfig per cluster, labelled for Istio.
        try west.send("POST", "/api/v1/namespaces/istio-system/secrets", body: .object([
            ("metadata", .object([("name", .string("istio-remote-secret-east")), ("labels", .object([("istio/multiCluster", .string("true"))]))])),
            ("data", .object([("east", .string(Base64.encode(Array(eastConfig.utf8))))])),
        ]))
        let analyzed = runMeshctl(["analyze", "-n", "shop"], variables: variables)
        XCTAssertTrue(analyzed.stdout.contains("Warning [IST0170] (Service shop/web) Service web in namespace shop differs between clusters local, east: "
                                               + "ports: [80/TCP http] in local, [8080/TCP http] in east"), analyzed.stdout + analyzed.stderr)
    }

    func testUnreachableClusterNamesServerAndCause() throws {
        plane.stop()
        let result = runMeshctl(["check-inject"], variables: variables)
        XCTAssertEqual(result.exitCode, .failure)
        XCTAssertTrue(result.stderr.contains("cannot reach the Kubernetes API at \(plane.url)"), result.stderr)
        XCTAssertTrue(result.stderr.lowercased().contains("refused") || result.stderr.lowercased().contains("connect"), result.stderr)
        plane = nil
    }
}
