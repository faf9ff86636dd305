import Foundation

/// `envoy.filters.http.rbac` and `envoy.filters.network.rbac`: enforced rules and shadow rules (evaluated, counted,
/// never enforced).
public struct RBACConfig: Sendable {
    public var rules: RBACRules?
    public var shadowRules: RBACRules?
    public var rulesStatPrefix: String
    public var shadowRulesStatPrefix: String
    /// The network filter's `stat_prefix` (its stats are `PREFIX.rbac.*`); empty for the HTTP filter.
    public var statPrefix: String
}

/// `envoy.config.rbac.v3.RBAC`: an action and policies by name (Envoy keeps them sorted by name).
public struct RBACRules: Sendable {
    public enum Action: String, Sendable { case allow = "ALLOW", deny = "DENY", log = "LOG" }
    public var action: Action
    public var policies: [(name: String, policy: RBACPolicy)]
}

/// A policy matches when one of its permissions and one of its principals match.
public struct RBACPolicy: Sendable {
    public var permissions: [RBACMatcher]
    public var principals: [RBACMatcher]
}

/// A permission or a principal: both are trees over the same tests of the request and its connection.
public indirect enum RBACMatcher: Sendable {
    case any
    case and([RBACMatcher])
    case or([RBACMatcher])
    case not(RBACMatcher)
    case header(HeaderMatcher)
    case urlPath(StringMatcher)
    case uriTemplate(RegexPattern)
    case destinationPort(Int)
    case destinationIP(CIDRRange)
    case requestedServerName(StringMatcher)
    /// `authenticated`: a TLS peer certificate, its URI SAN matching when a principal name is given.
    case authenticated(StringMatcher?)
    case directRemoteIP(CIDRRange)
    case remoteIP(CIDRRange)
    /// Dynamic metadata (the JWT filter's payload).
    case metadata(MetadataMatcher)
}

extension RBACConfig {
    static let httpType = "envoy.extensions.filters.http.rbac.v3.RBAC"
    static let httpPerRouteType = "envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
    static let networkType = "envoy.extensions.filters.network.rbac.v3.RBAC"

    static func read(_ reader: ConfigReader, network: Bool) throws(ProxyConfigError) -> RBACConfig {
        let rules = try reader.object("rules") { rules throws(ProxyConfigError) in try RBACRules.read(rules) }
        let shadow = try reader.object("shadow_rules") { rules throws(ProxyConfigError) in try RBACRules.read(rules) }
        let shadowPrefix = try reader.string("shadow_rules_stat_prefix") ?? ""
        var rulesPrefix = "", statPrefix = ""
        if network {
            statPrefix = try reader.requiredString("stat_prefix")
            _ = try reader.enumeration("enforcement_type", allowed: ["ONE_TIME_ON_FIRST_BYTE"])
        } else {
            rulesPrefix = try reader.string("rules_stat_prefix") ?? ""
            reader.ignore("track_per_rule_stats")
        }
        for key in ["matcher", "shadow_matcher"] where reader.has(key) {
            throw reader.error("the matcher API is not supported: use rules and shadow_rules", path: [.key(key)])
        }
        return RBACConfig(rules: rules, shadowRules: shadow, rulesStatPrefix: rulesPrefix, shadowRulesStatPrefix: shadowPrefix, statPrefix: statPrefix)
    }
}

extension RBACRules {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> RBACRules {
        let action = Action(rawValue: try reader.enumeration("action", allowed: ["ALLOW", "DENY", "LOG"]) ?? "ALLOW") ?? .allow
        reader.ignore("audit_logging_options")
        var policies: [(name: String, policy: RBACPolicy)] = []
        if let node = reader.field("policies") {
            let map = try ConfigReader.mapping(node, file: reader.file, path: reader.path + [.key("policies")])
            for pair in node.pairs ?? [] {
                let name = pair.key.scalarText ?? ""
                if let policy = try map.object(name, { policy throws(ProxyConfigError) in try RBACPolicy.read(policy) }) {
                    policies.append((name, policy))
                }
            }
            try map.finish()
        }
        return RBACRules(action: action, policies: policies.sorted { $0.name < $1.name })
    }
}

extension RBACPolicy {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> RBACPolicy {
        for key in ["condition", "checked_condition"] where reader.has(key) {
            throw reader.error("CEL conditions are not supported", path: [.key(key)])
        }
        let permissions = try reader.list("permissions") { item throws(ProxyConfigError) in try RBACMatcher.read(item, permission: true) }
        let principals = try reader.list("principals") { item throws(ProxyConfigError) in try RBACMatcher.read(item, permission: false) }
        guard !permissions.isEmpty else { throw reader.error("needs at least one permission", path: [.key("permissions")]) }
        guard !principals.isEmpty else { throw reader.error("needs at least one principal", path: [.key("principals")]) }
        return RBACPolicy(permissions: permissions, principals: principals)
    }
}

extension RBACMatcher {
    /// One `Permission` (`permission: true`) or `Principal`; exactly one rule must be set.
    static func read(_ reader: ConfigReader, permission: Bool) throws(ProxyConfigError) -> RBACMatcher {
        let kind = permission ? "permission" : "principal"
        let set = permission ? ("and_rules", "or_rules", "not_rule", "rules") : ("and_ids", "or_ids", "not_id", "ids")
        var found: [RBACMatcher] = []
        func nested(_ key: String) throws(ProxyConfigError) -> [RBACMatcher]? {
            try reader.object(key) { group throws(ProxyConfigError) in
                try group.list(set.3) { item throws(ProxyConfigError) in try read(item, permission: permission) }
            }
        }
        func cidr(_ key: String) throws(ProxyConfigError) -> CIDRRange? {
            try reader.object(key) { range throws(ProxyConfigError) -> CIDRRange in try CIDRRange.read(range) }
        }
        if let any = try reader.bool("any") { found.append(any ? .any : .not(.any)) }
        if let rules = try nested(set.0) { found.append(.and(rules)) }
        if let rules = try nested(set.1) { found.append(.or(rules)) }
        if let inner = try reader.object(set.2, { inner throws(ProxyConfigError) in try read(inner, permission: permission) }) { found.append(.not(inner)) }
        if let header = try reader.object("header", { header throws(ProxyConfigError) in try HeaderMatcher.read(header) }) { found.append(.header(header)) }
        if let path = try reader.object("url_path", { path throws(ProxyConfigError) -> StringMatcher in
            guard let matcher = try path.object("path", { string throws(ProxyConfigError) in try StringMatcher.read(string) }) else {
                throw path.error("needs a path string matcher", path: [.key("path")])
            }
            return matcher
        }) { found.append(.urlPath(path)) }
        if let metadata = try reader.object("metadata", { metadata throws(ProxyConfigError) in try MetadataMatcher.read(metadata) }) {
            found.append(.metadata(metadata))
        }
        if permission {
            if let port = try reader.integer("destination_port", maximum: 65535) { found.append(.destinationPort(port)) }
            if let range = try cidr("destination_ip") { found.append(.destinationIP(range)) }
            if let name = try reader.object("requested_server_name", { string throws(ProxyConfigError) in try StringMatcher.read(string) }) {
                found.append(.requestedServerName(name))
            }
            if let template = try reader.object("uri_template", { template throws(ProxyConfigError) -> RegexPattern in
                template.ignore("name")
                guard let pattern = try template.object("typed_config", { typed throws(ProxyConfigError) -> RegexPattern in
                    guard try typed.typeName() == "envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig" else {
                        throw typed.error("only UriTemplateMatchConfig is supported", path: [.key("@type")])
                    }
                    let text = try typed.requiredString("path_template")
                    guard let pattern = uriTemplatePattern(text) else { throw typed.error("is not a path template", path: [.key("path_template")]) }
                    return pattern
                }) else { throw template.error("needs a typed_config", path: [.key("typed_config")]) }
                return pattern
            }) { found.append(.uriTemplate(template)) }
        } else {
            if let matcher = try reader.object("authenticated", { authenticated throws(ProxyConfigError) -> StringMatcher? in
                try authenticated.object("principal_name") { string throws(ProxyConfigError) in try StringMatcher.read(string) }
            }) { found.append(.authenticated(matcher)) }
            if let range = try cidr("direct_remote_ip") { found.append(.directRemoteIP(range)) }
            if let range = try cidr("source_ip") { found.append(.directRemoteIP(range)) }
            if let range = try cidr("remote_ip") { found.append(.remoteIP(range)) }
        }
        guard found.count == 1 else {
            throw reader.error(found.isEmpty ? "needs one \(kind) rule (or the rule given is not supported by meshctl's proxy)" : "sets more than one \(kind) rule")
        }
        return found[0]
    }

    /// A path template (`/a/*/b/**`) as an anchored pattern: `*` one segment, `**` any number of them.
    static func uriTemplatePattern(_ template: String) -> RegexPattern? {
        guard template.hasPrefix("/") else { return nil }
        var pattern = ""
        for segment in template.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            pattern += "/"
            switch segment {
            case "**": pattern += ".*"
            case "*": pattern += "[^/]+"
            default: pattern += NSRegularExpression.escapedPattern(for: String(segment))
            }
        }
        return RegexPattern(pattern)
    }
}
