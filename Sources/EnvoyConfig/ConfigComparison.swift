import Foundation
import ConfigValues

/// `proxy-status POD`: what istiod sent a proxy (istiod's config dump for it) against what the proxy holds (its
/// own `/config_dump`), for dynamic clusters, listeners and routes, as istioctl compares them: versions and load
/// times left out, entries sorted by name, each side printed as protobuf JSON and the two texts diffed.
public struct ConfigComparison: Sendable {
    public let istiod: ConfigDump
    public let envoy: ConfigDump

    public init(istiod: ConfigDump, envoy: ConfigDump) {
        self.istiod = istiod
        self.envoy = envoy
    }

    /// "Clusters Match" or "Clusters Don't Match" and a unified diff, the same for listeners and routes; the
    /// routes line says when the proxy last loaded a route configuration. `timeZone` is the one that time is shown in.
    public func report(timeZone: TimeZone = .current) -> String {
        var text = ""
        for (name, comparable) in [("Clusters", Self.dynamicClusters), ("Listeners", Self.dynamicListeners), ("Routes", Self.dynamicRoutes)] {
            let diff = UnifiedDiff.text(from: Self.printed(comparable, istiod), to: Self.printed(comparable, envoy),
                                        fromName: "Istiod \(name)", toName: "Envoy \(name)", context: 7)
            let loaded = name == "Routes" ? envoy.lastRouteLoad.map { " (RDS last loaded at \(Self.rfc1123($0, timeZone)))" } ?? "" : ""
            text += diff.isEmpty ? "\(name) Match\(loaded)\n" : "\(name) Don't Match\(loaded)\n\(diff)\n"
        }
        return text
    }

    /// The section as compared, or the error when the dump lacks it (istioctl compares the error's text then).
    static func printed(_ comparable: (ConfigDump) throws(EnvoyDataError) -> JSONValue, _ dump: ConfigDump) -> String {
        do { return ProtoJSONWriter().write(EnvoyFieldName.protoJSON(try comparable(dump))) } catch { return error.description }
    }

    /// Active dynamic clusters by name, without version and load time.
    static func dynamicClusters(_ dump: ConfigDump) throws(EnvoyDataError) -> JSONValue {
        let clusters = try dump.required("envoy.admin.v3.ClustersConfigDump").items("dynamic_active_clusters").map { entry in
            var entry = Self.withoutVersion(entry)
            if var cluster = entry["cluster"] {
                cluster["@type"] = .string("type.googleapis.com/envoy.config.cluster.v3.Cluster")
                entry["cluster"] = cluster
            }
            return entry
        }
        return .object([("dynamicActiveClusters", .array(clusters.sorted { $0.field("cluster")?.text("name") ?? "" < $1.field("cluster")?.text("name") ?? "" }))])
    }

    /// Dynamic listeners that have an active state (a draining state left out), by name, without version and load time.
    static func dynamicListeners(_ dump: ConfigDump) throws(EnvoyDataError) -> JSONValue {
        let listeners = try dump.required("envoy.admin.v3.ListenersConfigDump").items("dynamic_listeners").compactMap { entry -> JSONValue? in
            guard var active = entry.field("active_state") else { return nil }
            active = Self.withoutVersion(active)
            if var listener = active["listener"] {
                listener["@type"] = .string("type.googleapis.com/envoy.config.listener.v3.Listener")
                active["listener"] = listener
            }
            return .object([("active_state", active)])
        }
        func name(_ entry: JSONValue) -> String { entry["active_state"]?.field("listener")?.text("name") ?? "" }
        return .object([("dynamicListeners", .array(listeners.sorted { name($0) < name($1) }))])
    }

    /// Dynamic route configurations by name, their virtual hosts by name, without version and load time.
    static func dynamicRoutes(_ dump: ConfigDump) throws(EnvoyDataError) -> JSONValue {
        let routes = try dump.required("envoy.admin.v3.RoutesConfigDump").items("dynamic_route_configs").map { entry in
            var entry = Self.withoutVersion(entry)
            let key = entry["route_config"] != nil ? "route_config" : "routeConfig"
            if var config = entry[key] {
                config["@type"] = .string("type.googleapis.com/envoy.config.route.v3.RouteConfiguration")
                for hostsKey in ["virtual_hosts", "virtualHosts"] {
                    if let hosts = config[hostsKey]?.array { config[hostsKey] = .array(hosts.sorted { $0.text("name") < $1.text("name") }) }
                }
                entry[key] = config
            }
            return entry
        }
        return .object([("dynamicRouteConfigs", .array(routes.sorted { $0.field("route_config")?.text("name") ?? "" < $1.field("route_config")?.text("name") ?? "" }))])
    }

    static func withoutVersion(_ entry: JSONValue) -> JSONValue {
        var entry = entry
        for key in ["version_info", "versionInfo", "last_updated", "lastUpdated"] { entry[key] = nil }
        return entry
    }

    /// `Mon, 02 Jan 2006 15:04:05 MST`, Go's RFC1123 layout.
    static func rfc1123(_ date: Date, _ timeZone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss"
        // Go names UTC "UTC" (Foundation would say GMT), other zones by their abbreviation.
        let utc = ["UTC", "Etc/UTC", "GMT", "Etc/GMT"].contains(timeZone.identifier)
        return formatter.string(from: date) + " " + (utc ? "UTC" : timeZone.abbreviation(for: date) ?? "UTC")
    }
}

extension ConfigDump {
    /// The latest `last_updated` of the dynamic route configurations; nil when none has one.
    var lastRouteLoad: Date? {
        guard let routes = section("envoy.admin.v3.RoutesConfigDump") else { return nil }
        return routes.items("dynamic_route_configs").compactMap { $0.field("last_updated")?.string.flatMap(Self.timestamp) }.max()
    }

    /// A protobuf Timestamp's JSON form (`2023-05-04T10:11:12.123456Z`).
    static func timestamp(_ text: String) -> Date? {
        // Seconds are enough for the RFC 1123 line; the fraction (up to 9 digits) is dropped.
        var whole = text
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            whole = String(text[..<dot] + text[zone...])
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: whole)
    }
}
