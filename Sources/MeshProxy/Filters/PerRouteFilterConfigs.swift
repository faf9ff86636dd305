/// A route's `typed_per_filter_config`, by filter: each entry replaces the listener-level filter's config for
/// requests on that route.
public struct PerRouteFilterConfigs: Sendable {
    public var fault: FaultConfig?
    /// `RBACPerRoute`: `.some(nil)` turns RBAC off for the route (an `RBACPerRoute` without `rbac`).
    public var rbac: RBACConfig??
    public var localRateLimit: LocalRateLimitConfig?
    public var cors: CORSPolicy?

    public init() {}

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> PerRouteFilterConfigs {
        var configs = PerRouteFilterConfigs()
        guard let node = reader.field("typed_per_filter_config") else { return configs }
        let filters = try ConfigReader.mapping(node, file: reader.file, path: reader.path + [.key("typed_per_filter_config")])
        for pair in node.pairs ?? [] {
            let key = pair.key.scalarText ?? ""
            _ = try filters.object(key) { config throws(ProxyConfigError) in
                switch try config.typeName() {
                case "envoy.extensions.filters.http.fault.v3.HTTPFault": configs.fault = try FaultConfig.read(config)
                case RBACConfig.httpPerRouteType:
                    configs.rbac = .some(try config.object("rbac") { rbac throws(ProxyConfigError) in try RBACConfig.read(rbac, network: false) })
                case LocalRateLimitConfig.type: configs.localRateLimit = try LocalRateLimitConfig.read(config)
                case CORSPolicy.type: configs.cors = try CORSPolicy.read(config)
                case let type:
                    throw config.error("\(type) is not supported as a per-route filter config (the fault, RBAC, local rate limit and CORS filters' are)")
                }
            }
        }
        try filters.finish()
        return configs
    }
}
