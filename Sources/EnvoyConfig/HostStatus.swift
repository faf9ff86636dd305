import Foundation
import ConfigValues

/// Envoy's `/clusters?format=json`: each cluster's hosts with their health and counters.
public struct ClusterStatuses: Sendable {
    public let clusters: [ClusterStatus]

    /// Reads the JSON body; `{}` (no clusters) is valid.
    public init(text: String, source: String) throws(EnvoyDataError) {
        let root = try EnvoyDataError.parseObject(text, source: source, what: "a /clusters?format=json body (a JSON object with \"cluster_statuses\")")
        clusters = root.items("cluster_statuses").map(ClusterStatus.init)
    }
}

public struct ClusterStatus: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    public var name: String { json.text("name") }
    public var hosts: [HostStatus] { json.items("host_statuses").map(HostStatus.init) }
}

/// One upstream host of a cluster.
public struct HostStatus: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    var address: SocketOrPipe { SocketOrPipe(json.field("address")) }

    /// The IP, `unix://path` or `envoy://listener/id`; "unknown" otherwise.
    public var host: String {
        if address.isSocket { return address.host }
        if let path = address.pipePath { return "unix://" + path }
        return address.internalAddress ?? "unknown"
    }

    public var port: Int { address.port }

    /// `ip:port`, or the host alone without a port.
    public var endpoint: String { port != 0 ? "\(host):\(port)" : host }

    /// The EDS health status (HEALTHY, UNHEALTHY, ...); UNKNOWN when proto3 JSON left it out.
    public var healthStatus: String { json.field("health_status")?.field("eds_health_status")?.string ?? "UNKNOWN" }

    /// Whether outlier detection ejected the host.
    public var failedOutlierCheck: Bool { json.field("health_status")?.field("failed_outlier_check")?.bool ?? false }

    /// A counter or gauge of the host (`rq_total`); 0 when proto3 JSON left the value out.
    public func stat(_ name: String) -> Int {
        json.items("stats").first { $0.text("name") == name }?.field("value")?.integer ?? 0
    }
}

/// Envoy's `/logging` answer: each logger and its level.
public struct LoggerLevels: Sendable, Equatable {
    public var levels: [(logger: String, level: String)]

    /// Envoy's level names, in increasing severity.
    public static let levelNames = ["trace", "debug", "info", "warning", "error", "critical", "off"]

    /// Reads `active loggers:` followed by `  name: level` lines.
    public init(text: String) {
        levels = text.split(separator: "\n").compactMap { line -> (logger: String, level: String)? in
            guard line.hasPrefix("  "), let colon = line.lastIndex(of: ":") else { return nil }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let level = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            return name.isEmpty ? nil : (name, level)
        }
    }

    public static func == (a: LoggerLevels, b: LoggerLevels) -> Bool {
        a.levels.map(\.logger) == b.levels.map(\.logger) && a.levels.map(\.level) == b.levels.map(\.level)
    }
}
