/// Telemetry resources with a selector must select pods (IST0101) and no pod may be selected by two (IST0159).
struct TelemetrySelectorAnalyzer: Analyzer {
    let name = "telemetry.SelectorAnalyzer"
    let reportsSelectorsWithoutPods = true
    let summary = "Checks that Telemetry selectors match pods, one Telemetry per pod (needs pods: on files, only with --analyzer)"
    let needsRunningPods = true

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let findings = SelectorFindings(input.resources("Telemetry", group: "telemetry.istio.io"), pods: input.resources("Pod", group: "")) {
            $0.spec?["selector"]?["matchLabels"]
        }
        var messages = findings.unmatched.map { Messages.notFound($0.resource, "selector", $0.text, at: $0.selector) }
        for item in findings.conflicts {
            messages.append(AnalysisMessage(Messages.conflictingTelemetryWorkloadSelectors,
                "Telemetries \(item.rivals.joined(separator: ", ")) all select pod \(item.pod): which one applies is undefined; "
                    + "make their selectors distinct", on: item.resource))
        }
        return messages
    }
}

/// At most one Telemetry without a selector per namespace (IST0160).
struct TelemetryDefaultSelectorAnalyzer: Analyzer {
    let name = "telemetry.DefaultSelectorAnalyzer"
    let summary = "Checks that each namespace has at most one Telemetry without a selector"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let findings = SelectorFindings(input.resources("Telemetry", group: "telemetry.istio.io"), pods: []) {
            $0.spec?["selector"]?["matchLabels"]
        }
        return findings.unselected.flatMap { group in
            group.resources.map { telemetry in
                AnalysisMessage(Messages.multipleTelemetriesWithoutWorkloadSelectors,
                    "Telemetries \(group.resources.map(\.name).joined(separator: ", ")) in namespace \(group.namespace) all have no selector: "
                        + "which one applies is undefined; keep one, or give the others selectors", on: telemetry)
            }
        }
    }
}

/// Telemetry entries with no providers, not disabled, where the mesh names no default provider: ignored (IST0157).
struct TelemetryProviderAnalyzer: Analyzer {
    let name = "telemetry.ProviderAnalyzer"
    let summary = "Checks that Telemetry entries name a provider, or that the mesh has a default one"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for telemetry in input.resources("Telemetry", group: "telemetry.istio.io") {
            for section in ["accessLogging", "tracing", "metrics"] {
                let defaults = input.meshConfig?["defaultProviders"]?[section]?.items ?? []
                guard defaults.isEmpty else { continue }
                let ignored = (telemetry.spec?[section]?.items ?? []).first { entry in
                    (entry["providers"]?.items ?? []).isEmpty && entry["disabled"]?.scalarText != "true"
                }
                if let ignored {
                    messages.append(AnalysisMessage(Messages.invalidTelemetryProvider,
                        "a \(section) entry of Telemetry \(telemetry.name) in namespace \(telemetry.namespaceOrEmpty) names no provider and the mesh "
                            + "has no default one, so it is ignored; add providers, or set meshConfig.defaultProviders.\(section)",
                        on: telemetry, at: ignored))
                    break
                }
            }
        }
        return messages
    }
}
