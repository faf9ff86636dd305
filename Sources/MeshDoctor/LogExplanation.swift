import EnvoyConfig

/// `x diagnose --log LINE`: each field of one access-log line, its flags and details, and what they mean in a mesh.
public enum LogExplanation {
    public static func explain(_ entry: AccessLogEntry) -> String {
        var lines: [String] = []
        let values = entry.textValues
        let width = AccessLogEntry.textFields.map(\.name.count).max() ?? 0
        for (index, field) in AccessLogEntry.textFields.enumerated() {
            let name = field.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("\(name)  \(values[index])\(note(index, entry).map { "   (\($0))" } ?? "")")
        }
        lines.append("")
        if entry.responseFlags.isEmpty {
            lines.append("Response flags: none (\"-\"): Envoy saw nothing abnormal on its side of the request.")
        } else {
            lines.append("Response flags:")
            for code in entry.responseFlags {
                if let flag = ResponseFlag.named(code) {
                    lines.append("  \(flag.code) (\(flag.longName)): \(flag.envoyMeaning).")
                    lines.append("      In Istio: \(flag.istioMeaning).")
                } else {
                    lines.append("  \(code): not a flag of Envoy's documented list")
                }
            }
        }
        lines.append("Response code details: \(entry.responseCodeDetails.isEmpty ? "-" : entry.responseCodeDetails)")
        lines += ResponseCodeDetails.explain(entry.responseCodeDetails).map { "  \($0)" }
        if !entry.upstreamTransportFailureReason.isEmpty {
            lines.append("Upstream transport failure: \(TransportFailure.explain(entry.upstreamTransportFailureReason))")
        }
        lines.append("")
        lines.append("Where it happened: \(whereItHappened(entry))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A short note for fields whose value needs reading.
    static func note(_ index: Int, _ entry: AccessLogEntry) -> String? {
        switch index {
        case 2: return entry.responseCode == 0 ? "no HTTP response was sent" : nil
        case 9: return entry.duration.map { "\($0) ms from the first request byte to the last response byte" }
        case 10: return entry.upstreamServiceTime.isEmpty ? "the upstream never answered" : "ms the upstream took"
        case 15: return entry.upstreamHost.isEmpty ? "no upstream host was picked" : nil
        case 16:
            if entry.upstreamCluster.isEmpty { return "the request never reached a cluster" }
            if entry.upstreamCluster == "BlackHoleCluster" { return "Istio's cluster for traffic REGISTRY_ONLY refuses" }
            if entry.upstreamCluster == "PassthroughCluster" { return "traffic to a host outside the mesh, let through by ALLOW_ANY" }
            if let key = SubsetKey(entry.upstreamCluster) {
                return "\(key.direction) to \(key.host.isEmpty ? "the app in this pod" : key.host) port \(key.port)\(key.subset.isEmpty ? "" : ", subset \(key.subset)")"
            }
            return nil
        case 20: return entry.requestedServerName.isEmpty ? "no TLS SNI: plaintext, or TLS without SNI" : "the TLS SNI: the caller spoke TLS (Istio mTLS uses outbound_.PORT_.SUBSET_.HOST)"
        default: return nil
        }
    }

    static func whereItHappened(_ entry: AccessLogEntry) -> String {
        if entry.upstreamCluster.hasPrefix("inbound|") {
            return "the destination's sidecar (inbound): the request arrived at this pod and went to its app"
        }
        if entry.upstreamCluster.hasPrefix("outbound|") || ["BlackHoleCluster", "PassthroughCluster"].contains(entry.upstreamCluster) {
            return "the caller's sidecar (outbound): the app in this pod called \(entry.authority.isEmpty ? "a destination" : entry.authority)"
        }
        return "this proxy answered before choosing an upstream (no cluster)"
    }
}
