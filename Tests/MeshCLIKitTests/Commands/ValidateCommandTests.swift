import Foundation
import Manifests
import XCTest
@testable import MeshCLIKit

final class ValidateCommandTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-validate-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ name: String, _ text: String) throws {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    private func run(_ arguments: [String], stdin: String = "") -> CLIRun {
        let out = BufferOutput(), err = BufferOutput()
        let environment = CommandEnvironment(stdout: out, stderr: err, readStandardInput: { Array(stdin.utf8) },
                                             workingDirectory: folder.path)
        return CLIRun(exitCode: MeshCLI.run(["validate"] + arguments, environment: environment), stdout: out.text, stderr: err.text)
    }

    private let chaos = """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata:
      name: chaos
      namespace: shop
    spec:
      hosts: [cart]
      http:
      - fault:
          abort:
            httpStatus: 700
            percentage: {value: 10}
        route:
        - destination: {host: cart}
        rout: typo
    """

    func testInvalidResourceNamesFileLineColumnResourceAndField() throws {
        try write("chaos.yaml", chaos)
        let result = run(["-f", "chaos.yaml"])
        XCTAssertEqual(result.exitCode, .dataError)
        XCTAssertTrue(result.stderr.contains("chaos.yaml:11:21: error: VirtualService shop/chaos: spec.http[0].fault.abort.httpStatus: HTTP status 700 is not in range 200-599"), result.stderr)
        XCTAssertTrue(result.stderr.contains("chaos.yaml:15:5: error: VirtualService shop/chaos: spec.http[0].rout: unknown field \"rout\"; did you mean \"route\"?"), result.stderr)
        XCTAssertTrue(result.stderr.hasSuffix("error: 1 resource is invalid\n"), result.stderr)
    }

    func testValidFilesDirectoriesAndNotes() throws {
        try write("config/gateway.yaml", """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: shop, namespace: shop}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["shop.example.com"]
        """)
        try write("config/nested/service.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: cart}\nspec:\n  ports:\n  - name: http-web\n    port: 80\n")
        try write("config/README.md", "# notes")
        let result = run(["-f", "config"])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        XCTAssertEqual(result.stdout, "\"config/gateway.yaml\" is valid\n\"config/nested/service.yml\" is valid\n")
        XCTAssertTrue(result.stderr.contains("note: skipping config/README.md: not a .yaml, .yml or .json file"), result.stderr)
    }

    /// `kubectl get vs,dr -A -o yaml | meshctl validate -f -` reads a `kind: List`: its items are validated.
    func testListsAreValidatedItemByItem() throws {
        let list = """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: networking.istio.io/v1
          kind: VirtualService
          metadata: {name: cart, namespace: shop}
          spec:
            hosts: [cart]
            http:
            - route:
              - destination: {host: cart}
                weight: -5
        metadata:
          resourceVersion: ""
        """
        let result = run(["-f", "-"], stdin: list)
        XCTAssertEqual(result.exitCode, .dataError, result.stderr)
        XCTAssertTrue(result.stderr.contains("<stdin>:12:17: error: VirtualService shop/cart: spec.http[0].route[0].weight:"), result.stderr)

        // The API's typed lists leave kind and apiVersion out of their items.
        let typed = """
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRuleList", "items": [
          {"metadata": {"name": "cart", "namespace": "shop"}, "spec": {"host": "cart", "subsets": [{"name": "v1"}, {"name": "v1"}]}}]}
        """
        let typedResult = run(["-f", "-"], stdin: typed)
        XCTAssertEqual(typedResult.exitCode, .dataError, typedResult.stderr)
        XCTAssertTrue(typedResult.stderr.contains("DestinationRule shop/cart"), typedResult.stderr)
    }

    /// Nothing to validate is bad input, never a silent success.
    func testInputsWithoutObjectsAreBadInput() throws {
        try write("empty.yaml", "")
        try write("comments.yaml", "# nothing yet\n---\n")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("nothing"), withIntermediateDirectories: true)
        for arguments in [["-f", "empty.yaml"], ["-f", "comments.yaml"], ["-f", "nothing"], ["-f", "-"]] {
            let result = run(arguments)
            XCTAssertEqual(result.exitCode, .dataError, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("error: no Kubernetes objects in \(arguments[1] == "-" ? "standard input" : arguments[1])"), result.stderr)
            XCTAssertEqual(result.stdout, "")
        }
        try write("cart.yaml", chaos.replacingOccurrences(of: "httpStatus: 700", with: "httpStatus: 503"))
        // An empty List is what `kubectl get vs -A -o yaml` prints where there are none: read, and valid.
        let emptyList = run(["-f", "-"], stdin: "apiVersion: v1\nkind: List\nitems: []\nmetadata: {resourceVersion: \"\"}\n")
        XCTAssertEqual(emptyList.exitCode, .success, emptyList.stderr)
        XCTAssertTrue(emptyList.stderr.contains("note: <stdin> holds an empty List"), emptyList.stderr)
        let mixed = run(["-f", "empty.yaml", "-f", "cart.yaml"])
        XCTAssertTrue(mixed.stderr.contains("note: empty.yaml holds no Kubernetes objects"), mixed.stderr)
    }

    func testWarningsDoNotFailAndJSONOutput() throws {
        let rule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec:
          host: reviews
          trafficPolicy:
            outlierDetection: {consecutiveErrors: 7}
        """
        let text = run(["-f", "-"], stdin: rule)
        XCTAssertEqual(text.exitCode, .success)
        XCTAssertTrue(text.stderr.contains("warning: DestinationRule reviews: spec.trafficPolicy.outlierDetection.consecutiveErrors: outlier detection consecutive errors is deprecated"), text.stderr)

        let json = run(["-f", "-", "-o", "json"], stdin: rule)
        let parsed = try YAMLParser.parse(json.stdout)[0].root
        XCTAssertEqual(parsed[0]?["valid"]?.bool, true)
        XCTAssertEqual(parsed[0]?["problems"]?[0]?["severity"]?.string, "warning")
        XCTAssertEqual(parsed[0]?["problems"]?[0]?["line"]?.int, 7)
    }

    func testDuplicateKeysSyntaxErrorsAndUsage() throws {
        try write("dup.yaml", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: a\n  host: b\n")
        let duplicate = run(["-f", "dup.yaml"])
        XCTAssertEqual(duplicate.exitCode, .dataError)
        XCTAssertTrue(duplicate.stderr.contains("dup.yaml:6:3: error: DestinationRule d: spec.host: key \"host\" already set in map (first at line 5)"), duplicate.stderr)

        try write("broken.yaml", "kind: [unclosed\n")
        let broken = run(["-f", "broken.yaml"])
        XCTAssertEqual(broken.exitCode, .dataError)
        XCTAssertTrue(broken.stderr.contains("broken.yaml:2:1: error: file: YAML syntax error"), broken.stderr)

        XCTAssertEqual(run([]).exitCode, .usage)
        XCTAssertEqual(run(["-f", "missing.yaml"]).exitCode, .failure)
        XCTAssertEqual(run(["-f", "-", "-o", "xml"]).exitCode, .usage)
    }

    func testReferentialChecks() throws {
        let input = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: cart, namespace: shop}
        spec:
          hosts: [cart]
          gateways: [shop-gateway]
          http:
          - route:
            - destination: {host: cart, subset: v2}
        """
        XCTAssertFalse(run(["-f", "-"], stdin: input).stderr.contains("warning"))
        let checked = run(["-x", "-f", "-"], stdin: input)
        XCTAssertEqual(checked.exitCode, .success)
        XCTAssertTrue(checked.stderr.contains("spec.gateways[0]: gateway \"shop/shop-gateway\" is not defined in the files validated"), checked.stderr)
        XCTAssertTrue(checked.stderr.contains("subset \"v2\" of host \"cart\" is not defined by a DestinationRule"), checked.stderr)
    }

    func testExamplesValidate() throws {
        let examples = TestPaths.packageRoot.appendingPathComponent("examples/shop").path
        let out = BufferOutput(), err = BufferOutput()
        let code = MeshCLI.run(["validate", "-x", "-f", examples], environment: CommandEnvironment(stdout: out, stderr: err, workingDirectory: "/"))
        XCTAssertEqual(code, .success, err.text)
        XCTAssertFalse(err.text.contains("warning"), err.text)
    }
}
