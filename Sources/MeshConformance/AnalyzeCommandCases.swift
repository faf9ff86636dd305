import Foundation
import KubeClient
import Manifests
import MeshCLIKit
import MeshControlPlane

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
        let suppress = ["--suppress=IST0139=*", "--suppress=IST0002=CustomResourceDefinition *"]
        // The cases that need a cluster run against meshctl's local control plane, a fresh one for each.
        for (index, item) in (integration["cases"] as? [[String: Any]] ?? []).enumerated() {
            var cluster: LocalCluster?
            defer { cluster?.stop() }
            let id = "cli/\(item["name"] ?? "?")"
            let files = item["files"] as? [String] ?? []
            guard item["useKube"] as? Bool == true else {
                let result = Self.meshctl(["--use-kube=false"] + suppress + (item["extraArgs"] as? [String] ?? []) + files, in: directory)
                if let problem = Self.check(item, result, files: files) { failures[id] = problem }
                continue
            }
            do {
                if cluster == nil { cluster = try LocalCluster() }
                let namespace = "analyze-\(index)"
                var namespaces: [String] = []
                for entry in item["applyToCluster"] as? [String] ?? [] {
                    // "file" into the case's namespace, or "file -> ns1" into a namespace of its own.
                    let parts = entry.components(separatedBy: " -> ")
                    let target = parts.count == 2 ? "\(namespace)-\(parts[1])" : namespace
                    if !namespaces.contains(target) { namespaces.append(target) }
                    try cluster!.createNamespace(target)
                    let applied = Self.meshctl(["apply", "-n", target, "-f", parts[0]], in: directory, variables: cluster!.variables, command: [])
                    guard applied.code == .success else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: applied.output]) }
                }
                if namespaces.isEmpty { try cluster!.createNamespace(namespace); namespaces = [namespace] }
                if let perNamespace = item["expectedCodesPerNamespace"] as? [String] {
                    // One namespace shows its own messages; -A shows every namespace's.
                    let one = Self.meshctl(["--namespace", namespaces[0]] + suppress, in: directory, variables: cluster!.variables)
                    let all = Self.meshctl(["-A"] + suppress, in: directory, variables: cluster!.variables)
                    let oneCodes = one.output.split(separator: "\n").filter { $0.contains("[IST") && $0.contains(namespaces[0]) }
                    let allLines = all.output.split(separator: "\n").filter { line in line.contains("[IST") && namespaces.contains { line.contains($0 + "/") } }
                    if oneCodes.map({ line in perNamespace.first { line.contains($0) } ?? "?" }).sorted() != perNamespace.sorted()
                        || allLines.count != perNamespace.count * namespaces.count + namespaces.count * (perNamespace.filter { $0 == "IST0145" }.count) {
                        failures[id] = "one namespace: \(oneCodes); all: \(allLines.count) lines"
                    }
                    continue
                }
                let result = Self.meshctl(["--namespace", namespaces[0]] + suppress + (item["extraArgs"] as? [String] ?? []) + files,
                                          in: directory, variables: cluster!.variables)
                if let problem = Self.check(item, result, files: files) { failures[id] = problem }
            } catch {
                failures[id] = "the local control plane: \(error)"
            }
        }
        return failures
    }

    /// meshctl's local control plane in a temporary directory, with a kubeconfig pointing at it.
    final class LocalCluster {
        let plane: LocalControlPlane
        let directory: URL
        let variables: [String: String]

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-analyze-\(UUID().uuidString)")
            plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0)
            try plane.start()
            let kubeconfig = directory.appendingPathComponent("config")
            try plane.kubeconfig(name: "local").write(to: kubeconfig, atomically: true, encoding: .utf8)
            variables = ["KUBECONFIG": kubeconfig.path, "HOME": directory.path]
        }

        /// An injection-enabled namespace, as Istio's integration tests create theirs.
        func createNamespace(_ name: String) throws {
            let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: variables)))
            if (try? client.get("/api/v1/namespaces/\(name)")) != nil { return }
            try client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string(name)),
                                                                                               ("labels", .object([("istio-injection", .string("enabled"))]))]))]))
        }

        func stop() {
            plane.stop()
            try? FileManager.default.removeItem(at: directory)
        }
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
        for expected in item["outputContains"] as? [String] ?? [] {
            if let location = FileLocation(expected) {
                // A place (`gateway.yaml:9`) is checked exactly: that file and that line, not line 90.
                guard location.isNamed(in: result.output) else { return "the output should point at \(expected): \(summary)" }
            } else if !files.allSatisfy({ result.output.contains($0) }) {
                return "the output should name the unreadable file: \(summary)"
            }
        }
        if let length = item["stdoutJsonArrayLength"] as? Int {
            let array = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any]
            if array?.count != length { return "stdout should be a JSON array of \(length): \(result.stdout.prefix(200))" }
        }
        return nil
    }

    /// `file.yaml:9` in an expectation: a message about that file must point at that line.
    struct FileLocation {
        var file: String
        var line: Int

        init?(_ text: String) {
            guard let colon = text.lastIndex(of: ":"), let line = Int(text[text.index(after: colon)...]),
                  [".yaml", ".yml", ".json"].contains(where: { text[..<colon].hasSuffix($0) }) else { return nil }
            self.file = String(text[..<colon])
            self.line = line
        }

        /// Whether some `<path ending in file>:<line>` of the output is this place (the line number whole).
        func isNamed(in output: String) -> Bool {
            let pattern = NSRegularExpression.escapedPattern(for: file) + ":([0-9]+)"
            guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
            let range = NSRange(output.startIndex..., in: output)
            return regex.matches(in: output, range: range).contains { match in
                Range(match.range(at: 1), in: output).map { Int(output[$0]) == line } ?? false
            }
        }
    }

    static func meshctl(_ arguments: [String], in directory: URL, variables: [String: String] = [:],
                                command: [String] = ["analyze"]) -> (code: ExitCode, stdout: String, output: String) {
        // Both streams also go to one buffer in the order written, as istioctl's test merges them.
        let merged = Buffer(), out = Buffer(also: merged), err = Buffer(also: merged)
        let environment = CommandEnvironment(stdout: out, stderr: err, variables: variables, workingDirectory: directory.path)
        let code = MeshCLI.run(command + arguments, environment: environment)
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
