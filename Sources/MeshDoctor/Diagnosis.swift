import EnvoyConfig
import Manifests

/// The causes `x diagnose` names, with the ids of issue 18 exactly.
public enum CauseID: String, CaseIterable, Sendable {
    case mtlsMismatch = "mtls-mismatch"
    case protocolMismatch = "protocol-mismatch"
    case noEndpoints = "no-endpoints"
    case appNotListening = "app-not-listening"
    case targetPortMismatch = "target-port-mismatch"
    case noSidecar = "no-sidecar"
    case upstreamConnectionClosed = "upstream-connection-closed"
    case circuitBreaker = "circuit-breaker"
    case outlierEjected = "outlier-ejected"
    case missingSubset = "missing-subset"
    case noRoute = "no-route"
    case routeTimeout = "route-timeout"
    case faultInjected = "fault-injected"
    case authzDenied = "authz-denied"
    case egressBlocked = "egress-blocked"
    case rateLimited = "rate-limited"
    case http10Refused = "http10-refused"
}

/// One cause with what supports it and how to fix it.
public struct Cause: Sendable {
    public var id: CauseID
    public var summary: String
    /// Access-log flags and details, counters with values, health flags, config fields with their file or object.
    public var evidence: [String]
    /// A concrete change: a YAML patch or a kubectl/meshctl command naming the real object.
    public var fix: String

    public init(_ id: CauseID, summary: String, evidence: [String], fix: String) {
        self.id = id
        self.summary = summary
        self.evidence = evidence
        self.fix = fix
    }
}

/// A diagnosis: causes, most likely first (none when nothing is wrong), and what each hop checked.
public struct Diagnosis: Sendable {
    public var causes: [Cause]
    public var checked: [String]
    /// The failing request the first cause was reasoned from (not part of the printed output).
    public var failingRequest: AccessLogEntry?

    public init(causes: [Cause], checked: [String], failingRequest: AccessLogEntry? = nil) {
        self.causes = causes
        self.checked = checked
        self.failingRequest = failingRequest
    }

    /// `{"causes":[{"id","summary","evidence":[...],"fix"}],"checked":[...]}`.
    public var json: JSONValue {
        .object([
            ("causes", .array(causes.map { cause in
                .object([("id", .string(cause.id.rawValue)), ("summary", .string(cause.summary)),
                         ("evidence", .array(cause.evidence.map { .string($0) })), ("fix", .string(cause.fix))])
            })),
            ("checked", .array(checked.map { .string($0) })),
        ])
    }

    /// The text form: the most likely cause first with its evidence and fix, then the others, then the hops checked.
    public var text: String {
        var lines: [String] = []
        if causes.isEmpty {
            lines.append("No cause found: the evidence shows no failing request the mesh explains.")
        }
        for (index, cause) in causes.enumerated() {
            if index == 1 { lines.append("Other possible causes:") }
            lines.append("\(index == 0 ? "Most likely cause" : "-"): \(cause.id.rawValue): \(cause.summary)")
            lines.append("  Evidence:")
            lines += cause.evidence.map { "    - \($0)" }
            lines.append("  Fix:")
            lines += cause.fix.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }
            lines.append("")
        }
        lines.append("Checked:")
        lines += checked.map { "  - \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
