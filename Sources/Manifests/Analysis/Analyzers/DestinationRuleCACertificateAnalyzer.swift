/// DestinationRules that originate TLS (SIMPLE or MUTUAL) without CA certificates cannot verify the
/// server they talk to: IST0128 for the rule's own TLS settings, IST0129 for a port's.
struct DestinationRuleCACertificateAnalyzer: Analyzer {
    let name = "destinationrule.CaCertificateAnalyzer"
    let summary = "Checks that DestinationRules originating TLS set caCertificates to verify the server"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for rule in input.resources("DestinationRule", group: "networking.istio.io") {
            let host = rule.spec?["host"]?.scalarText ?? ""
            // A credentialName holds the CA as well, but only workloads the rule selects can read that secret.
            let selected = rule.spec?["workloadSelector"] != nil
            let policy = rule.spec?["trafficPolicy"]
            if let tls = policy?["tls"], let mode = Self.unverifiedMode(tls, selected: selected) {
                messages.append(.noServerCertificateVerificationDestinationLevel(rule, mode: mode, host: host, at: tls))
            }
            for setting in policy?["portLevelSettings"]?.items ?? [] {
                guard let tls = setting["tls"], let mode = Self.unverifiedMode(tls, selected: selected) else { continue }
                let port = setting["port"]?["number"]?.scalarText ?? "?"
                messages.append(.noServerCertificateVerificationPortLevel(rule, mode: mode, host: host, port: port, at: tls))
            }
        }
        return messages
    }

    /// The mode, when `tls` originates TLS with nothing to verify the server against.
    static func unverifiedMode(_ tls: YAMLNode, selected: Bool) -> String? {
        guard let mode = tls["mode"]?.scalarText, mode == "SIMPLE" || mode == "MUTUAL" else { return nil }
        if tls["insecureSkipVerify"]?.scalarText == "true" { return nil }
        if !(tls["caCertificates"]?.scalarText ?? "").isEmpty { return nil }
        if !(tls["credentialName"]?.scalarText ?? "").isEmpty && selected { return nil }
        return mode
    }
}
