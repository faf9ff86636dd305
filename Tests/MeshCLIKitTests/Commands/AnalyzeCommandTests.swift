import Foundation
import XCTest
@testable import MeshCLIKit

final class AnalyzeCommandTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-analyze-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
        apiVersion: v1
        kind: Service
        metadata: {name: legacy, namespace: shop}
        spec:
          ports: [{name: web, port: 8080}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: cart, namespace: shop}
        spec:
          hosts: [cart]
          http:
          - route: [{destination: {host: cart, subset: v2}}]
        """.write(to: folder.appendingPathComponent("shop.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func run(_ arguments: [String], in directory: URL? = nil) -> CLIRun {
        let out = BufferOutput(), err = BufferOutput()
        let environment = CommandEnvironment(stdout: out, stderr: err, workingDirectory: (directory ?? folder).path)
        return CLIRun(exitCode: MeshCLI.run(["analyze"] + arguments, environment: environment), stdout: out.text, stderr: err.text)
    }

    func testLogOutputAndExitCodes() {
        let result = run(["--use-kube=false", "shop.yaml"])
        XCTAssertEqual(result.exitCode, .analyzeIssues)
        XCTAssertEqual(result.stdout, """
            Info [IST0118] (Service shop/legacy shop.yaml:5) Port name web (port: 8080, targetPort: 8080) does not follow Istio's port naming convention <protocol>[-<suffix>]; rename it or set appProtocol
            Error [IST0101] (VirtualService shop/cart shop.yaml:13) Referenced host+subset in destinationrule not found: "cart+v2"
            Error [IST0101] (VirtualService shop/cart shop.yaml:13) Referenced host not found: "cart"

            """)
        XCTAssertTrue(result.stderr.hasPrefix("error: analyzers found issues at level Error or above when analyzing the given files\n"))

        // Only Info remains after suppressing the subset message, and Info is below the failure threshold.
        let suppressed = run(["--use-kube=false", "-S", "IST0101=VirtualService cart.*", "shop.yaml"])
        XCTAssertEqual(suppressed.exitCode, .success)
        XCTAssertEqual(suppressed.stdout.split(separator: "\n").count, 1)

        let quiet = run(["--use-kube=false", "--output-threshold", "ERROR", "--failure-threshold", "info", "-S", "IST0101=*", "shop.yaml"])
        XCTAssertEqual(quiet.exitCode, .analyzeIssues)
        XCTAssertEqual(quiet.stdout, "✔ No validation issues found when analyzing the given files.\n")
    }

    func testColourOnlyOnATerminalAndNotWhenTurnedOff() {
        func run(_ arguments: [String], variables: [String: String] = [:]) -> String {
            let out = BufferOutput(isTerminal: true), err = BufferOutput(isTerminal: true)
            let environment = CommandEnvironment(stdout: out, stderr: err, variables: variables, workingDirectory: folder.path)
            _ = MeshCLI.run(["analyze", "--use-kube=false"] + arguments + ["shop.yaml"], environment: environment)
            return out.text
        }
        XCTAssertTrue(run([]).contains("\u{1B}[1;31mError\u{1B}[0m [IST0101]"))
        XCTAssertFalse(run(["--color=false"]).contains("\u{1B}["))
        XCTAssertFalse(run([], variables: ["NO_COLOR": "1"]).contains("\u{1B}["))
    }

    func testJSONAndYAMLOutput() throws {
        let json = run(["--use-kube=false", "--analyzer", "virtualservice.DestinationRuleAnalyzer", "-o", "json", "shop.yaml"])
        XCTAssertEqual(json.exitCode, .analyzeIssues)
        XCTAssertEqual(json.stdout, """
            [
              {
                "code": "IST0101",
                "level": "Error",
                "name": "ReferencedResourceNotFound",
                "message": "Referenced host+subset in destinationrule not found: \\"cart+v2\\"",
                "origin": "VirtualService shop/cart",
                "kind": "VirtualService",
                "namespace": "shop",
                "resourceName": "cart",
                "file": "shop.yaml",
                "line": 13,
                "documentationUrl": "https://istio.io/latest/docs/reference/config/analysis/ist0101/"
              }
            ]

            """)
        let yaml = run(["--use-kube=false", "--analyzer", "service.PortNameAnalyzer", "-o", "yaml", "shop.yaml"])
        XCTAssertEqual(yaml.exitCode, .success)
        XCTAssertTrue(yaml.stdout.hasPrefix("- code: IST0118\n  level: Info\n  name: PortNameIsNotUnderNamingConvention\n"), yaml.stdout)
    }

    /// Help, completion and validation of -o come from one list of formats.
    func testOutputFormatsComeFromOneList() throws {
        let flag = try XCTUnwrap(AnalyzeCommand.spec.flags.first { $0.name == "output" })
        XCTAssertEqual(flag.completion, .values(AnalyzeCommand.formats.map(\.rawValue)))
        XCTAssertEqual(flag.help, "Output format: one of log|json|yaml")
        XCTAssertEqual(flag.defaultValue, "log")
        let refused = run(["--use-kube=false", "-o", "table", "shop.yaml"])
        XCTAssertEqual(refused.exitCode, .usage)
        XCTAssertTrue(refused.stderr.contains("allowed values are log, json, yaml"), refused.stderr)
    }

    func testMeshConfigFile() throws {
        try """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: db, namespace: shop}
        spec: {hosts: [db.example.com], ports: [{number: 5432, name: tcp-db, protocol: TCP}], resolution: DNS}
        """.write(to: folder.appendingPathComponent("db.yaml"), atomically: true, encoding: .utf8)
        try "defaultConfig:\n  proxyMetadata: {ISTIO_META_DNS_CAPTURE: \"true\", ISTIO_META_DNS_AUTO_ALLOCATE: \"true\"}\n"
            .write(to: folder.appendingPathComponent("mesh.yaml"), atomically: true, encoding: .utf8)
        let plain = run(["--use-kube=false", "db.yaml"])
        XCTAssertEqual(plain.exitCode, .success)
        XCTAssertTrue(plain.stdout.hasPrefix("Warning [IST0134] (ServiceEntry shop/db db.yaml:4)"), plain.stdout)
        let allocated = run(["--use-kube=false", "--meshConfigFile", "mesh.yaml", "db.yaml"])
        XCTAssertEqual(allocated.stdout, "✔ No validation issues found when analyzing the given files.\n")
        XCTAssertEqual(run(["--use-kube=false", "--meshConfigFile", "missing.yaml", "db.yaml"]).exitCode, .failure)
    }

    func testMeshNetworksFromTheIstioConfigMap() throws {
        try """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: istio, namespace: istio-system}
        data:
          meshNetworks: |
            networks:
              east: {endpoints: [{fromRegistry: Kubernetes}]}
              west: {endpoints: [{fromRegistry: west-cluster}]}
        """.write(to: folder.appendingPathComponent("istio.yaml"), atomically: true, encoding: .utf8)
        let result = run(["--use-kube=false", "istio.yaml"])
        XCTAssertEqual(result.exitCode, .analyzeIssues)
        XCTAssertTrue(result.stdout.hasPrefix("Error [IST0126] (MeshNetworks istio-system/meshnetworks) network west takes endpoints from registry west-cluster"),
                      result.stdout)
    }

    func testClusterScopedObjectsTakeNoDefaultNamespace() throws {
        try """
        apiVersion: v1
        kind: Namespace
        metadata: {name: blog}
        """.write(to: folder.appendingPathComponent("ns.yaml"), atomically: true, encoding: .utf8)
        let result = run(["--use-kube=false", "-n", "blog", "ns.yaml"])
        XCTAssertTrue(result.stdout.hasPrefix("Info [IST0102] (Namespace blog ns.yaml:1)"), result.stdout)
    }

    func testUsageErrorsAndListing() {
        XCTAssertEqual(run(["--use-kube=false", "--failure-threshold", "Fatal", "shop.yaml"]).exitCode, .usage)
        XCTAssertEqual(run(["--use-kube=false", "-S", "nonsense", "shop.yaml"]).exitCode, .usage)
        let unknown = run(["--use-kube=false", "--analyzer", "virtualservice.GatewayAnalyser", "shop.yaml"])
        XCTAssertEqual(unknown.exitCode, .usage)
        XCTAssertTrue(unknown.stderr.contains("Did you mean 'virtualservice.GatewayAnalyzer'?"))
        XCTAssertEqual(run(["--use-kube=false"]).exitCode, .usage)
        let list = run(["-L"])
        XCTAssertEqual(list.exitCode, .success)
        XCTAssertTrue(list.stdout.hasPrefix("NAME   "))
        XCTAssertTrue(list.stdout.contains("virtualservice.GatewayAnalyzer   "))
    }

    /// Nothing to analyze is said, not passed off as "no issues"; a broken kubeconfig is named, not taken for none.
    func testEmptyInputsAndBrokenKubeconfigs() throws {
        try "".write(to: folder.appendingPathComponent("empty.yaml"), atomically: true, encoding: .utf8)
        let empty = run(["--use-kube=false", "empty.yaml"])
        XCTAssertEqual(empty.exitCode, .dataError, empty.stderr)
        XCTAssertTrue(empty.stderr.hasPrefix("error: no Kubernetes objects in empty.yaml"), empty.stderr)
        XCTAssertFalse(empty.stdout.contains("No validation issues"), empty.stdout)

        try "apiVersion: v1\nclusters: [\n".write(to: folder.appendingPathComponent("kubeconfig"), atomically: true, encoding: .utf8)
        let broken = run(["--kubeconfig", "kubeconfig", "shop.yaml"])
        XCTAssertEqual(broken.exitCode, .failure, broken.stderr)
        XCTAssertTrue(broken.stderr.contains("kubeconfig") && !broken.stderr.contains("no cluster is configured"), broken.stderr)
        let unknownContext = run(["--context", "nope", "--kubeconfig", "kubeconfig", "shop.yaml"])
        XCTAssertEqual(unknownContext.exitCode, .failure, unknownContext.stderr)
    }
}
