import EnvoyConfig
import Foundation
import Manifests

/// Turns one group of failing requests, and the path they took, into causes. Which rule applies follows the
/// response flags and details Envoy documents; each rule then looks for the Istio object or application fact behind it.
struct CauseRules {
    let path: RequestPath
    let group: Doctor.FailureGroup
    var entry: AccessLogEntry { path.entry }
    var objects: MeshObjects { path.evidence.objects }
    var symptom: Symptom? { path.evidence.symptom }
    /// The destination sidecar's own line for the request, when that sidecar answered for the app.
    var destinationAnswer: Evidence.LogLine? { path.evidence.destinationAnswer(for: entry) }
    /// The response flags of the failure: this proxy's, or the destination sidecar's when it answered.
    var flags: Set<String> { Set(entry.responseFlags + (destinationAnswer?.entry.responseFlags ?? [])) }
    /// The response code details of the failure: this proxy's, or the destination sidecar's when it answered.
    var details: String { destinationAnswer?.entry.responseCodeDetails ?? entry.responseCodeDetails }

    /// The failure's response flags as the log writes them (`URX,UF`), this proxy's then the destination sidecar's.
    var flagText: String {
        var seen = Set<String>()
        return (entry.responseFlags + (destinationAnswer?.entry.responseFlags ?? [])).filter { seen.insert($0).inserted }.joined(separator: ",")
    }

    /// The access-log evidence line of the group.
    var logEvidence: String {
        "\(group.first.place): \(Doctor.describe(entry))" + (group.count > 1 ? " (\(group.count) such requests)" : "")
    }

    /// The access-log evidence: the group's line, and the destination sidecar's line for the same request when it
    /// answered for the app.
    var logEvidenceLines: [String] {
        [logEvidence] + (destinationAnswer.map { ["\($0.place): the destination's sidecar answered it: \(Doctor.describe($0.entry)) (x-request-id \($0.entry.requestID))"] } ?? [])
    }

    /// The reset reason inside `upstream_reset_before_response_started{reason|...}`, or from the caller's body.
    var resetReason: String {
        if let open = details.firstIndex(of: "{") {
            let inner = details[details.index(after: open)...].dropLast()
            return String(inner.split(separator: "|", maxSplits: 1).first ?? "")
        }
        if let body = symptom?.body, let range = body.range(of: "reset reason: ") {
            return String(body[range.upperBound...].prefix { $0 != "," && $0 != "\n" }).replacingOccurrences(of: " ", with: "_")
        }
        return ""
    }

    /// The transport failure: the log field, the part after `|` in the details, or the caller's body.
    var transportFailure: String {
        if !entry.upstreamTransportFailureReason.isEmpty { return entry.upstreamTransportFailureReason }
        if let reason = destinationAnswer?.entry.upstreamTransportFailureReason, !reason.isEmpty { return reason }
        if let bar = details.firstIndex(of: "|") { return String(details[details.index(after: bar)...].dropLast()) }
        if let body = symptom?.body, let range = body.range(of: "transport failure reason: ") {
            return String(body[range.upperBound...].prefix { $0 != "\n" })
        }
        return ""
    }

    /// Whether the answer was made by the destination's sidecar (the app was not reached), seen from the source.
    var answeredByDestinationProxy: Bool {
        if destinationAnswer != nil { return true }
        return details == "via_upstream" && entry.responseFlags.isEmpty && symptom?.status == entry.responseCode && symptom?.bodyIsFromProxy == true
            && group.lines.contains { $0.entry.bytesSent == symptom?.body.utf8.count }
    }

    func causes() -> [Cause] {
        let body = answeredByDestinationProxy ? (symptom?.body ?? "") : ""
        if details == "low_version" || (entry.responseCode == 426 && flags.contains("DPE")) { return http10Refused() }
        if entry.upstreamCluster == "BlackHoleCluster" || entry.routeName == "block_all" { return egressBlocked() }
        if flags.contains("FI") || flags.contains("DI") || details.hasPrefix("fault_filter") { return faultInjected() }
        if flags.contains("RL") || details.contains("rate_limited") || body.contains("local_rate_limited") { return rateLimited() }
        if flags.contains("NC") || details == "cluster_not_found" { return missingSubset() }
        if flags.contains("NR") || details == "route_not_found" || details == "filter_chain_not_found" {
            if details == "filter_chain_not_found" || entry.method.isEmpty { return plaintextToStrict() }
            return (path.virtualHost == nil ? egressIfBlocked() : nil) ?? noRoute()
        }
        if details == "direct_response", entry.responseCode >= 500, let blocked = egressIfBlocked() { return blocked }
        if flags.contains("UO") || resetReason == "overflow" { return circuitBreaker() }
        if flags.contains("UH") || details == "no_healthy_upstream" || body.contains("no healthy upstream") { return noHealthyUpstream() }
        if flags.contains("UT") || details == "response_timeout" || details == "upstream_per_try_timeout" { return routeTimeout() }
        if details.hasPrefix("rbac_access_denied") || body.contains("RBAC: access denied") { return authorizationDenied() }
        if flags.contains("UPE") || resetReason == "protocol_error" { return protocolMismatch() }
        if Doctor.isUnreadableRequest(entry), destinationAnswer == nil {
            return declaredProtocolConflict().map { protocolMismatch($0) } ?? []
        }
        if flags.contains("UF") || ["connection_failure", "remote_connection_failure", "local_connection_failure", "connection_timeout"].contains(resetReason) {
            return connectionFailure()
        }
        if flags.contains("UC") || resetReason == "connection_termination" { return connectionClosed() }
        if flags.contains("UR") || resetReason == "remote_reset" { return connectionClosed() }
        return []
    }

    // MARK: Shared pieces

    /// `kubectl -n NS patch KIND NAME --type merge -p 'JSON'`.
    static func patch(_ object: MeshObject, _ json: String) -> String {
        "kubectl -n \(object.namespace) patch \(object.kind.lowercased()) \(object.name) --type merge -p '\(json)'"
    }

    /// The destination's name for messages: the Service, or the host.
    var destinationName: String {
        path.service.map { "\($0.namespace)/\($0.name)" } ?? (path.destinationHost.isEmpty ? entry.authority : path.destinationHost)
    }

    /// The pods that lack the sidecar among the destination's, with why.
    var destinationsWithoutSidecar: [(MeshWorkload, String)] {
        path.backends.compactMap { workload in objects.whyNoSidecar(workload).map { (workload, $0) } }
    }

    /// Whether the mesh expects this workload to run the proxy: injection is on for its namespace, or a policy
    /// (a STRICT PeerAuthentication or an AuthorizationPolicy) selects it, so only a proxy can enforce it.
    func meshExpectsSidecar(_ workload: MeshWorkload) -> (Bool, String) {
        let ns = workload.object.namespace
        if objects.namespaceInjection(ns) == true { return (true, "namespace \(ns) has injection enabled") }
        let pa = objects.peerAuthentication(for: workload)
        if pa.mode == "STRICT", let object = pa.object { return (true, "\(object.reference) requires mTLS (STRICT) for it") }
        if let policy = objects.authorizationPolicies(for: workload.podLabels, namespace: ns).first(where: { $0.namespace == ns }) {
            return (true, "\(policy.reference) applies to it")
        }
        return (false, "")
    }
}
