import Foundation
import Manifests
import XCTest
@testable import MeshCLIKit

final class CommandTests: XCTestCase {
    func testVersionFormats() throws {
        let text = runMeshctl(["version", "--remote=false"])
        XCTAssertEqual(text.exitCode, .success)
        XCTAssertTrue(text.stdout.hasPrefix("client version: \(VersionCommand.clientVersion) (commit "), text.stdout)

        XCTAssertEqual(runMeshctl(["version", "--short"]).stdout, VersionCommand.clientVersion + "\n")

        let json = runMeshctl(["version", "-o", "json", "--remote=false"])
        let parsed = try YAMLParser.parse(json.stdout)[0].root
        XCTAssertEqual(parsed["clientVersion"]?["version"]?.string, VersionCommand.clientVersion)
        XCTAssertNotNil(parsed["clientVersion"]?["libyaml"]?.string)

        let yaml = runMeshctl(["version", "-o", "yaml", "--remote=false"])
        XCTAssertEqual(try YAMLParser.parse(yaml.stdout)[0].root, parsed)

        let both = runMeshctl(["version", "--short", "-o", "json"])
        XCTAssertEqual(both.exitCode, .usage)
        XCTAssertEqual(runMeshctl(["version", "-o", "table"]).exitCode, .usage)
    }

    /// apply's created/configured/unchanged comes from the content, since a dry run on kube-apiserver keeps the version.
    func testApplyTellsChangesByContent() throws {
        let before = try JSONValue.parse(#"{"metadata":{"name":"a","resourceVersion":"5","generation":1},"data":{"k":"v"}}"#)
        let sameDryRun = try JSONValue.parse(#"{"metadata":{"name":"a","resourceVersion":"5","generation":1},"data":{"k":"v"}}"#)
        let changedDryRun = try JSONValue.parse(#"{"metadata":{"name":"a","resourceVersion":"5","generation":2},"data":{"k":"w"}}"#)
        let rewritten = try JSONValue.parse(#"{"metadata":{"name":"a","resourceVersion":"9","managedFields":[]},"data":{"k":"v"}}"#)
        XCTAssertFalse(ApplyCommand.changed(before, sameDryRun))
        XCTAssertTrue(ApplyCommand.changed(before, changedDryRun))
        XCTAssertFalse(ApplyCommand.changed(before, rewritten))
    }

    func testPodNamesAndLogLevelsThatWouldTrapAreUsageErrors() throws {
        XCTAssertThrowsError(try DescribeCommand.nameAndNamespace("cart.", defaultNamespace: "shop"))
        XCTAssertThrowsError(try DescribeCommand.nameAndNamespace(".", defaultNamespace: "shop"))
        XCTAssertEqual(try DescribeCommand.nameAndNamespace("cart.pay", defaultNamespace: "shop").namespace, "pay")
        XCTAssertEqual(try DescribeCommand.nameAndNamespace("cart", defaultNamespace: "shop").namespace, "shop")
    }

    func testHelpShowsUsageFlagsAndExamples() {
        let help = runMeshctl(["kube-inject", "--help"])
        XCTAssertEqual(help.exitCode, .success)
        for part in ["Usage:\n  meshctl kube-inject [flags]", "Aliases:\n  kube-inject, ki", "Examples:\n  # ",
                     "-f, --filename FILE", "--injectConfigMapName string", "(default \"istio-sidecar-injector\")",
                     "Global Flags:", "-i, --istioNamespace string", "--kubeconfig FILE"] {
            XCTAssertTrue(help.stdout.contains(part), "help lacks \(part):\n\(help.stdout)")
        }
        XCTAssertEqual(runMeshctl(["help", "kube-inject"]).stdout, help.stdout)
        XCTAssertEqual(runMeshctl(["ki", "-h"]).stdout, help.stdout)
        XCTAssertTrue(runMeshctl([]).stdout.contains("Available Commands:"))
        XCTAssertEqual(runMeshctl(["help", "nope"]).exitCode, .usage)
    }

    func testUsageErrorsExit64WithASuggestion() {
        let typo = runMeshctl(["kube-inject", "--namespce", "x"])
        XCTAssertEqual(typo.exitCode, .usage)
        XCTAssertEqual(typo.stderr, "error: unknown flag: --namespce\nDid you mean '--namespace'?\nSee 'meshctl kube-inject --help'.\n")
        XCTAssertEqual(typo.stdout, "")

        let unknown = runMeshctl(["no-such"])
        XCTAssertEqual(unknown.exitCode, .usage)
        XCTAssertEqual(unknown.stderr, "error: unknown command \"no-such\" for \"meshctl\"\nSee 'meshctl --help'.\n")

        XCTAssertTrue(runMeshctl(["verison"]).stderr.contains("Did you mean 'version'?"))
        let afterDashes = runMeshctl(["--", "version"])
        XCTAssertEqual(afterDashes.exitCode, .usage)
        XCTAssertFalse(afterDashes.stderr.contains("Did you mean 'version'?"), afterDashes.stderr)
        XCTAssertTrue(afterDashes.stderr.contains("\"version\" comes after --"), afterDashes.stderr)
        for assignment in ["=", "=x", "a..b=1", ".a=1"] {
            let set = runMeshctl(["kube-inject", "--set", assignment, "-f", "-"])
            XCTAssertEqual(set.exitCode, .usage, assignment)
            XCTAssertTrue(set.stderr.hasPrefix("error: invalid --set \"\(assignment)\""), set.stderr)
        }
        XCTAssertEqual(runMeshctl(["completion"]).exitCode, .usage)
        XCTAssertEqual(runMeshctl(["completion", "tcsh"]).exitCode, .usage)
    }

    func testErrorReporterMapsErrorsToExitCodes() {
        let yaml = YAMLError(.undefinedAlias("x"), file: "a.yaml", location: SourceLocation(line: 2, column: 3))
        XCTAssertEqual(ErrorReporter.exitCode(for: yaml), .dataError)
        XCTAssertEqual(ErrorReporter.message(for: yaml), "a.yaml:2:3: alias *x refers to no anchor &x defined before it")
        XCTAssertEqual(ErrorReporter.exitCode(for: InputDataError("bad")), .dataError)
        XCTAssertEqual(ErrorReporter.exitCode(for: CocoaError(.fileNoSuchFile)), .failure)
    }
}

/// The built executable, run as a user would run it.
final class ExecutableTests: XCTestCase {
    func testExitCodesOfTheRealBinary() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            return XCTFail("meshctl was not built at \(binary.path); run `swift build` first")
        }
        let version = try runProcess(binary, ["version", "--remote=false"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.stdout.hasPrefix("client version: "))

        let typo = try runProcess(binary, ["kube-inject", "--namespce", "x"])
        XCTAssertEqual(typo.status, 64)
        XCTAssertTrue(typo.stderr.contains("Did you mean '--namespace'?"))

        XCTAssertEqual(try runProcess(binary, ["no-such"]).status, 64)
        XCTAssertEqual(try runProcess(binary, ["kube-inject", "-f", "x.yaml"]).status, 1)
    }
}

/// `x diagnose`: the --log explanation, bad input, and the capture form's exit code and formats.
final class DiagnoseCommandTests: XCTestCase {
    static let line = #"[2026-11-30T19:44:41.759Z] "GET /v1/stock/reserve HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 0 81 0 - "-" "checkout/1.9 okhttp/4.12.0" "38529b0f" "inventory:7070" "-" outbound|7070||inventory.shop.svc.cluster.local - 127.0.0.1:21131 127.0.0.1:37524 - default"#

    func testLogExplainsFieldsFlagsAndDetails() throws {
        let run = runMeshctl(["x", "diagnose", "--log", Self.line])
        XCTAssertEqual(run.exitCode, .success, run.stderr)
        for text in ["response flags", "UO (UpstreamOverflow)", "connectionPool", "reset reason overflow", "outbound to inventory.shop.svc.cluster.local port 7070",
                     "upstream cluster", "the caller's sidecar (outbound)"] {
            XCTAssertTrue(run.stdout.contains(text), "missing \(text):\n\(run.stdout)")
        }
        let json = runMeshctl(["x", "diagnose", "--log", Self.line, "-o", "json"])
        let parsed = try JSONValue.parse(json.stdout)
        XCTAssertEqual(parsed["flags"]?.array?.first?["name"]?.string, "UpstreamOverflow")
        XCTAssertEqual(parsed["fields"]?.array?.count, 22)
    }

    /// Every flag of Envoy's list is explained with both names.
    func testEveryDocumentedFlagIsExplained() {
        let codes = ["UH", "UF", "UO", "NR", "URX", "NC", "DT", "DC", "LH", "UT", "LR", "UR", "UC", "DI", "FI", "RL", "UAEX", "RLSE", "IH", "SI",
                     "DPE", "UPE", "UMSDR", "RFCF", "NFCF", "OM", "DF", "DO", "DR", "UDO"]
        let line = Self.line.replacingOccurrences(of: " 503 UO ", with: " 503 \(codes.joined(separator: ",")) ")
        let run = runMeshctl(["x", "diagnose", "--log", line])
        XCTAssertEqual(run.exitCode, .success, run.stderr)
        XCTAssertFalse(run.stdout.contains("not a flag of Envoy's documented list"), run.stdout)
        for code in codes { XCTAssertTrue(run.stdout.contains("  \(code) ("), "no explanation for \(code)") }
        for details in ["route_not_found", "response_timeout", "rbac_access_denied_matched_policy[none]", "fault_filter_abort", "via_upstream",
                        "cluster_not_found", "no_healthy_upstream", "local_rate_limited", "filter_chain_not_found", "direct_response"] {
            let explained = runMeshctl(["x", "diagnose", "--log", Self.line.replacingOccurrences(of: "upstream_reset_before_response_started{overflow}", with: details)])
            XCTAssertFalse(explained.stdout.contains("a detail meshctl does not know"), "\(details):\n\(explained.stdout)")
        }
    }

    func testBadInputExits65WithWhatIsWrong() {
        let run = runMeshctl(["x", "diagnose", "--log", "GET / 503"])
        XCTAssertEqual(run.exitCode, .dataError)
        XCTAssertTrue(run.stderr.contains("found 3 fields") && run.stderr.contains("has 22"), run.stderr)
        XCTAssertEqual(runMeshctl(["x", "diagnose"]).exitCode, .usage)
        XCTAssertEqual(runMeshctl(["x", "diagnose", "--log", Self.line, "--capture", "/tmp"]).exitCode, .usage)
        XCTAssertEqual(runMeshctl(["x", "diagnose", "--capture", "/nonexistent/capture"]).exitCode, .failure)
    }

    func testCaptureWithAMalformedFileExits65() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-diagnose-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("{\"configs\": [".utf8).write(to: folder.appendingPathComponent("config_dump.json"))
        let run = runMeshctl(["x", "diagnose", "--capture", folder.path])
        XCTAssertEqual(run.exitCode, .dataError, run.stderr)
        XCTAssertTrue(run.stderr.contains("config_dump.json:1:"), run.stderr)

        try FileManager.default.removeItem(at: folder.appendingPathComponent("config_dump.json"))
        try Data((Self.line + "\n").utf8).write(to: folder.appendingPathComponent("access.log"))
        let partial = runMeshctl(["x", "diagnose", "--capture", folder.path, "-o", "yaml"])
        XCTAssertEqual(partial.exitCode, .success, partial.stderr)
        XCTAssertTrue(partial.stdout.contains("id: circuit-breaker"), partial.stdout)
        XCTAssertTrue(partial.stdout.contains("config_dump.json: missing"), partial.stdout)
    }
}
