import Foundation
import EnvoyConfig
import Manifests

/// The 503 doctor: reads the evidence of one proxy and names the causes of its failing requests, most likely first,
/// each with its evidence and a fix. It reasons from Envoy's and Istio's documented behaviour: the response flags and
/// details of the failing requests, the proxy's counters and host health, its configuration and the Istio objects.
public struct Doctor {
    public let evidence: Evidence

    public init(_ evidence: Evidence) { self.evidence = evidence }

    /// Requests that failed in the same way, to the same place.
    struct FailureGroup {
        var lines: [Evidence.LogLine]
        var first: Evidence.LogLine { lines[0] }
        var count: Int { lines.count }
    }

    public func diagnose() -> Diagnosis {
        var checked: [String] = []
        let failures = evidence.accessLog.filter {
            Self.isFailure($0.entry, symptom: evidence.symptom) || evidence.destinationAnswer(for: $0.entry) != nil || Self.isUnreadableRequest($0.entry)
        }
        var summary = "access log: \(evidence.accessLog.count) line(s), \(failures.count) failing"
        if let symptom = evidence.symptom {
            summary += "; the caller saw \(symptom.status == 0 ? "no HTTP response" : "HTTP \(symptom.status)")"
                + (symptom.body.isEmpty ? "" : " \"\(symptom.body.split(separator: "\n").first.map { String($0.prefix(300)) } ?? "")\"")
        }
        checked.append(summary)
        checked += evidence.gaps
        guard !failures.isEmpty else { return Diagnosis(causes: [], checked: checked) }

        var causes: [Cause] = []
        let ordered = groups(failures)
        for (index, group) in ordered.enumerated() {
            let path = RequestPath(group.first, evidence: evidence)
            if index == 0 {
                checked += path.checked
            } else {
                checked.append("also failing: \(Self.describe(group.first.entry)) (\(group.count) request(s), first at \(group.first.place))")
            }
            for cause in CauseRules(path: path, group: group).causes() {
                if let existing = causes.firstIndex(where: { $0.id == cause.id }) {
                    causes[existing].evidence += cause.evidence.filter { !causes[existing].evidence.contains($0) }
                } else {
                    causes.append(cause)
                }
            }
        }
        return Diagnosis(causes: causes, checked: checked, failingRequest: ordered.first?.first.entry)
    }

    /// A failing request: no response or a 5xx, or a 4xx the proxy made (not one the app answered with).
    static func isFailure(_ entry: AccessLogEntry, symptom: Symptom?) -> Bool {
        let benign: Set<String> = ["DC", "DR"]
        let proxyMade = entry.responseFlags.contains { !benign.contains($0) }
            || !(entry.responseCodeDetails.isEmpty || entry.responseCodeDetails == "via_upstream")
        switch entry.responseCode {
        case 0: return proxyMade
        case 500...: return true
        case 400..<500:
            return proxyMade || (symptom?.status == entry.responseCode && symptom?.bodyIsFromProxy == true)
        default: return false
        }
    }

    /// A 400 the app itself answered: how a server says it could not parse the request, as a TLS server does when
    /// plaintext HTTP arrives (`Client sent an HTTP request to an HTTPS server`). Only a protocol conflict in the
    /// objects makes it a cause; an app's own 400s are otherwise its business.
    static func isUnreadableRequest(_ entry: AccessLogEntry) -> Bool {
        entry.responseCode == 400 && entry.responseFlags.isEmpty && entry.responseCodeDetails == "via_upstream"
    }

    /// Failures grouped by status, flags, details and cluster; the group the caller's symptom matches first, then
    /// the group of the latest failure (what fails now, after earlier changes), then the larger groups, the proxy's
    /// own answers before the app's.
    func groups(_ failures: [Evidence.LogLine]) -> [FailureGroup] {
        var groups: [FailureGroup] = []
        var index: [String: Int] = [:]
        for line in failures {
            let entry = line.entry
            let key = "\(entry.responseCode) \(entry.responseFlags) \(entry.responseCodeDetails) \(entry.upstreamCluster) \(entry.authority)"
            if let at = index[key] { groups[at].lines.append(line) } else {
                index[key] = groups.count
                groups.append(FailureGroup(lines: [line]))
            }
        }
        func proxyMade(_ entry: AccessLogEntry) -> Bool {
            !entry.responseFlags.isEmpty || entry.responseCodeDetails != "via_upstream" || evidence.destinationAnswer(for: entry) != nil
        }
        let latest = failures.last { proxyMade($0.entry) }.map(\.place)
        func score(_ group: FailureGroup) -> Int {
            let entry = group.first.entry
            var score = min(group.count, 99)
            if proxyMade(entry) { score += 100 }
            if group.lines.contains(where: { $0.place == latest }) { score += 300 }
            if let symptom = evidence.symptom {
                if entry.responseCode == symptom.status { score += 1000 }
                if group.lines.contains(where: { $0.entry.bytesSent == symptom.body.utf8.count }) { score += 500 }
            }
            // A line --to could not tie to the destination comes after every failure it could.
            if group.lines.allSatisfy({ evidence.unattributed.contains($0.place) }) { score -= 10_000 }
            return score
        }
        return groups.enumerated().sorted { a, b in
            let (x, y) = (score(a.element), score(b.element))
            return x != y ? x > y : a.offset < b.offset
        }.map(\.element)
    }

    /// `503 URX,UF upstream_reset_before_response_started{...} GET /path to outbound|...`.
    static func describe(_ entry: AccessLogEntry) -> String {
        "\(entry.responseCode) \(entry.responseFlags.isEmpty ? "-" : entry.responseFlags.joined(separator: ",")) \(entry.responseCodeDetails.isEmpty ? "-" : entry.responseCodeDetails) \(entry.method) \(entry.path)"
            + (entry.upstreamCluster.isEmpty ? "" : " to \(entry.upstreamCluster)")
    }
}
