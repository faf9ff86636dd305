import Foundation
import ConfigValues

/// A problem reading Envoy admin output, with where it is.
public struct EnvoyDataError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// The JSON object of an admin answer; text that is not JSON, or not an object, is an error naming where.
    static func parseObject(_ text: String, source: String, what: String) throws(EnvoyDataError) -> JSONValue {
        let root: JSONValue
        do {
            root = try JSONValue.parse(text)
        } catch {
            throw EnvoyDataError("\(source):\(error.line):\(error.column): not \(what): \(error.message)")
        }
        guard root.object != nil else { throw EnvoyDataError("\(source): not \(what)") }
        return root
    }
}

/// Envoy's `/config_dump`: one entry per configuration type (`@type` ...BootstrapConfigDump, ClustersConfigDump, ...).
/// Entries of types meshctl does not know are kept and listed by name, and all of their fields are kept.
public struct ConfigDump: Sendable {
    /// The `configs` entries in the order Envoy wrote them.
    public let configs: [JSONValue]

    /// The type names meshctl reads; anything else is listed in `unknownTypes`.
    public static let knownTypes: Set<String> = [
        "envoy.admin.v3.BootstrapConfigDump", "envoy.admin.v3.ClustersConfigDump", "envoy.admin.v3.ListenersConfigDump",
        "envoy.admin.v3.ScopedRoutesConfigDump", "envoy.admin.v3.RoutesConfigDump", "envoy.admin.v3.SecretsConfigDump",
        "envoy.admin.v3.EndpointsConfigDump", "envoy.admin.v3.EcdsConfigDump",
    ]

    /// Reads a config dump's JSON text. `source` names it in errors (a file, or a pod).
    public init(text: String, source: String) throws(EnvoyDataError) {
        try self.init(try EnvoyDataError.parseObject(text, source: source, what: "a config dump (a JSON object with \"configs\")"), source: source)
    }

    public init(_ root: JSONValue, source: String) throws(EnvoyDataError) {
        guard root.object != nil else { throw EnvoyDataError("\(source): not a config dump (a JSON object with \"configs\")") }
        guard let configs = root["configs"] else {
            configs = []
            return
        }
        guard let list = configs.array else { throw EnvoyDataError("\(source): \"configs\" is not a list") }
        self.configs = list
    }

    /// The entry of a type (`envoy.admin.v3.ClustersConfigDump`), v2 or v3.
    public func section(_ typeName: String) -> JSONValue? {
        let v2 = typeName.replacingOccurrences(of: ".v3.", with: ".v2alpha.")
        return configs.first { config in
            let type = config.typeURL.map(Self.shortTypeName) ?? ""
            return type == typeName || type == v2
        }
    }

    /// `type.googleapis.com/envoy.admin.v3.ClustersConfigDump` → `envoy.admin.v3.ClustersConfigDump`.
    public static func shortTypeName(_ url: String) -> String {
        url.split(separator: "/").last.map(String.init) ?? url
    }

    /// The type names of entries meshctl does not read.
    public var unknownTypes: [String] {
        configs.compactMap { $0.typeURL.map(Self.shortTypeName) }.filter { !Self.knownTypes.contains($0) }
    }

    /// The section, or the error istioctl gives when a dump lacks it.
    func required(_ typeName: String) throws(EnvoyDataError) -> JSONValue {
        guard let section = section(typeName) else { throw EnvoyDataError("config dump has no configuration type \(typeName)") }
        return section
    }

    // MARK: Sections

    /// `bootstrap` of the BootstrapConfigDump.
    public func bootstrap() throws(EnvoyDataError) -> Bootstrap {
        Bootstrap(json: try required("envoy.admin.v3.BootstrapConfigDump").field("bootstrap") ?? .object([]))
    }

    /// The BootstrapConfigDump entry itself (what `proxy-config bootstrap -o json` prints).
    public func bootstrapSection() throws(EnvoyDataError) -> JSONValue { try required("envoy.admin.v3.BootstrapConfigDump") }

    /// Active dynamic clusters, then static ones.
    public func clusters() throws(EnvoyDataError) -> [Cluster] {
        let dump = try required("envoy.admin.v3.ClustersConfigDump")
        return (dump.items("dynamic_active_clusters") + dump.items("static_clusters")).compactMap { $0.field("cluster").map(Cluster.init) }
    }

    /// Active dynamic listeners, then static ones.
    public func listeners() throws(EnvoyDataError) -> [Listener] {
        let dump = try required("envoy.admin.v3.ListenersConfigDump")
        let dynamic = dump.items("dynamic_listeners").compactMap { $0.field("active_state")?.field("listener") }
        let staticListeners = dump.items("static_listeners").compactMap { $0.field("listener") }
        return (dynamic + staticListeners).map(Listener.init)
    }

    /// Dynamic route configurations (RDS), then static ones (inline in listeners).
    public func routeConfigurations() throws(EnvoyDataError) -> [RouteConfiguration] {
        let dump = try required("envoy.admin.v3.RoutesConfigDump")
        return (dump.items("dynamic_route_configs") + dump.items("static_route_configs")).compactMap { $0.field("route_config").map(RouteConfiguration.init) }
    }

    /// Load assignments (`?include_eds`): dynamic, then static; none when the dump has no EndpointsConfigDump.
    public func loadAssignments() -> [LoadAssignment] {
        guard let dump = section("envoy.admin.v3.EndpointsConfigDump") else { return [] }
        return (dump.items("dynamic_endpoint_configs") + dump.items("static_endpoint_configs")).compactMap { $0.field("endpoint_config").map(LoadAssignment.init) }
    }

    /// Warming secrets, then active ones.
    public func secrets() throws(EnvoyDataError) -> [DynamicSecret] {
        let dump = try required("envoy.admin.v3.SecretsConfigDump")
        return dump.items("dynamic_warming_secrets").map { DynamicSecret(json: $0, state: .warming) }
            + dump.items("dynamic_active_secrets").map { DynamicSecret(json: $0, state: .active) }
    }

    /// The SecretsConfigDump entry itself.
    public func secretsSection() throws(EnvoyDataError) -> JSONValue { try required("envoy.admin.v3.SecretsConfigDump") }

    /// Extension configurations (ECDS): each a TypedExtensionConfig (name + typed_config).
    public func extensionConfigs() throws(EnvoyDataError) -> [JSONValue] {
        try extensionConfigSection().items("ecds_filters").compactMap { $0.field("ecds_filter") }
    }

    /// The EcdsConfigDump: Envoy writes one entry per extension type, merged here into one.
    public func extensionConfigSection() throws(EnvoyDataError) -> JSONValue {
        let entries = configs.filter { $0.typeURL.map(Self.shortTypeName) == "envoy.admin.v3.EcdsConfigDump" }
        guard !entries.isEmpty else { throw EnvoyDataError("config dump has no configuration type envoy.admin.v3.EcdsConfigDump") }
        let filters = entries.flatMap { $0.items("ecds_filters") }
        return .object([("@type", .string("type.googleapis.com/envoy.admin.v3.EcdsConfigDump")), ("ecds_filters", .array(filters))])
    }
}

/// The bootstrap: the node's identity, Istio's and Envoy's versions.
public struct Bootstrap: Sendable {
    public let json: JSONValue

    public init(json: JSONValue) { self.json = json }

    var node: JSONValue? { json.field("node") }

    /// `ISTIO_VERSION` of the node metadata.
    public var istioVersion: String { node?.field("metadata")?["ISTIO_VERSION"]?.string ?? "" }

    /// The commit of `ISTIO_PROXY_SHA` (`istio-proxy:<sha>` → `<sha>`).
    public var istioProxyVersion: String {
        let sha = node?.field("metadata")?["ISTIO_PROXY_SHA"]?.string ?? ""
        let parts = sha.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count > 1 ? String(parts[1]) : sha
    }

    /// `1.18.3/Clean/RELEASE/BoringSSL`: the node's user agent build version with its label, status, type and TLS library.
    public var envoyVersion: String {
        let build = node?.field("user_agent_build_version")
        let version = build?.field("version")
        var text = "\(version?.field("major_number")?.integer ?? 0).\(version?.field("minor_number")?.integer ?? 0).\(version?.field("patch")?.integer ?? 0)"
        let metadata = build?.field("metadata")
        if let label = metadata?["build.label"]?.string { text += "-\(label)" }
        for key in ["revision.status", "build.type", "ssl.version"] {
            if let value = metadata?[key]?.string { text += "/\(value)" }
        }
        return text
    }

    /// The node id (`sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local`).
    public var nodeID: String { node?.text("id") ?? "" }
}
