import Foundation
import MeshTestSupport
import XCTest
@testable import MeshControlPlane
import Manifests

/// The real kubectl against the local control plane over HTTPS: what a user does first.
final class KubectlTests: XCTestCase {
    static let kubectl = "/usr/bin/kubectl"
    var plane: LocalControlPlane?
    var directory: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.kubectl) else { throw XCTSkip("no kubectl at \(Self.kubectl) on this machine") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-local-\(UUID().uuidString)")
        try start()
    }

    override func tearDown() {
        plane?.stop()
        plane = nil
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func start() throws {
        let plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0)
        api = plane.api
        plane.api.namespacePurgeDelay = 0.3
        try plane.start()
        self.plane = plane
        try KubectlRunner.writeKubeconfig(for: plane, in: directory)
    }
    var api: KubernetesAPI?

    /// Runs kubectl with this test's kubeconfig and its own cache; returns exit status and merged output.
    @discardableResult
    func kubectl(_ arguments: [String], input: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, output: String) {
        try KubectlRunner.run(arguments, in: directory, input: input)
    }

    func testNamespacesLabelsAndInjectionColumn() throws {
        var result = try kubectl(["get", "namespaces", "-L", "istio-injection"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.hasPrefix("NAME"), result.output)
        XCTAssertTrue(result.output.contains("ISTIO-INJECTION"), result.output)
        XCTAssertTrue(result.output.contains("istio-system"), result.output)

        result = try kubectl(["label", "namespace", "default", "istio-injection=enabled"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "namespace/default labeled\n")
        result = try kubectl(["get", "ns", "default", "-L", "istio-injection", "--no-headers"])
        XCTAssertTrue(result.output.contains("enabled"), result.output)
        result = try kubectl(["get", "ns", "nope"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.output, "Error from server (NotFound): namespaces \"nope\" not found\n")
    }

    static let manifest = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: demo}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: demo, labels: {app: web}}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: demo}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 80}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: demo}
        spec:
          hosts: [web]
          http: [{route: [{destination: {host: web}}]}]

        """

    func testApplyReapplyServerSideAndDelete() throws {
        let file = directory.appendingPathComponent("demo.yaml")
        try Self.manifest.write(to: file, atomically: true, encoding: .utf8)
        var result = try kubectl(["apply", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, """
            namespace/demo created
            deployment.apps/web created
            service/web created
            virtualservice.networking.istio.io/web created

            """)
        result = try kubectl(["apply", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output.split(separator: "\n").filter { $0.hasSuffix(" unchanged") }.count, 4, result.output)

        // A changed image goes as a strategic merge patch; a changed VirtualService as a merge patch.
        try Self.manifest.replacingOccurrences(of: "nginx:1.27", with: "nginx:1.28").replacingOccurrences(of: "hosts: [web]", with: "hosts: [web, web.demo]")
            .write(to: file, atomically: true, encoding: .utf8)
        result = try kubectl(["apply", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("deployment.apps/web configured") && result.output.contains("virtualservice.networking.istio.io/web configured"),
                      result.output)
        result = try kubectl(["get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}"])
        XCTAssertEqual(result.output, "nginx:1.28 2")

        result = try kubectl(["scale", "deployment", "web", "-n", "demo", "--replicas=3"])
        XCTAssertEqual(result.output, "deployment.apps/web scaled\n")
        XCTAssertEqual(try kubectl(["get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas}"]).output, "3")

        // kubectl scale made kubectl (an Update manager) own spec.replicas: applying 1 replica conflicts, as on a real cluster.
        result = try kubectl(["apply", "--server-side", "-f", file.path])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"), result.output)
        result = try kubectl(["apply", "--server-side", "--force-conflicts", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("serverside-applied"), result.output)
        XCTAssertEqual(try kubectl(["get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas}"]).output, "1")

        result = try kubectl(["get", "vs", "-A"])
        XCTAssertEqual(result.status, 0, result.output)
        let lines = result.output.split(separator: "\n")
        XCTAssertEqual(lines.first.map { $0.split(separator: " ", omittingEmptySubsequences: true) }, ["NAMESPACE", "NAME", "GATEWAYS", "HOSTS", "AGE"])
        XCTAssertTrue(lines.count == 2 && lines[1].contains("demo") && lines[1].contains("[\"web\",\"web.demo\"]"), result.output)

        result = try kubectl(["delete", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("namespace \"demo\" deleted") && result.output.contains("virtualservice.networking.istio.io \"web\" deleted"),
                      result.output)
        result = try kubectl(["get", "ns", "demo"])
        XCTAssertEqual(result.status, 1, "the namespace is gone once kubectl delete returns: \(result.output)")
    }

    func testInvalidIstioResourceIsRefusedWithTheField() throws {
        let result = try kubectl(["apply", "-f", "-"], input: """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: bad, namespace: default}
            spec:
              hosts: [web]
              http: [{route: [{destination: {host: web}, weight: -5}]}]
            """)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertEqual(result.output, "The VirtualService \"bad\" is invalid: spec.http[0].route[0].weight: Invalid value: -5: "
                       + "spec.http[0].route[0].weight in body should be greater than or equal to 0\n")
        XCTAssertEqual(try kubectl(["get", "vs", "bad"]).status, 1, "nothing invalid is stored")
    }

    func testAPIResourcesAndShortNames() throws {
        let result = try kubectl(["api-resources"])
        XCTAssertEqual(result.status, 0, result.output)
        for row in ["virtualservices", "destinationrules", "peerauthentications", "deployments", "namespaces"] {
            XCTAssertTrue(result.output.contains(row), "\(row) missing: \(result.output)")
        }
        XCTAssertTrue(result.output.split(separator: "\n").contains { $0.hasPrefix("virtualservices") && $0.contains(" vs ") }, result.output)
    }

    /// `kubectl get configmaps -w` in the default namespace, not started yet, and what it prints.
    func configMapWatch() -> (process: Process, output: PipeCollector) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.kubectl)
        process.arguments = ["--kubeconfig", directory.appendingPathComponent("kubeconfig").path, "--cache-dir", directory.appendingPathComponent("cache").path,
                             "get", "configmaps", "-n", "default", "-w", "--request-timeout", "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        return (process, PipeCollector(output))
    }

    func testWatchSeesChanges() throws {
        let (process, collected) = configMapWatch()
        // kubectl prints the list before it watches from the list's version, so every change made after the
        // listed ConfigMap shows reaches the watch (an empty list prints nothing to wait for).
        try kubectl(["create", "-f", "-"], input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: listed, namespace: default}\n")
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        XCTAssertTrue(eventually(timeout: 20) { collected.text.contains("listed") }, "kubectl listed the ConfigMaps: \(collected.text)")
        try kubectl(["create", "-f", "-"], input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: default}\ndata: {a: b}\n")
        try kubectl(["label", "configmap", "watched", "seen=yes"])
        try kubectl(["delete", "configmap", "watched"])
        func watchedLines() -> Int { collected.text.split(separator: "\n").filter { $0.hasPrefix("watched") }.count }
        XCTAssertTrue(eventually(timeout: 20) { watchedLines() >= 3 }, collected.text)
        process.terminate()
        process.waitUntilExit()
        collected.stop()
        XCTAssertEqual(watchedLines(), 3, collected.text)
    }

    func testStateSurvivesARestartAndTokensAreChecked() throws {
        try kubectl(["create", "-f", "-"], input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: default}\ndata: {a: b}\n")
        plane?.stop()
        plane = nil
        try start()
        XCTAssertEqual(try kubectl(["get", "configmap", "kept", "-o", "jsonpath={.data.a}"]).output, "b")

        let wrong = try kubectl(["--token", "not-the-token", "get", "namespaces"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.output.contains("Unauthorized") || wrong.output.contains("provide credentials"), wrong.output)
    }

    func testPodsInLabelledNamespacesGetTheSidecar() throws {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: NS}\nspec:\n  containers: [{name: app, image: nginx}]\n"
        try kubectl(["create", "-f", "-"], input: "apiVersion: v1\nkind: Namespace\nmetadata: {name: meshed, labels: {istio-injection: enabled}}\n")
        var result = try kubectl(["create", "-f", "-"], input: pod.replacingOccurrences(of: "NS", with: "meshed"))
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["get", "pod", "app", "-n", "meshed", "-o", "jsonpath={.spec.initContainers[*].name} {.spec.containers[*].name}"])
        XCTAssertEqual(result.output, "istio-init app istio-proxy")
        result = try kubectl(["create", "-f", "-"], input: pod.replacingOccurrences(of: "NS", with: "default"))
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["get", "pod", "app", "-n", "default", "-o", "jsonpath={.spec.containers[*].name}"])
        XCTAssertEqual(result.output, "app", "no injection label, no sidecar")
    }

    func testTypedCreateCommandsThatSendProtobuf() throws {
        XCTAssertEqual(try kubectl(["create", "namespace", "typed"]).output, "namespace/typed created\n")
        XCTAssertEqual(try kubectl(["create", "configmap", "cfg", "-n", "typed", "--from-literal=a=b"]).output, "configmap/cfg created\n")
        XCTAssertEqual(try kubectl(["create", "secret", "generic", "sec", "-n", "typed", "--from-literal=password=s3cr3t"]).output, "secret/sec created\n")
        XCTAssertEqual(try kubectl(["create", "serviceaccount", "bot", "-n", "typed"]).output, "serviceaccount/bot created\n")
        XCTAssertEqual(try kubectl(["get", "configmap", "cfg", "-n", "typed", "-o", "jsonpath={.data.a}"]).output, "b")
        XCTAssertEqual(try kubectl(["get", "secret", "sec", "-n", "typed", "-o", "jsonpath={.data.password}"]).output, "czNjcjN0")
        XCTAssertEqual(try kubectl(["get", "ns", "typed", "-o", "jsonpath={.metadata.labels.kubernetes\\.io/metadata\\.name}"]).output, "typed")
        let other = try kubectl(["create", "deployment", "web", "--image=nginx", "-n", "typed"])
        XCTAssertEqual(other.status, 1, other.output)
        XCTAssertTrue(other.output.contains("kubectl apply -f"), "kinds not decoded get a clear answer: \(other.output)")
    }
}
