import Foundation
import XCTest
@testable import MeshCLIKit

final class KubeInjectCommandTests: XCTestCase {
    private var corpus: URL {
        if let override = ProcessInfo.processInfo.environment["MESHCTL_CONFORMANCE_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override).appendingPathComponent("kube-inject")
        }
        return TestPaths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/istio/kube-inject")
    }

    private func run(_ arguments: [String], in directory: URL, stdin: String = "", variables: [String: String] = [:]) -> CLIRun {
        let out = BufferOutput(), err = BufferOutput()
        let environment = CommandEnvironment(stdout: out, stderr: err, readStandardInput: { Array(stdin.utf8) },
                                             variables: variables, workingDirectory: directory.path)
        let code = MeshCLI.run(["kube-inject"] + arguments, environment: environment)
        return CLIRun(exitCode: code, stdout: out.text, stderr: err.text)
    }

    /// istioctl's own kube-inject CLI cases, run through meshctl's command.
    func testIstioctlCLICases() throws {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: corpus.appendingPathComponent("cases.json"))) as? [String: Any]
        let cases = (index?["istioctlKubeInjectCli"] as? [String: Any])?["cases"] as? [[String: Any]] ?? []
        XCTAssertEqual(cases.count, 8)
        let folder = corpus.appendingPathComponent("istioctl-cli")
        var passed = 0
        for item in cases {
            let arguments = item["args"] as? [String] ?? []
            let result = run(arguments, in: folder)
            let combined = (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            var ok: Bool
            if item["wantError"] as? Bool == true {
                ok = result.exitCode != .success
                if let pattern = item["expectedRegexp"] as? String {
                    ok = ok && combined.range(of: pattern, options: .regularExpression) != nil
                }
            } else {
                let golden = try String(contentsOf: folder.appendingPathComponent(item["golden"] as? String ?? ""), encoding: .utf8)
                ok = result.exitCode == .success && combined == golden.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if ok { passed += 1 } else { XCTFail("istioctl CLI case \(item["index"] ?? "?") \(arguments): exit \(result.exitCode), \(combined.prefix(300))") }
        }
        print("kube-inject (istioctl CLI cases): \(passed)/\(cases.count)")
    }

    func testDirectoryStdinAndAtomicOutputFile() throws {
        let folder = corpus.appendingPathComponent("istioctl-cli")
        let config = ["--injectConfigFile", "inject-config.yaml", "--valuesFile", "inject-values.yaml", "--meshConfigFile", "mesh-config.yaml"]
        let single = run(config + ["-f", "deployment/hello.yaml"], in: folder)
        XCTAssertEqual(single.exitCode, .success, single.stderr)

        let input = try String(contentsOf: folder.appendingPathComponent("deployment/hello.yaml"), encoding: .utf8)
        let piped = run(config + ["-f", "-"], in: folder, stdin: input)
        XCTAssertEqual(piped.stdout, single.stdout)

        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-ki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temporary) }
        try input.write(to: temporary.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n".write(to: temporary.appendingPathComponent("b.yml"), atomically: true, encoding: .utf8)
        try "not a manifest".write(to: temporary.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let absolute = config.enumerated().map { $0.offset % 2 == 1 ? folder.appendingPathComponent($0.element).path : $0.element }
        let out = temporary.appendingPathComponent("out.yaml")
        let directory = run(absolute + ["-f", temporary.path, "-o", out.path], in: temporary)
        XCTAssertEqual(directory.exitCode, .success, directory.stderr)
        XCTAssertEqual(directory.stdout, "")
        let written = try String(contentsOf: out, encoding: .utf8)
        XCTAssertEqual(written, single.stdout + "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: temporary.path).filter { $0.contains("meshctl-") }
        XCTAssertEqual(leftovers, [], "no temporary files left behind")
    }

    func testBadInputExitCodes() throws {
        let folder = corpus.appendingPathComponent("istioctl-cli")
        let config = ["--injectConfigFile", "inject-config.yaml", "--valuesFile", "inject-values.yaml"]
        let broken = run(config + ["-f", "-"], in: folder, stdin: "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n")
        XCTAssertEqual(broken.exitCode, .dataError)
        XCTAssertTrue(broken.stderr.hasPrefix("error: <stdin>:4:1: YAML syntax error:"), broken.stderr)
        XCTAssertTrue(broken.stderr.contains("line 3, column 11"), broken.stderr)

        let badTemplate = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-bad-template-\(UUID().uuidString).yaml")
        try "spec:\n  containers:\n  - name: {{ .Nope | nosuch }}\n".write(to: badTemplate, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: badTemplate) }
        let template = run(["--injectConfigFile", badTemplate.path, "-f", "deployment/hello.yaml"], in: folder)
        XCTAssertEqual(template.exitCode, .dataError)
        XCTAssertTrue(template.stderr.contains("sidecar:3"), template.stderr)


        let missing = run(config + ["-f", "nope.yaml"], in: folder)
        XCTAssertEqual(missing.exitCode, .failure)
        XCTAssertEqual(missing.stderr, "error: cannot open nope.yaml: no such file or directory\n")

        let badAnnotation = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    traffic.sidecar.istio.io/includeInboundPorts: bad\nspec:\n  containers:\n  - name: a\n    image: a\n"
        let annotation = run(config + ["-f", "-"], in: folder, stdin: badAnnotation)
        XCTAssertEqual(annotation.exitCode, .dataError)
        XCTAssertTrue(annotation.stderr.hasPrefix("error: <stdin>:6:51: metadata.annotations[\"traffic.sidecar.istio.io/includeInboundPorts\"]: "), annotation.stderr)
        XCTAssertTrue(annotation.stderr.contains("global.proxy.includeInboundPorts"), annotation.stderr)

        XCTAssertEqual(run(config + ["-f", "x", "--set", "novalue"], in: folder).exitCode, .usage)
        // The ConfigMap flags read a cluster; with none configured the error says how to get one.
        let clusterOnly = run(["-f", "deployment/hello.yaml", "--injectConfigMapName", "custom"], in: folder)
        XCTAssertEqual(clusterOnly.exitCode, .failure)
        XCTAssertTrue(clusterOnly.stderr.contains("no kubeconfig") && clusterOnly.stderr.contains("meshctl local up"), clusterOnly.stderr)
        XCTAssertEqual(run(config + ["-f", "deployment/hello.yaml", "--injectConfigMapName", "custom"], in: folder).exitCode, .usage,
                       "files and ConfigMaps together")
    }

    func testSkippedWorkloadsAreReportedOnStderr() throws {
        let folder = corpus.appendingPathComponent("istioctl-cli")
        let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    sidecar.istio.io/inject: \"false\"\nspec:\n  containers:\n  - name: a\n    image: a\n"
        let result = run(["--injectConfigFile", "inject-config.yaml", "--valuesFile", "inject-values.yaml", "-f", "-"], in: folder, stdin: pod)
        XCTAssertEqual(result.exitCode, .success)
        XCTAssertTrue(result.stderr.contains("Skipping injection because Pod \"p\" has sidecar injection disabled"), result.stderr)
        XCTAssertFalse(result.stdout.contains("istio-proxy"))
    }

    /// With no configuration flags, meshctl's built-in defaults give Istio's own output.
    func testBuiltinDefaultsMatchIstiosGolden() throws {
        let folder = corpus.appendingPathComponent("inject")
        let result = run(["-f", "hello.yaml", "--set", "values.global.hub=registry.istio.io/testing", "--set", "global.tag=latest"],
                         in: folder, variables: ["ENABLE_NATIVE_SIDECARS": "true"])
        XCTAssertEqual(result.exitCode, .success, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("meshctl: no --injectConfigFile given; using built-in Istio defaults"), result.stderr)
        let golden = try String(contentsOf: folder.appendingPathComponent("hello.yaml.injected"), encoding: .utf8)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), golden.trimmingCharacters(in: .whitespacesAndNewlines))

        let plain = run(["-f", "hello.yaml"], in: folder)
        XCTAssertTrue(plain.stdout.contains("image: docker.io/istio/proxyv2:1.32.0"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains("      containers:"), "without native sidecars the proxy is a regular container")
    }
}
