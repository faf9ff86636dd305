import Foundation
import EnvoyConfig
import Manifests

/// Everything a diagnosis reads about one proxy: its access log, admin answers and the mesh's objects. A capture
/// folder fills it offline; the live mode gathers the same from the API server.
public struct Evidence: Sendable {
    /// An access-log line with where it was read.
    public struct LogLine: Sendable {
        public var entry: AccessLogEntry
        public var source: String
        public var line: Int
        public var place: String { "\(source):\(line)" }
    }

    public var accessLog: [LogLine] = []
    /// Access-log lines of the destinations' sidecars (the live form reads them): when the destination's proxy
    /// answered for the app (a refused connection, a 403 from RBAC, a 429), its line says why, and the caller's
    /// line, found by its x-request-id, only shows a 503 or 403 `via_upstream`.
    public var destinationLog: [LogLine] = []
    public var stats: EnvoyStats?
    public var clusterStatuses: ClusterStatuses?
    public var configDump: ConfigDump?
    public var objects = MeshObjects()
    /// The response the caller saw (`symptom.txt`), when known.
    public var symptom: Symptom?
    /// What could not be read, said once each in `checked`.
    public var gaps: [String] = []
    /// Places (`access.log:N`) of lines `--to` kept without knowing their destination (a request the proxy could
    /// not read): a failure among them ranks below the failures known to go there.
    public var unattributed: Set<String> = []

    public init() {}

    /// Keeps only the requests to a destination: `host`, `host:port` or a URL; the host matches an authority or a
    /// cluster's host by its leading labels (`payments` matches `payments.billing:8080`).
    public mutating func keepRequests(to destination: String) {
        var target = destination
        if let scheme = target.range(of: "://") { target = String(target[scheme.upperBound...]) }
        target = String(target.prefix { $0 != "/" })
        let host = MeshObjects.withoutPort(target)
        let port = target == host ? nil : target.split(separator: ":").last.flatMap { Int($0) }
        func matches(_ candidate: String) -> Bool { candidate == host || candidate.hasPrefix(host + ".") }
        accessLog = accessLog.filter { line in
            let entry = line.entry
            // A request the proxy could not read (DPE) names no destination: it is kept, as it may be the one.
            if entry.authority.isEmpty, entry.upstreamCluster.isEmpty, entry.responseFlags.contains("DPE") {
                unattributed.insert(line.place)
                return true
            }
            let authorityHost = MeshObjects.withoutPort(entry.authority)
            let authorityPort = entry.authority == authorityHost ? nil : entry.authority.split(separator: ":").last.flatMap { Int($0) }
            let key = SubsetKey(entry.upstreamCluster)
            if let port, authorityPort != port, key?.port != port { return false }
            return matches(authorityHost) || key.map { matches($0.host) } ?? false
        }
        gaps.append("only the requests to \(destination) were considered (--to)")
    }

    /// The destination sidecar's line for a request this proxy passed on (`via_upstream`, no flags) when that
    /// sidecar made the answer itself (flags, or details other than `via_upstream`); nil otherwise.
    public func destinationAnswer(for entry: AccessLogEntry) -> LogLine? {
        guard !entry.requestID.isEmpty, entry.responseFlags.isEmpty, entry.responseCodeDetails == "via_upstream" else { return nil }
        return destinationLog.first { line in
            line.entry.requestID == entry.requestID && line.entry.responseCode == entry.responseCode
                && (!line.entry.responseFlags.isEmpty || line.entry.responseCodeDetails != "via_upstream")
        }
    }

    /// Adds the access log of a destination's sidecar (`source` names it in the evidence).
    public mutating func addDestinationLog(_ text: String, source: String) {
        var other = Evidence()
        other.addAccessLog(text, source: source)
        destinationLog += other.accessLog
        gaps += other.gaps
    }

    /// Reads the access-log lines of a text; lines that are not access-log lines (Envoy's own log) are skipped,
    /// lines that look like one but do not parse are noted in `gaps`.
    public mutating func addAccessLog(_ text: String, source: String) {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = String(line)
            guard AccessLogEntry.looksLikeEntry(text) else { continue }
            do {
                accessLog.append(LogLine(entry: try AccessLogEntry(line: text), source: source, line: index + 1))
            } catch {
                gaps.append("\(source):\(index + 1): not read as an access-log line (\(error.description))")
            }
        }
    }
}

/// The HTTP response a caller saw, as `curl -i` prints it; status 0 when there was none.
public struct Symptom: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: String

    public init(text: String) {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        let parts = normalized.components(separatedBy: "\n\n")
        let head = parts.first ?? ""
        var lines = head.split(separator: "\n").map(String.init)
        // curl -i may show an interim or a proxy's CONNECT response first; the last status line counts.
        var status = 0
        var headers: [(String, String)] = []
        while !lines.isEmpty {
            let line = lines.removeFirst()
            if line.hasPrefix("HTTP/") {
                status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                headers = []
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        self.status = status
        self.headers = headers
        self.body = status == 0 ? normalized : parts.dropFirst().joined(separator: "\n\n")
    }

    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// Whether the body is one of Envoy's own local replies (so a proxy, not the app, answered).
    public var bodyIsFromProxy: Bool {
        ["upstream connect error", "no healthy upstream", "upstream request timeout", "fault filter abort", "RBAC: access denied",
         "local_rate_limited", "no healthy upstream"].contains { body.contains($0) }
    }
}
