import Foundation
import Manifests

/// istioctl check-inject's cases: webhook configurations plus pod and namespace labels, and per configuration
/// whether it injects and why. The verdicts (configuration, revision, injects) must be equal; the reason is
/// meshctl's own wording, so it must name every `key=value` label Istio's reason names (and say "deactivated"
/// where Istio does).
struct CheckInjectCorpus {
    let root: URL

    /// Case name → failure reason.
    func run() throws -> [String: String] {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any] ?? [:]
        let configurations = try (index["webhookFiles"] as? [String] ?? []).map { file -> YAMLNode in
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            guard let node = try YAMLParser.parse(text, file: file).first?.root else { throw CocoaError(.fileReadCorruptFile) }
            return node
        }
        var failures: [String: String] = [:]
        for item in index["cases"] as? [[String: Any]] ?? [] {
            let name = item["name"] as? String ?? "?"
            let podLabels = ((item["pod"] as? [String: Any])?["labels"] as? [String: String]) ?? [:]
            let namespaceLabels = ((item["namespace"] as? [String: Any])?["labels"] as? [String: String]) ?? [:]
            let verdicts = InjectionWebhookCheck.check(configurations: configurations, podLabels: podLabels, namespaceLabels: namespaceLabels)
            let expected = item["expected"] as? [[String: Any]] ?? []
            guard verdicts.count == expected.count else {
                failures[name] = "\(verdicts.count) verdicts, Istio has \(expected.count)"
                continue
            }
            for (verdict, want) in zip(verdicts, expected) {
                let reason = want["reason"] as? String ?? ""
                if verdict.configuration != want["name"] as? String || verdict.revision != want["revision"] as? String
                    || verdict.injects != want["injected"] as? Bool {
                    failures[name] = "\(verdict.configuration) (\(verdict.revision)) injects: \(verdict.injects); Istio: \(want["name"] ?? "") "
                        + "(\(want["revision"] ?? "")) injected: \(want["injected"] ?? "")"
                    break
                }
                let missing = Self.labels(in: reason).filter { !verdict.reason.contains($0) }
                if !missing.isEmpty || (reason.contains("deactivated") && !verdict.reason.contains("deactivated")) {
                    failures[name] = "\(verdict.configuration): reason \"\(verdict.reason)\" does not name \(missing) as Istio's \"\(reason)\" does"
                    break
                }
            }
        }
        return failures
    }

    /// `key=value` labels in a sentence.
    static func labels(in text: String) -> [String] {
        text.split(whereSeparator: { " ,()".contains($0) }).map(String.init).filter { $0.contains("=") }
    }
}
