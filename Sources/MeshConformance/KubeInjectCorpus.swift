import Foundation
import Manifests

/// Istio's kube-inject corpus: each case's settings built as the corpus README says (the rendered chart
/// values and mesh config, with the case's --set flags, IstioOperator overlay, mesh patch and feature
/// flags), its input injected, and the output compared with the golden.
public struct KubeInjectCorpus {
    public init(root: URL) { self.root = root }

    let root: URL

    struct Outcome {
        /// Case id → failure reason, for documents compared as values and as text.
        var valueFailures: [String: String] = [:]
        var textFailures: [String: String] = [:]
        var total = 0
    }

    func run(caseIDs: [String]) throws -> Outcome {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any] ?? [:]
        let cases = index["TestInjection"] as? [[String: Any]] ?? []
        var outcome = Outcome()
        outcome.total = cases.count
        for (id, item) in zip(caseIDs, cases) {
            do {
                let result = try runCase(item, nativeDefault: true)
                if let valueProblem = result.valueProblem { outcome.valueFailures[id] = valueProblem }
                if let textProblem = result.textProblem { outcome.textFailures[id] = textProblem }
            } catch {
                outcome.valueFailures[id] = "error: \(error)"
                outcome.textFailures[id] = "error: \(error)"
            }
        }
        return outcome
    }

    struct CaseResult {
        var valueProblem: String?
        var textProblem: String?
    }

    /// meshctl's output for one case of TestInjection and the golden, for a developer to compare.
    public func output(ofCase index: Int) throws -> (actual: String, golden: String) {
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any]
        guard let item = (cases?["TestInjection"] as? [[String: Any]])?.first(where: { $0["index"] as? Int == index }) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let settings = try settings(for: item, nativeDefault: true)
        let input = try String(contentsOf: root.appendingPathComponent(item["input"] as? String ?? ""), encoding: .utf8)
        let golden = try (item["golden"] as? String).map { try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8) } ?? ""
        return (try SidecarInjector(settings: settings).inject(input, file: item["input"] as? String).output, golden)
    }

    /// TestInjectionOlderVersion: the same injection for a cluster whose kubelets predate native
    /// sidecars. Returns case id → failure reason, and the number of cases.
    public func runOlderVersion() throws -> (failures: [String: String], total: Int) {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any] ?? [:]
        let cases = index["TestInjectionOlderVersion"] as? [[String: Any]] ?? []
        var failures: [String: String] = [:]
        for item in cases {
            let id = "[\(item["index"] ?? "?")] \(item["golden"] as? String ?? "?")"
            do {
                let result = try runCase(item, nativeDefault: false)
                if let problem = result.textProblem ?? result.valueProblem { failures[id] = problem }
            } catch {
                failures[id] = "error: \(error)"
            }
        }
        return (failures, cases.count)
    }

    /// The cases with default settings, run with meshctl's built-in configuration instead of the chart's,
    /// only hub and tag set to the test's values. Returns case id → failure reason, and the count.
    public func runBuiltinDefaults() throws -> (failures: [String: String], total: Int) {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any] ?? [:]
        let cases = (index["TestInjection"] as? [[String: Any]] ?? []).filter { item in
            (item["setFlags"] as? [String] ?? []).isEmpty && item["iopFile"] as? String == nil && item["meshOverride"] as? [String: Any] == nil
                && (item["env"] as? [String: String] ?? [:]).isEmpty && item["expectedError"] as? String == nil && item["golden"] as? String != nil
        }
        var values = InjectionSettings.builtinValues
        values = ValuesOverlay.applying("values.global.hub=registry.istio.io/testing", to: values) ?? values
        values = ValuesOverlay.applying("values.global.tag=latest", to: values) ?? values
        let settings = InjectionSettings.builtin(values: values, nativeSidecars: true)
        var failures: [String: String] = [:]
        for item in cases {
            let id = "[\(item["index"] ?? "?")] \(item["golden"] as? String ?? "?")"
            do {
                let input = try String(contentsOf: root.appendingPathComponent(item["input"] as? String ?? ""), encoding: .utf8)
                let golden = try String(contentsOf: root.appendingPathComponent(item["golden"] as? String ?? ""), encoding: .utf8)
                let output = try SidecarInjector(settings: settings).inject(input, file: item["input"] as? String).output
                let (actual, expected) = (Self.normalized(output), Self.normalized(golden))
                if actual != expected { failures[id] = Self.firstDifference(expected, actual) }
            } catch {
                failures[id] = "error: \(error)"
            }
        }
        return (failures, cases.count)
    }

    func runCase(_ item: [String: Any], nativeDefault: Bool) throws -> CaseResult {
        let settings = try settings(for: item, nativeDefault: nativeDefault)
        let inputPath = item["input"] as? String ?? ""
        let input = try String(contentsOf: root.appendingPathComponent(inputPath), encoding: .utf8)
        let injector = SidecarInjector(settings: settings)
        if let expected = item["expectedError"] as? String {
            do {
                _ = try injector.inject(input, file: inputPath)
                return CaseResult(valueProblem: "expected an error containing \"\(expected)\"", textProblem: "expected an error")
            } catch {
                let text = "\(error)".lowercased()
                let problem = text.contains(expected) ? nil : "error \"\(text)\" lacks \"\(expected)\""
                return CaseResult(valueProblem: problem, textProblem: problem)
            }
        }
        if item["skipKubeInject"] as? Bool == true, let goldenPath = item["golden"] as? String {
            // Istio checks these through its webhook only; kube-inject's text is not compared.
            let golden = try String(contentsOf: root.appendingPathComponent(goldenPath), encoding: .utf8)
            let problem = try webhookProblem(input: input, golden: golden, settings: settings)
            return CaseResult(valueProblem: problem, textProblem: problem)
        }
        let result = try injector.inject(input, file: inputPath)
        if let expectedLog = item["expectedLog"] as? String, !result.warnings.contains(where: { $0.contains(expectedLog) }) {
            return CaseResult(valueProblem: "no warning containing \"\(expectedLog)\"", textProblem: "no warning")
        }
        guard let goldenPath = item["golden"] as? String else { return CaseResult() }
        let golden = try String(contentsOf: root.appendingPathComponent(goldenPath), encoding: .utf8)
        let actual = Self.normalized(result.output), expected = Self.normalized(golden)
        var outcome = CaseResult()
        if actual != expected { outcome.textProblem = Self.firstDifference(expected, actual) }
        let actualDocs = try YAMLParser.parse(actual).map(\.root).filter { !$0.isNull }
        let expectedDocs = try YAMLParser.parse(expected).map(\.root).filter { !$0.isNull }
        if actualDocs != expectedDocs { outcome.valueProblem = outcome.textProblem ?? "documents differ" }
        return outcome
    }

    /// The golden comparison: the status annotation's version cleared, surrounding whitespace trimmed.
    static func normalized(_ text: String) -> String {
        var result = text
        while let range = result.range(of: #"sidecar.istio.io/status: '{"version":"[0-9a-f]+","#, options: .regularExpression) {
            result.replaceSubrange(range, with: #"sidecar.istio.io/status: '{"version":"","#)
        }
        return result.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func firstDifference(_ expected: String, _ actual: String) -> String {
        let left = expected.components(separatedBy: "\n"), right = actual.components(separatedBy: "\n")
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : "<end>", b = index < right.count ? right[index] : "<end>"
            if a != b { return "line \(index + 1): want \(a.trimmingCharacters(in: .whitespaces)) | got \(b.trimmingCharacters(in: .whitespaces))" }
        }
        return "texts differ"
    }

    // MARK: Settings

    /// The settings of a case with default settings: the chart's defaults.
    public func defaultSettings() throws -> InjectionSettings {
        try settings(for: [:], nativeDefault: true)
    }

    func settings(for item: [String: Any], nativeDefault: Bool) throws -> InjectionSettings {
        let rendered = root.appendingPathComponent("chart/rendered")
        var values = try YAMLParser.parse(String(contentsOf: rendered.appendingPathComponent("inject-values.json"), encoding: .utf8))[0].root
        values = ValuesOverlay.setting(values, ["global", "hub"], .string("registry.istio.io/testing"))
        values = ValuesOverlay.setting(values, ["global", "tag"], .string("latest"))
        var meshNode = try YAMLParser.parse(String(contentsOf: rendered.appendingPathComponent("mesh.yaml"), encoding: .utf8))[0].root
        meshNode["rootNamespace"] = .string("istio-system")

        for flag in item["setFlags"] as? [String] ?? [] {
            values = ValuesOverlay.applying(flag, to: values) ?? values
        }
        if let iop = item["iopFile"] as? String {
            let overlay = try YAMLParser.parse(String(contentsOf: root.appendingPathComponent(iop), encoding: .utf8))[0].root
            if let overlayValues = overlay["spec"]?["values"] { values = ValuesOverlay.merge(values, overlayValues) }
            if let mesh = overlay["spec"]?["meshConfig"] { meshNode = ValuesOverlay.merge(meshNode, mesh) }
        }

        var mesh = try MeshConfiguration(yaml: YAMLEmitter().emit(meshNode))
        if let override = item["meshOverride"] as? [String: Any], let patch = override["meshConfigPatch"] {
            let data = try JSONSerialization.data(withJSONObject: patch)
            let node = try YAMLParser.parse(String(decoding: data, as: UTF8.self))[0].root
            let replacing = (override["patchSemantics"] as? String)?.contains("replace") ?? false
            if let providers = node["extensionProviders"] {
                var current = mesh.node["extensionProviders"]?.items ?? []
                current += providers.items ?? []
                mesh.patch(.mapping([("extensionProviders", .sequence(current))]), replacing: true)
            } else {
                mesh.patch(node, replacing: replacing)
            }
        }

        // The injector configuration, with templates from values added as the chart adds them.
        var configNode = try YAMLParser.parse(String(contentsOf: rendered.appendingPathComponent("inject-config.yaml"), encoding: .utf8))[0].root
        // The templates as the chart's istiod-injector-configmap.yaml assembles them from files/.
        var chartTemplates = TemplateMapNode()
        for (name, file) in Self.chartTemplateFiles {
            let text = try String(contentsOf: root.appendingPathComponent("chart/files/\(file)"), encoding: .utf8)
            chartTemplates.append(name, .string(text.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"))
        }
        configNode["templates"] = chartTemplates.node
        if let extra = values["sidecarInjectorWebhook"]?["templates"]?.pairs, !extra.isEmpty {
            var templates = configNode["templates"] ?? .mapping([])
            for pair in extra { templates[pair.key.scalarText ?? ""] = pair.value }
            configNode["templates"] = templates
        }
        if let defaults = values["sidecarInjectorWebhook"]?["defaultTemplates"]?.items, !defaults.isEmpty {
            configNode["defaultTemplates"] = .sequence(defaults)
        }
        let config = try InjectorConfig(yaml: YAMLEmitter().emit(configNode))

        let env = item["env"] as? [String: String] ?? [:]
        var native = nativeDefault
        if env["ENABLE_NATIVE_SIDECARS"] == "false" { native = false }
        if env["ENABLE_NATIVE_SIDECARS"] == "true" { native = true }
        var settings = InjectionSettings(config: config, values: values, mesh: mesh, revision: "",
                                         nativeSidecars: native, compliancePolicy: env["COMPLIANCE_POLICY"] ?? "")
        if env["PLATFORM"] == "openshift" {
            settings.openShift = true
            settings.namespaceAnnotations = ["openshift.io/sa.scc.uid-range": "1000620000/10000",
                                             "openshift.io/sa.scc.supplemental-groups": "1000620000/10000"]
        }
        return settings
    }

    static let chartTemplateFiles: [(String, String)] = [
        ("sidecar", "injection-template.yaml"), ("gateway", "gateway-injection-template.yaml"),
        ("grpc-simple", "grpc-simple.yaml"), ("grpc-agent", "grpc-agent.yaml"), ("waypoint", "waypoint.yaml"),
        ("kube-gateway", "kube-gateway.yaml"), ("agentgateway", "agentgateway.yaml"),
        ("agentgateway-waypoint", "agentgateway-waypoint.yaml"),
    ]

    struct TemplateMapNode {
        var pairs: [YAMLPair] = []
        mutating func append(_ key: String, _ value: YAMLNode) { pairs.append(YAMLPair(key: .string(key), value: value)) }
        var node: YAMLNode { .mapping(pairs) }
    }
}

extension KubeInjectCorpus {
    /// The cases whose second injection differs from the first, with why: Istio's output does the same.
    public static let notIdempotentCases = [
        "[56] inject/merge-probers.yaml.injected": "the input was injected by an older Istio, with the proxy as a regular container; "
            + "the first injection re-applies that old container's settings over the new template because the status names it "
            + "under containers, the second finds it under initContainers and keeps the template as it is (Istio's golden does this)",
    ]

    /// Injects every default-settings case's output a second time: the result must not change.
    /// Returns case id → failure reason, and the count.
    public func runIdempotency() throws -> (failures: [String: String], total: Int) {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any] ?? [:]
        let cases = (index["TestInjection"] as? [[String: Any]] ?? []).filter {
            $0["expectedError"] as? String == nil && $0["golden"] as? String != nil && $0["skipKubeInject"] as? Bool != true
        }
        var failures: [String: String] = [:]
        for item in cases {
            let id = "[\(item["index"] ?? "?")] \(item["golden"] as? String ?? "?")"
            do {
                let injector = SidecarInjector(settings: try settings(for: item, nativeDefault: true))
                let input = try String(contentsOf: root.appendingPathComponent(item["input"] as? String ?? ""), encoding: .utf8)
                let once = try injector.inject(input, file: "once").output
                let twice = try injector.inject(once, file: "twice").output
                if once != twice { failures[id] = Self.firstDifference(once, twice) }
            } catch {
                failures[id] = "error: \(error)"
            }
        }
        return (failures, cases.count)
    }
}
