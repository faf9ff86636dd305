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
        var messages = findings.unmatched.map { AnalysisMessage.referencedResourceNotFound($0.resource, .selector($0.text), at: $0.selector) }
        for item in findings.conflicts {
            messages.append(.conflictingTelemetryWorkloadSelectors(item.resource, telemetries: item.rivals, pod: item.pod))
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
                AnalysisMessage.multipleTelemetriesWithoutWorkloadSelectors(telemetry, telemetries: group.resources.map(\.name), namespace: group.namespace)
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
                    messages.append(.invalidTelemetryProvider(telemetry, section: section, at: ignored))
                    break
                }
            }
        }
        return messages
    }
}
