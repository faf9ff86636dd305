import Foundation
import MeshCLIKit

/// istioctl analyze's command cases (its unit tests and the file-only half of its integration tests), run through
/// `meshctl analyze` in `analyze/istioctl-cli`. Cases that need a cluster fail with that reason until the
/// Kubernetes client exists.
struct AnalyzeCommandCases {
    let root: URL

    /// Case id ("cli/<name>") → failure reason.
    func run() throws -> [String: String] {
        let expectations = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("expectations.json"))) as? [String: Any]
        let cli = expectations?["istioctlCli"] as? [String: Any] ?? [:]
        let directory = root.appendingPathComponent("istioctl-cli")
        var failures: [String: String] = [:]

        for item in cli["unitCases"] as? [[String: Any]] ?? [] {
            let id = "cli/\(item["name"] ?? "?")"
            let result = Self.meshctl(Array((item["args"] as? [String] ?? []).drop { $0 == "analyze" }), in: directory)
            let wantError = item["wantError"] as? Bool ?? false
            if wantError != (result.code != .success) {
                failures[id] = "exit \(result.code.rawValue), istioctl \(wantError ? "fails" : "succeeds"): \(result.output.prefix(300))"
            }
        }

        let integration = cli["integrationCases"] as? [String: Any] ?? [:]
        let common = ["--use-kube=false", "--suppress=IST0139=*", "--suppress=IST0002=CustomResourceDefinition *"]
        for item in integration["cases"] as? [[String: Any]] ?? [] {
            let id = "cli/\(item["name"] ?? "?")"
            if item["requiresCluster"] as? Bool == true {
                failures[id] = "needs a cluster to apply resources to and read from: reading the cluster comes with the Kubernetes client (issue 7)"
                continue
            }
            let files = item["files"] as? [String] ?? []
            let result = Self.meshctl(common + (item["extraArgs"] as? [String] ?? []) + files, in: directory)
            if let problem = Self.check(item, result, files: files) { failures[id] = problem }
        }
        return failures
    }

    /// What differs from the case's expectations; nil when nothing does. istioctl's wording of its notes and
    /// errors is its own, so those are checked for meaning (the file is named, the exit code matches), not text.
    private static func check(_ item: [String: Any], _ result: (code: ExitCode, stdout: String, output: String), files: [String]) -> String? {
        let expectedExit: ExitCode
        switch item["error"] as? String {
        case "AnalyzerFoundIssuesError": expectedExit = .analyzeIssues
        case "FileParseError": expectedExit = .dataError
        default: expectedExit = .success
        }
        let summary = result.output.prefix(400)
        guard result.code == expectedExit else { return "exit \(result.code.rawValue), istioctl's is \(expectedExit.rawValue): \(summary)" }
        let lines = result.output.split(separator: "\n").map(String.init)
        let messageLines = lines.filter { $0.contains("[IST") }
        if let codes = item["expectedCodes"] as? [String], !codes.isEmpty {
            let found = messageLines.map { line in codes.first { line.contains($0) } ?? line }
            if found != codes { return "messages \(messageLines), istioctl's are \(codes)" }
        }
        if item["expectNoMessages"] as? Bool == true {
            guard messageLines.isEmpty, lines.filter({ $0.contains("No validation issues found when analyzing") }).count == 1 else {
                return "expected only the no-issues line: \(summary)"
            }
        }
        if item["outputLine0Contains"] != nil {
            guard let first = lines.first, first.lowercased().contains("skipping"), files.allSatisfy({ first.contains($0) }) else {
                return "the first line should say the file is skipped: \(summary)"
            }
        }
        if item["outputContains"] != nil, !files.allSatisfy({ result.output.contains($0) }) {
            return "the output should name the unreadable file: \(summary)"
        }
        if let length = item["stdoutJsonArrayLength"] as? Int {
            let array = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any]
            if array?.count != length { return "stdout should be a JSON array of \(length): \(result.stdout.prefix(200))" }
        }
        return nil
    }

    private static func meshctl(_ arguments: [String], in directory: URL) -> (code: ExitCode, stdout: String, output: String) {
        // Both streams also go to one buffer in the order written, as istioctl's test merges them.
        let merged = Buffer(), out = Buffer(also: merged), err = Buffer(also: merged)
        let environment = CommandEnvironment(stdout: out, stderr: err, variables: [:], workingDirectory: directory.path)
        let code = MeshCLI.run(["analyze"] + arguments, environment: environment)
        return (code, out.text, merged.text)
    }

    private final class Buffer: TextOutput {
        var text = ""
        let also: Buffer?
        init(also: Buffer? = nil) { self.also = also }
        var isTerminal: Bool { false }
        func write(_ text: String) {
            self.text += text
            also?.write(text)
        }
    }
}
