import Foundation
import Manifests
import MeshCLIKit

/// istioctl validate's command cases, run through `meshctl validate` with the temporary files and
/// folders the corpus describes. A case Istio fails must fail for the same kind of reason, told by its
/// exit code (expectedFailure).
struct ValidateCommandCases {
    let root: URL

    /// Failures by case id ("command/<name>"); a failing case with the wrong exit code is also a wrong reason.
    func run() throws -> ValidateCorpus.Outcome {
        let indexURL = root.appendingPathComponent("index.json")
        guard let index = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: indexURL.path])
        }
        let commands = (index["istioctlValidate"] as? [String: Any])?["commandCases"] as? [String: Any] ?? [:]
        let argFiles = commands["argFiles"] as? [String: Any] ?? [:]
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        /// The text a corpus constant stands for (`validVirtualServiceYAML` → its file).
        func constant(_ name: String) throws -> String {
            for ext in ["yaml", "json"] {
                let url = root.appendingPathComponent("istioctl-validate/\(name).\(ext)")
                if FileManager.default.fileExists(atPath: url.path) { return try String(contentsOf: url, encoding: .utf8) }
            }
            throw CocoaError(.fileNoSuchFile)
        }
        func content(_ spec: Any) throws -> String {
            if let files = spec as? [String] {
                return try files.map { try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8) }.joined()
            }
            if let object = spec as? [String: Any] {
                if let names = object["multiDoc"] as? [String] {
                    return try names.map { try constant($0).trimmingCharacters(in: CharacterSet(charactersIn: " \t\n")) + "\n---\n" }.joined()
                }
                if let file = object["file"] as? String { return try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) }
            }
            throw CocoaError(.fileReadUnknown)
        }
        var paths: [String: String] = [:]
        func materialize(_ name: String) throws -> String {
            if let path = paths[name] { return path }
            guard let spec = argFiles[name] else {
                // A name the corpus leaves to a constant, or a missing file on purpose.
                let url = scratch.appendingPathComponent(name + ".yaml")
                try constant(name).write(to: url, atomically: true, encoding: .utf8)
                paths[name] = url.path
                return url.path
            }
            if let object = spec as? [String: Any], let directory = object["directory"] as? [String: String] {
                let folder = scratch.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for (file, source) in directory {
                    let text = try argFiles[source].map(content) ?? constant(source)
                    try text.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8)
                }
                paths[name] = folder.path
                return folder.path
            }
            let url = scratch.appendingPathComponent(name + ".yaml")
            try content(spec).write(to: url, atomically: true, encoding: .utf8)
            paths[name] = url.path
            return url.path
        }

        var outcome = ValidateCorpus.Outcome()
        for item in commands["cases"] as? [[String: Any]] ?? [] {
            let id = "command/\(item["name"] ?? "?")"
            do {
                let arguments = try (item["args"] as? [String] ?? []).map { $0.hasPrefix("$") ? try materialize(String($0.dropFirst())) : $0 }
                let out = Buffer(), err = Buffer()
                let environment = CommandEnvironment(stdout: out, stderr: err, variables: [:], workingDirectory: scratch.path)
                let code = MeshCLI.run(arguments, environment: environment)
                let output = out.text + err.text
                let wantError = item["wantError"] as? Bool ?? false
                let expected = Self.expectedFailure(item["args"] as? [String] ?? [])
                if wantError != (code != .success) {
                    outcome.failures[id] = "exit \(code.rawValue), Istio \(wantError ? "fails" : "succeeds"): \(output.prefix(200))"
                } else if wantError && code != expected.code {
                    outcome.failures[id] = "right verdict, wrong reason: exit \(code.rawValue), expected \(expected.code.rawValue) "
                        + "(\(expected.why)): \(output.prefix(200))"
                    outcome.wrongReason.insert(id)
                } else if let pattern = item["expectedRegexp"] as? String,
                          output.range(of: pattern, options: .regularExpression) == nil {
                    outcome.failures[id] = "output does not match /\(pattern.prefix(80))/: \(output.prefix(200))"
                }
            } catch {
                outcome.failures[id] = "error: \(error)"
            }
        }
        return outcome
    }

    /// The exit code a failing case must have, read from its arguments: no file or an extra argument is a
    /// usage error (64), a file that does not exist a plain failure (1), anything else bad input data (65).
    static func expectedFailure(_ arguments: [String]) -> (code: ExitCode, why: String) {
        var files: [String] = [], extra: [String] = []
        var rest = arguments.dropFirst()[...]
        while let argument = rest.popFirst() {
            if argument == "--filename" || argument == "-f", let file = rest.popFirst() { files.append(file) } else { extra.append(argument) }
        }
        if files.isEmpty || !extra.isEmpty { return (.usage, "a usage error") }
        if files.contains(where: { !$0.hasPrefix("$") }) { return (.failure, "a file that does not exist") }
        return (.dataError, "invalid input data")
    }

    private final class Buffer: TextOutput {
        var text = ""
        var isTerminal: Bool { false }
        func write(_ text: String) { self.text += text }
    }
}
