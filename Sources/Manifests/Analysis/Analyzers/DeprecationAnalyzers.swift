/// Fields Istio has deprecated (IST0002): fault `percent` (use `percentage`), `mirrorPercent` (use
/// `mirrorPercentage`), and a Sidecar's `outboundTrafficPolicy.egressProxy`.
struct DeprecationAnalyzer: Analyzer {
    let name = "deprecation.DeprecationAnalyzer"
    let summary = "Reports deprecated fields in VirtualServices and Sidecars"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for service in input.resources("VirtualService", group: "networking.istio.io") {
            for route in service.spec?["http"]?.items ?? [] {
                for kind in ["delay", "abort"] {
                    if let percent = route["fault"]?[kind]?["percent"] {
                        messages.append(.deprecated(service, .faultPercent(kind: kind), at: percent))
                    }
                }
                if let percent = route["mirrorPercent"] ?? route["mirror_percent"] {
                    messages.append(.deprecated(service, .mirrorPercent, at: percent))
                }
            }
        }
        for sidecar in input.resources("Sidecar", group: "networking.istio.io") {
            if let proxy = sidecar.spec?["outboundTrafficPolicy"]?["egressProxy"] {
                messages.append(.deprecated(sidecar, .egressProxy, at: proxy))
            }
        }
        return messages
    }
}

/// Telemetry that traces through a Lightstep provider: Istio deprecated it in favour of OpenTelemetry (IST0002).
struct LightstepAnalyzer: Analyzer {
    let name = "telemetry.LightstepAnalyzer"
    let summary = "Reports Telemetry that uses the deprecated Lightstep tracing provider"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let lightstep = Set((input.meshConfig?["extensionProviders"]?.items ?? []).compactMap { provider in
            provider["lightstep"] != nil ? provider["name"]?.scalarText : nil
        })
        guard !lightstep.isEmpty else { return [] }
        var messages: [AnalysisMessage] = []
        for telemetry in input.resources("Telemetry", group: "telemetry.istio.io") {
            let providers = (telemetry.spec?["tracing"]?.items ?? []).flatMap { $0["providers"]?.items ?? [] }
            guard let used = providers.first(where: { lightstep.contains($0["name"]?.scalarText ?? "") }) else { continue }
            messages.append(.deprecated(telemetry, .lightstepProvider(name: used["name"]?.scalarText ?? ""), at: used))
        }
        return messages
    }
}
