import ConfigValues
import Foundation
import MeshTestSupport
import XCTest
@testable import MeshCLIKit

/// `meshctl local demo`: its flags, its manifests (the file in examples/ is the embedded one, valid, and it rolls out
/// through the real kubectl), and the whole demo, which runs once injected pods' sidecars do.
final class LocalDemoCommandTests: XCTestCase {
    private static let examplesFile = TestPaths.packageRoot.appendingPathComponent("examples/mesh-demo.yaml")

    func testTooFewRequestsOrAnUnknownFormatIsAUsageError() {
        let few = runMeshctl(["local", "demo", "--requests", "5"])
        XCTAssertEqual(few.exitCode, .usage)
        XCTAssertTrue(few.stderr.contains("--requests 5: give from 20 to 100000 requests per step"), few.stderr)
        XCTAssertEqual(runMeshctl(["local", "demo", "-o", "yaml"]).exitCode, .usage)
    }

    func testTheExamplesFileIsTheShopTheDemoApplies() throws {
        let printed = runMeshctl(["local", "demo", "--manifests"])
        XCTAssertEqual(printed.exitCode, .success)
        let file = try String(contentsOf: Self.examplesFile, encoding: .utf8)
        XCTAssertEqual(file, printed.stdout, "examples/mesh-demo.yaml is stale: run `meshctl local demo --manifests > examples/mesh-demo.yaml`")
    }

    func testTheShopAndTheStepsRulesAreValidIstioConfiguration() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-demo-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, text) in [("canary", DemoManifests.canary), ("fault", DemoManifests.abortHalf), ("strict", DemoManifests.strictMTLS)] {
            let file = folder.appendingPathComponent("\(name).yaml")
            try (DemoManifests.shop + "---\n" + text).write(to: file, atomically: true, encoding: .utf8)
            let result = runMeshctl(["validate", "-x", "-f", file.path])
            XCTAssertEqual(result.exitCode, .success, "\(name): " + result.stdout + result.stderr)
            XCTAssertFalse((result.stdout + result.stderr).contains("warning"), "\(name): " + result.stdout + result.stderr)
        }
        let fault = try XCTUnwrap(try YAMLParser.parse(DemoManifests.abortHalf).first?.root)
        XCTAssertEqual(fault["spec"]?["http"]?[0]?["fault"]?["abort"]?["httpStatus"]?.scalarText, "503")
        XCTAssertEqual(fault["spec"]?["http"]?[0]?["route"]?[1]?["weight"]?.scalarText, "10")
    }

    /// The shop with injection turned off (so it runs on a local mode without sidecars): every Deployment rolls out
    /// through the real kubectl, the echo pods report their version label, and cart's Service reaches both versions.
    func testTheShopRollsOutThroughKubectlAndCartAnswersInBothVersions() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") else { throw XCTSkip("no kubectl at /usr/bin/kubectl on this machine") }
        let home = try LocalModeHome("demo-shop")
        defer { home.finish() }
        let up = try home.meshctl(["local", "up", "--state-dir", home.state])
        XCTAssertEqual(up.status, 0, up.stderr)
        let withoutSidecars = DemoManifests.shop.replacingOccurrences(of: "istio-injection: enabled", with: "istio-injection: disabled")
        XCTAssertNotEqual(withoutSidecars, DemoManifests.shop)
        let applied = try home.kubectl(["apply", "-f", "-"], stdin: withoutSidecars)
        XCTAssertEqual(applied.status, 0, applied.stderr)
        for line in ["namespace/shop", "deployment.apps/cart-v2", "service/cart", "destinationrule.networking.istio.io/cart", "deployment.apps/client"] {
            XCTAssertTrue(applied.stdout.contains(line), applied.stdout)
        }
        for (namespace, name) in DemoManifests.deployments {
            let rollout = try home.kubectl(["rollout", "status", "deployment/\(name)", "-n", namespace, "--timeout=90s"])
            XCTAssertEqual(rollout.status, 0, "\(namespace)/\(name): " + rollout.stdout + rollout.stderr)
        }
        var versions = Set<String>()
        let answered = try eventually(timeout: 30) {
            let call = try home.meshctl(["local", "curl", "--state-dir", home.state, "--from", "deploy/frontend", "-n", "shop", DemoManifests.cartURL])
            if call.status == 0 { versions.formUnion(call.stdout.split(separator: "\n").filter { $0.hasPrefix("version=") }.map(String.init)) }
            return versions == ["version=v1", "version=v2"]
        }
        XCTAssertTrue(answered, "cart answered from both versions: \(versions)")

        // Step 1 of the demo on these pods (no sidecars, so the Service's round robin spreads the requests): the
        // requests really go out, are counted per version, and the 50/50 expectation holds.
        let environment = CommandEnvironment(stdout: BufferOutput(), stderr: BufferOutput(), variables: home.environment,
                                             workingDirectory: "/", executablePath: binary.path)
        let mode = LocalMode(stateDirectory: home.state, environment)
        var global = GlobalOptions()
        global.context = mode.contextName
        let context = CommandContext(environment: environment, global: global)
        let run = LocalDemoRun(mode: mode, context: context, options: LocalDemoRun.Options(requests: 40))
        let cluster = DemoCluster(client: try ClusterConnection.client(context))
        // A pod can restart meanwhile (pod addresses are per control plane, and other local modes on this machine
        // may bind the same one): wait until frontend, client and both cart pods are ready again.
        var frontend: String?, client: String?
        XCTAssertTrue(eventually(timeout: 30) {
            frontend = try? cluster.readyPod(app: "frontend", namespace: "shop")
            client = try? cluster.readyPod(app: "client", namespace: "legacy")
            return frontend != nil && client != nil && (try? cluster.readyPods(app: "cart", namespace: "shop").count) == 2
        }, (try? home.kubectl(["get", "pods", "-A", "-o", "wide"]).stdout) ?? "")
        guard let frontend, let client else { return }
        var step = DemoStep(name: "traffic", title: "Traffic")
        try DemoSteps(run: run, cluster: cluster, frontend: frontend, legacyClient: client).traffic(&step)
        XCTAssertTrue(step.passed, "\(step.disagreements)")
        XCTAssertTrue(step.rule.contains("(v1: 1 pod, v2: 1 pod)"), step.rule)
        guard step.measured.count == 3 else { return XCTFail("all answered, v1 share, v2 share: \(step.measured)") }
        XCTAssertTrue(step.measured[0].hasPrefix("40 of 40 answered 2xx: v1 "), step.measured[0])
        XCTAssertTrue(step.measured[2].hasPrefix("v2 share "), step.measured[2])
    }

    /// The whole demo. It needs injected pods' sidecars to run (local mode's mesh, issue 17): until they do, the
    /// demo says so (exit 1, failure kind sidecars-not-running) and this test is skipped with that reason.
    func testTheDemoMeasuresEveryStepAsItsRuleSays() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        let home = try LocalModeHome("demo")
        defer { home.finish() }
        let started = Date()
        let demo = try home.meshctl(["local", "demo", "--state-dir", home.state, "-o", "json"])
        let seconds = Date().timeIntervalSince(started)
        let document: JSONValue
        do { document = try JSONValue.parse(demo.stdout) } catch {
            return XCTFail("the demo's -o json output is not JSON (exit \(demo.status)): \(error)\n\(demo.stdout)\n\(demo.stderr)")
        }
        XCTAssertEqual(try home.meshctl(["local", "status", "--state-dir", home.state]).stdout.hasPrefix("local control plane: down"), true,
                       "the demo stops the local mode it started")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.state), "the demo removes the state it made")
        if document["failure"]?["kind"]?.string == "sidecars-not-running" {
            XCTAssertEqual(demo.status, 1)
            XCTAssertTrue(demo.stderr.contains("demo step rollout failed: expected the shop's injected pods to run their istio-proxy sidecars"), demo.stderr)
            throw XCTSkip("the demo needs injected pods' sidecars, which local mode does not run yet: "
                          + (document["failure"]?["measured"]?.string ?? "?"))
        }
        let steps = document["steps"]?.array ?? []
        XCTAssertEqual(steps.compactMap { $0["name"]?.string }, ["traffic", "canary", "fault", "mtls", "routes"], demo.stdout)
        for step in steps {
            XCTAssertEqual(step["passed"]?.bool, true, "step \(step["name"]?.string ?? "?"): \(step["measured"]?.serialized ?? "")")
        }
        XCTAssertEqual(demo.status, 0, demo.stderr)
        XCTAssertEqual(document["passed"]?.bool, true)
        print("meshctl local demo took \(String(format: "%.1f", seconds)) s (the demo's own total: \(document["totalSeconds"]?.serialized ?? "?") s)")
        XCTAssertLessThan(seconds, 90, "the demo should take under 30 s on an idle machine")
    }
}
