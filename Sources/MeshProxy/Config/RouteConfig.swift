import ConfigValues
import Foundation

/// A route configuration (`envoy.config.route.v3.RouteConfiguration`): virtual hosts in order.
public struct RouteConfiguration: Sendable {
    public var name: String
    public var virtualHosts: [VirtualHost]
    /// The RDS `version_info` it came with, when it came from a file.
    public var version: String?
    /// The source as written, for `/config_dump`.
    public var source: JSONValue
    /// `ignore_port_in_host_matching`: a port in the authority is dropped before virtual hosts are matched (a gateway
    /// reached through another port, such as local mode's host port, still finds `host`).
    public var ignorePortInHostMatching = false
    /// `validate_clusters`; unset, Envoy checks a route configuration written inline in its connection manager and
    /// not one that comes over RDS.
    public var validateClusters: Bool?
    /// Each cluster a route names (`cluster`, `weighted_clusters`), with the error to give when it is not defined.
    var clusterReferences: [(name: String, undefined: ProxyConfigError)] = []

    /// Checks, when `validate_clusters` is on (inline: by default), that every cluster a route names is one of
    /// `clusters`, as Envoy refuses such a route table (with it off, the route answers 503 at request time).
    func checkClusters(inline: Bool, known clusters: (String) -> Bool) throws(ProxyConfigError) {
        guard validateClusters ?? inline else { return }
        for reference in clusterReferences where !clusters(reference.name) { throw reference.undefined }
    }
}

/// A virtual host: immutable and shared (a class), so a request holding it retains one reference instead of each
/// array and string inside it.
public final class VirtualHost: Sendable {
    public let name: String
    public let domains: [String]
    public let routes: [Route]
    public let includeRequestAttemptCount: Bool
    public let retryPolicy: RetryPolicy?
    public let headers: HeaderMutations

    init(name: String, domains: [String], routes: [Route], includeRequestAttemptCount: Bool, retryPolicy: RetryPolicy?, headers: HeaderMutations) {
        self.name = name
        self.domains = domains
        self.routes = routes
        self.includeRequestAttemptCount = includeRequestAttemptCount
        self.retryPolicy = retryPolicy
        self.headers = headers
    }
}

/// Headers a route or virtual host adds or removes.
public struct HeaderMutations: Sendable, Equatable {
    public var requestAdd: [HeaderValueOption] = []
    public var requestRemove: [String] = []
    public var responseAdd: [HeaderValueOption] = []
    public var responseRemove: [String] = []
    public init() {}
}

public struct HeaderValueOption: Sendable, Equatable {
    public var name: String
    public var value: String
    /// APPEND_IF_EXISTS_OR_ADD (true) or OVERWRITE_IF_EXISTS_OR_ADD (false).
    public var append: Bool
}

/// A route: immutable and shared (a class), so a request holding it retains one reference.
public final class Route: Sendable {
    public let name: String?
    public let match: RouteMatch
    public let action: RouteAction
    public let headers: HeaderMutations
    /// `typed_per_filter_config`: the route's overrides of the fault, RBAC and local rate limit filters.
    public let filterConfigs: PerRouteFilterConfigs
    public var fault: FaultConfig? { filterConfigs.fault }

    init(name: String?, match: RouteMatch, action: RouteAction, headers: HeaderMutations, filterConfigs: PerRouteFilterConfigs = PerRouteFilterConfigs()) {
        self.name = name
        self.match = match
        self.action = action
        self.headers = headers
        self.filterConfigs = filterConfigs
    }
}

/// A string comparison (`envoy.type.matcher.v3.StringMatcher`).
public struct StringMatcher: Sendable {
    public enum Rule: Sendable { case exact(String), prefix(String), suffix(String), contains(String), regex(RegexPattern) }
    public var rule: Rule
    public var ignoreCase: Bool

    public func matches(_ value: String) -> Bool {
        let subject = ignoreCase ? value.lowercased() : value
        func folded(_ text: String) -> String { ignoreCase ? text.lowercased() : text }
        switch rule {
        case .exact(let text): return subject == folded(text)
        case .prefix(let text): return subject.hasPrefix(folded(text))
        case .suffix(let text): return subject.hasSuffix(folded(text))
        case .contains(let text): return subject.contains(folded(text))
        case .regex(let pattern): return pattern.matchesWhole(value)
        }
    }
}

/// A `safe_regex` (RE2 syntax; the proxy runs it with Foundation's engine, which accepts RE2's common subset).
public struct RegexPattern: @unchecked Sendable {
    public let text: String
    let expression: NSRegularExpression

    init?(_ text: String) {
        guard let expression = try? NSRegularExpression(pattern: text) else { return nil }
        self.text = text
        self.expression = expression
    }

    /// Whether the whole of `value` matches (Envoy's safe_regex matches are anchored).
    public func matchesWhole(_ value: String) -> Bool {
        let range = NSRange(value.startIndex..., in: value)
        guard let match = expression.firstMatch(in: value, options: [.anchored], range: range) else { return false }
        return match.range == range
    }

    /// `value` with every match replaced by `substitution` (`\1` refers to a group).
    public func replacingAll(in value: String, with substitution: String) -> String {
        let template = substitution.replacingOccurrences(of: "$", with: "\\$").replacingOccurrences(
            of: #"\\([0-9])"#, with: "\\$$1", options: .regularExpression)
        return expression.stringByReplacingMatches(in: value, range: NSRange(value.startIndex..., in: value), withTemplate: template)
    }
}

public struct HeaderMatcher: Sendable {
    public enum Rule: Sendable { case present(Bool), string(StringMatcher), range(Int, Int) }
    public var name: String
    public var rule: Rule
    public var invert: Bool
    /// With `treat_missing_header_as_empty`, an absent header is matched as "".
    public var missingAsEmpty: Bool
}

public struct QueryParameterMatcher: Sendable {
    public var name: String
    /// nil: the parameter must be present.
    public var matcher: StringMatcher?
}

public struct RouteMatch: Sendable {
    public enum Path: Sendable { case prefix(String), path(String), regex(RegexPattern), pathSeparatedPrefix(String) }
    public var path: Path
    public var caseSensitive: Bool
    public var headers: [HeaderMatcher]
    public var queryParameters: [QueryParameterMatcher]
}

public enum RouteAction: Sendable {
    case forward(ForwardAction)
    case redirect(Redirect)
    case directResponse(status: Int, body: String?)
}

public struct WeightedCluster: Sendable, Equatable {
    public var name: String
    public var weight: Int
    /// Headers added or removed when this cluster is the one picked (Istio's per-destination `headers`).
    public var headers = HeaderMutations()
}

/// What `route:` says: where to send the request and how. Immutable and shared (a class), so a request holding it
/// retains one reference.
public final class ForwardAction: Sendable {
    public enum Target: Sendable { case cluster(String), weighted([WeightedCluster]) }
    public let target: Target
    /// Seconds; 0 disables (Envoy's default is 15 s).
    public let timeout: Double
    public let idleTimeout: Double?
    public let retryPolicy: RetryPolicy?
    public let prefixRewrite: String?
    public let regexRewrite: (pattern: RegexPattern, substitution: String)?
    public let hostRewrite: String?
    public let autoHostRewrite: Bool
    public let hashPolicies: [HashPolicy]
    /// `request_mirror_policies`: clusters that get a copy of each request (shadow traffic).
    public let mirrorPolicies: [MirrorPolicy]
    /// `max_stream_duration`: how long the stream may last, and the gRPC timeout header's part in it.
    public let streamDuration: StreamDuration

    init(target: Target, timeout: Double, idleTimeout: Double?, retryPolicy: RetryPolicy?, prefixRewrite: String?,
                regexRewrite: (pattern: RegexPattern, substitution: String)?, hostRewrite: String?, autoHostRewrite: Bool,
                hashPolicies: [HashPolicy], mirrorPolicies: [MirrorPolicy] = [], streamDuration: StreamDuration = StreamDuration()) {
        self.target = target
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.retryPolicy = retryPolicy
        self.prefixRewrite = prefixRewrite
        self.regexRewrite = regexRewrite
        self.hostRewrite = hostRewrite
        self.autoHostRewrite = autoHostRewrite
        self.hashPolicies = hashPolicies
        self.mirrorPolicies = mirrorPolicies
        self.streamDuration = streamDuration
    }
}

/// A route's `max_stream_duration`: the stream's longest life (0: none), and whether a request's `grpc-timeout` sets
/// it (`grpc_timeout_header_max` present; 0 takes the header as it is, else caps it), less an offset. Past it, the
/// connection manager answers 504 (with grpc-status 4 for gRPC) and logs `max_duration_timeout`.
public struct StreamDuration: Sendable {
    public var maximum: Double = 0
    public var grpcTimeoutHeaderMax: Double?
    public var grpcTimeoutHeaderOffset: Double = 0

    /// The duration for a request with these headers; nil for none.
    /// The header is looked up only when the route reads it (a lookup costs the HTTP/1 path an allocation).
    public func limit(grpcTimeout header: @autoclosure () -> String?) -> Double? {
        if let cap = grpcTimeoutHeaderMax, let header = header(), let asked = Self.parseGRPCTimeout(header) {
            var limit = cap > 0 ? min(asked, cap) : asked
            if grpcTimeoutHeaderOffset > 0 && limit > grpcTimeoutHeaderOffset { limit -= grpcTimeoutHeaderOffset }
            return limit > 0 ? limit : nil
        }
        return maximum > 0 ? maximum : nil
    }

    /// `grpc-timeout`'s value in seconds: up to 8 digits and a unit (H, M, S, m, u, n); nil when malformed.
    public static func parseGRPCTimeout(_ value: String) -> Double? {
        guard let unit = value.last, value.count >= 2, value.count <= 9, let amount = Int(value.dropLast()), amount >= 0,
              value.dropLast().allSatisfy(\.isASCII) else { return nil }
        switch unit {
        case "H": return Double(amount) * 3600
        case "M": return Double(amount) * 60
        case "S": return Double(amount)
        case "m": return Double(amount) / 1000
        case "u": return Double(amount) / 1_000_000
        case "n": return Double(amount) / 1_000_000_000
        default: return nil
        }
    }
}

/// A `request_mirror_policies` entry: a copy of a share of the route's requests goes to `cluster`, or to the
/// cluster the request's `cluster_header` names (no header, or no such cluster: no copy).
public struct MirrorPolicy: Sendable, Equatable {
    /// Empty when `clusterHeader` names the shadow.
    public var cluster: String
    /// `cluster_header`, lowercased.
    public var clusterHeader: String? = nil
    /// `runtime_fraction.default_value` as a fraction of 1 (absent: every request).
    public var fraction: Double
    /// `disable_shadow_host_suffix_append`: keep the Host as it is instead of adding `-shadow`.
    public var keepsHost: Bool
}

public struct Redirect: Sendable {
    public var scheme: String?
    public var host: String?
    public var port: Int?
    public var path: String?
    public var prefixRewrite: String?
    /// 301, 302, 303, 307 or 308.
    public var status: Int
    public var stripQuery: Bool
}

/// How RING_HASH and MAGLEV pick a host for a request.
public struct HashPolicy: Sendable {
    public enum Source: Sendable { case header(String), cookie(String), generatedCookie(GeneratedCookie), sourceIP, queryParameter(String) }
    public var source: Source
    public var terminal: Bool
}

/// A hash cookie with a `ttl`: when a request lacks it the proxy makes a value, hashes that, and sets the cookie on
/// the answer (`Set-Cookie`), so the client's next requests go to the same host.
public struct GeneratedCookie: Sendable, Equatable {
    public var name: String
    public var path: String?
    /// Seconds; 0 makes a session cookie (no Max-Age).
    public var ttl: Int
    public var attributes: [(name: String, value: String)]

    public static func == (a: GeneratedCookie, b: GeneratedCookie) -> Bool {
        a.name == b.name && a.path == b.path && a.ttl == b.ttl && a.attributes.map(\.name) == b.attributes.map(\.name)
            && a.attributes.map(\.value) == b.attributes.map(\.value)
    }

    /// The `Set-Cookie` value, as Envoy writes it: `name="value"; Max-Age=N; Path=P; attributes; HttpOnly`.
    public func setCookie(value: String) -> String {
        var text = "\(name)=\"\(value)\""
        if ttl > 0 { text += "; Max-Age=\(ttl)" }
        if let path, !path.isEmpty { text += "; Path=\(path)" }
        for attribute in attributes { text += attribute.value.isEmpty ? "; \(attribute.name)" : "; \(attribute.name)=\(attribute.value)" }
        return text + "; HttpOnly"
    }
}

/// `retry_policy`: when and how often a request is tried again.
public struct RetryPolicy: Sendable, Equatable {
    public var retryOn: Set<String>
    public var numRetries: Int
    public var perTryTimeout: Double?
    public var retriableStatusCodes: Set<Int>
    public var previousHosts: Bool
    public var hostSelectionMaxAttempts: Int
    /// Seconds; Envoy's defaults are 25 ms and 10 times that.
    public var backoffBase: Double
    public var backoffMax: Double

    public static let supportedConditions: Set<String> = [
        "5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream", "retriable-status-codes",
        "unavailable", "cancelled", "deadline-exceeded", "resource-exhausted", "internal", "envoy-ratelimited",
        "reset-before-request", "http3-post-connect-failure",
    ]
}

/// The HTTP fault filter's settings (`envoy.extensions.filters.http.fault.v3.HTTPFault`), from the filter itself
/// or a route's `typed_per_filter_config`.
public struct FaultConfig: Sendable, Equatable {
    public var abortStatus: Int?
    /// `grpc_status`: the abort answers 200 with this gRPC status (trailers-only for gRPC requests), as Envoy does.
    public var abortGRPCStatus: Int? = nil
    /// Abort status taken from the `x-envoy-fault-abort-request` header.
    public var abortFromHeader: Bool
    public var abortFraction: Double
    public var delaySeconds: Double?
    public var delayFromHeader: Bool
    public var delayFraction: Double
    public var isEmpty: Bool { abortStatus == nil && abortGRPCStatus == nil && !abortFromHeader && delaySeconds == nil && !delayFromHeader }

    static let none = FaultConfig(abortStatus: nil, abortFromHeader: false, abortFraction: 0, delaySeconds: nil, delayFromHeader: false, delayFraction: 0)
}

// MARK: - Reading

extension RouteConfiguration {
    static func read(_ reader: ConfigReader, version: String?) throws(ProxyConfigError) -> RouteConfiguration {
        let name = try reader.string("name") ?? ""
        let validate = try reader.bool("validate_clusters")
        let ignorePort = try reader.bool("ignore_port_in_host_matching") ?? false
        let hosts = try reader.list("virtual_hosts") { hostReader throws(ProxyConfigError) in try VirtualHost.read(hostReader) }
        var config = RouteConfiguration(name: name, virtualHosts: hosts, version: version, source: JSONValue(yaml: reader.node))
        config.ignorePortInHostMatching = ignorePort
        config.validateClusters = validate
        // Off (as the pilot writes every table), nothing is checked: the references and their errors are not made.
        if validate != false { config.clusterReferences = routeClusterReferences(reader) }
        if config.source["@type"] != nil { config.source["@type"] = nil }
        return config
    }
}

/// The clusters the routes of a route configuration name, each with the error for a cluster not defined.
private func routeClusterReferences(_ reader: ConfigReader) -> [(name: String, undefined: ProxyConfigError)] {
    var references: [(name: String, undefined: ProxyConfigError)] = []
    func add(_ node: YAMLNode?, _ path: [YAMLPathComponent]) {
        guard let node, let name = node.scalarText, !name.isEmpty else { return }
        references.append((name, reader.error("the route names cluster \(name), which is not defined (define it, or set validate_clusters: false "
                                              + "to load the routes and answer 503 when the route is taken, as Envoy does)", at: node, path: path)))
    }
    for (hostIndex, host) in (reader.node["virtual_hosts"]?.items ?? []).enumerated() {
        for (routeIndex, route) in (host["routes"]?.items ?? []).enumerated() {
            guard let action = route["route"] else { continue }
            let base: [YAMLPathComponent] = [.key("virtual_hosts"), .index(hostIndex), .key("routes"), .index(routeIndex), .key("route")]
            add(action["cluster"], base + [.key("cluster")])
            for (index, cluster) in (action["weighted_clusters"]?["clusters"]?.items ?? []).enumerated() {
                add(cluster["name"], base + [.key("weighted_clusters"), .key("clusters"), .index(index), .key("name")])
            }
        }
    }
    return references
}

extension VirtualHost {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> VirtualHost {
        let name = try reader.requiredString("name")
        let domains = try reader.strings("domains")
        guard !domains.isEmpty else { throw reader.error("needs at least one domain", path: [.key("domains")]) }
        let routes = try reader.list("routes") { routeReader throws(ProxyConfigError) in try Route.read(routeReader) }
        let attempts = try reader.bool("include_request_attempt_count") ?? false
        let retry = try reader.object("retry_policy") { policy throws(ProxyConfigError) in try RetryPolicy.read(policy) }
        let headers = try HeaderMutations.read(reader)
        return VirtualHost(name: name, domains: domains, routes: routes, includeRequestAttemptCount: attempts, retryPolicy: retry, headers: headers)
    }
}

extension HeaderMutations {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> HeaderMutations {
        var mutations = HeaderMutations()
        mutations.requestAdd = try reader.list("request_headers_to_add") { option throws(ProxyConfigError) in try HeaderValueOption.read(option) }
        mutations.requestRemove = try reader.strings("request_headers_to_remove")
        mutations.responseAdd = try reader.list("response_headers_to_add") { option throws(ProxyConfigError) in try HeaderValueOption.read(option) }
        mutations.responseRemove = try reader.strings("response_headers_to_remove")
        return mutations
    }
}

extension HeaderValueOption {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> HeaderValueOption {
        let header = try reader.object("header") { header throws(ProxyConfigError) -> (String, String) in
            (try header.requiredString("key").lowercased(), try header.string("value") ?? "")
        }
        guard let header else { throw reader.error("needs a header", path: [.key("header")]) }
        var append = true
        if let flag = try reader.bool("append") { append = flag }
        if let action = try reader.enumeration("append_action", allowed: ["APPEND_IF_EXISTS_OR_ADD", "OVERWRITE_IF_EXISTS_OR_ADD"]) {
            append = action == "APPEND_IF_EXISTS_OR_ADD"
        }
        return HeaderValueOption(name: header.0, value: header.1, append: append)
    }
}

extension Route {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> Route {
        let name = try reader.string("name")
        guard let match = try reader.object("match", { match throws(ProxyConfigError) in try RouteMatch.read(match) }) else {
            throw reader.error("needs a match", path: [.key("match")])
        }
        reader.ignore("metadata", "decorator")
        let perFilter = try PerRouteFilterConfigs.read(reader)
        let action: RouteAction
        let actions = ["route", "redirect", "direct_response"].filter { reader.has($0) }
        guard actions.count == 1 else { throw reader.error("needs exactly one of route, redirect, direct_response") }
        switch actions[0] {
        case "route":
            action = .forward(try reader.object("route") { forward throws(ProxyConfigError) in try ForwardAction.read(forward) }!)
        case "redirect":
            action = .redirect(try reader.object("redirect") { redirect throws(ProxyConfigError) in try Redirect.read(redirect) }!)
        default:
            action = try reader.object("direct_response") { direct throws(ProxyConfigError) -> RouteAction in
                guard let status = try direct.integer("status"), (200...599).contains(status) else {
                    throw direct.error("needs a status from 200 to 599", path: [.key("status")])
                }
                let body = try direct.object("body") { body throws(ProxyConfigError) in try body.string("inline_string") }
                return .directResponse(status: status, body: body ?? nil)
            }!
        }
        return Route(name: name, match: match, action: action, headers: try HeaderMutations.read(reader), filterConfigs: perFilter)
    }
}

extension StringMatcher {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> StringMatcher {
        let ignoreCase = try reader.bool("ignore_case") ?? false
        var rules: [Rule] = []
        if let text = try reader.string("exact") { rules.append(.exact(text)) }
        if let text = try reader.string("prefix") { rules.append(.prefix(text)) }
        if let text = try reader.string("suffix") { rules.append(.suffix(text)) }
        if let text = try reader.string("contains") { rules.append(.contains(text)) }
        if let regex = try reader.object("safe_regex", { regex throws(ProxyConfigError) in try RegexPattern.read(regex) }) { rules.append(.regex(regex)) }
        guard rules.count == 1 else { throw reader.error("needs exactly one of exact, prefix, suffix, contains, safe_regex") }
        return StringMatcher(rule: rules[0], ignoreCase: ignoreCase)
    }
}

extension RegexPattern {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> RegexPattern {
        reader.ignore("google_re2")
        let text = try reader.requiredString("regex")
        guard let pattern = RegexPattern(text) else { throw reader.error("is not a valid regular expression", path: [.key("regex")]) }
        return pattern
    }
}

extension RouteMatch {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> RouteMatch {
        var paths: [Path] = []
        if let text = try reader.string("prefix") { paths.append(.prefix(text)) }
        if let text = try reader.string("path") { paths.append(.path(text)) }
        if let text = try reader.string("path_separated_prefix") { paths.append(.pathSeparatedPrefix(text)) }
        if let regex = try reader.object("safe_regex", { regex throws(ProxyConfigError) in try RegexPattern.read(regex) }) { paths.append(.regex(regex)) }
        guard paths.count == 1 else { throw reader.error("needs exactly one of prefix, path, path_separated_prefix, safe_regex") }
        let caseSensitive = try reader.bool("case_sensitive") ?? true
        let headers = try reader.list("headers") { header throws(ProxyConfigError) in try HeaderMatcher.read(header) }
        let queries = try reader.list("query_parameters") { query throws(ProxyConfigError) -> QueryParameterMatcher in
            let name = try query.requiredString("name")
            let matcher = try query.object("string_match") { string throws(ProxyConfigError) in try StringMatcher.read(string) }
            let present = try query.bool("present_match")
            if matcher != nil && present != nil { throw query.error("needs either string_match or present_match, not both") }
            return QueryParameterMatcher(name: name, matcher: matcher)
        }
        return RouteMatch(path: paths[0], caseSensitive: caseSensitive, headers: headers, queryParameters: queries)
    }
}

extension ForwardAction {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> ForwardAction {
        var targets: [Target] = []
        if let cluster = try reader.string("cluster") { targets.append(.cluster(cluster)) }
        if let weighted = try reader.object("weighted_clusters", { weighted throws(ProxyConfigError) -> [WeightedCluster] in
            weighted.ignore("total_weight")
            let clusters = try weighted.list("clusters") { cluster throws(ProxyConfigError) -> WeightedCluster in
                WeightedCluster(name: try cluster.requiredString("name"), weight: try cluster.integer("weight") ?? 0, headers: try HeaderMutations.read(cluster))
            }
            guard clusters.contains(where: { $0.weight > 0 }) else { throw weighted.error("needs a cluster with a weight above 0", path: [.key("clusters")]) }
            return clusters
        }) { targets.append(.weighted(weighted)) }
        guard targets.count == 1 else { throw reader.error("needs exactly one of cluster, weighted_clusters (cluster_header is not supported)") }
        let timeout = try reader.duration("timeout") ?? 15
        let idle = try reader.duration("idle_timeout")
        let retry = try reader.object("retry_policy") { policy throws(ProxyConfigError) in try RetryPolicy.read(policy) }
        let prefixRewrite = try reader.string("prefix_rewrite")
        let regexRewrite = try reader.object("regex_rewrite") { rewrite throws(ProxyConfigError) -> (RegexPattern, String) in
            guard let pattern = try rewrite.object("pattern", { regex throws(ProxyConfigError) in try RegexPattern.read(regex) }) else {
                throw rewrite.error("needs a pattern", path: [.key("pattern")])
            }
            return (pattern, try rewrite.string("substitution") ?? "")
        }
        if prefixRewrite != nil && regexRewrite != nil { throw reader.error("needs at most one of prefix_rewrite, regex_rewrite") }
        let hostRewrite = try reader.string("host_rewrite_literal")
        let autoHost = try reader.bool("auto_host_rewrite") ?? false
        let hashPolicies = try reader.list("hash_policy") { policy throws(ProxyConfigError) in try HashPolicy.read(policy) }
        // Istio sets these on every route; the proxy reads no grpc-timeout header yet, so only zero values (off) are accepted.
        for key in ["max_grpc_timeout", "grpc_timeout_offset"] {
            if let value = try reader.duration(key), value != 0, value != timeout {
                throw reader.error("a non-zero \(key) that differs from timeout is not supported", path: [.key(key)])
            }
        }
        var streamDuration = StreamDuration()
        _ = try reader.object("max_stream_duration") { duration throws(ProxyConfigError) in
            streamDuration.maximum = try duration.duration("max_stream_duration") ?? 0
            streamDuration.grpcTimeoutHeaderMax = try duration.duration("grpc_timeout_header_max")
            streamDuration.grpcTimeoutHeaderOffset = try duration.duration("grpc_timeout_header_offset") ?? 0
        }
        let mirrors = try reader.list("request_mirror_policies") { policy throws(ProxyConfigError) in try MirrorPolicy.read(policy) }
        return ForwardAction(target: targets[0], timeout: timeout, idleTimeout: idle, retryPolicy: retry, prefixRewrite: prefixRewrite,
                             regexRewrite: regexRewrite.map { (pattern: $0.0, substitution: $0.1) }, hostRewrite: hostRewrite,
                             autoHostRewrite: autoHost, hashPolicies: hashPolicies, mirrorPolicies: mirrors, streamDuration: streamDuration)
    }
}

extension Redirect {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> Redirect {
        let https = try reader.bool("https_redirect") ?? false
        let scheme = try reader.string("scheme_redirect") ?? (https ? "https" : nil)
        let host = try reader.string("host_redirect")
        let port = try reader.integer("port_redirect", maximum: 65535)
        let path = try reader.string("path_redirect")
        let prefix = try reader.string("prefix_rewrite")
        let codes = ["MOVED_PERMANENTLY": 301, "FOUND": 302, "SEE_OTHER": 303, "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308]
        let code = try reader.enumeration("response_code", allowed: ["MOVED_PERMANENTLY", "FOUND", "SEE_OTHER", "TEMPORARY_REDIRECT", "PERMANENT_REDIRECT"])
        return Redirect(scheme: scheme, host: host, port: port, path: path, prefixRewrite: prefix, status: code.flatMap { codes[$0] } ?? 301,
                        stripQuery: try reader.bool("strip_query") ?? false)
    }
}

extension MirrorPolicy {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> MirrorPolicy {
        let named = try reader.string("cluster"), header = try reader.string("cluster_header")
        guard (named?.isEmpty ?? true) != (header?.isEmpty ?? true) else {
            throw reader.error("needs exactly one of cluster (the shadow cluster's name) and cluster_header (the request header naming it)")
        }
        if let header, !HeaderName.isValid(header) {
            throw reader.error("\(header) is not a valid header name", at: reader.field("cluster_header"), path: [.key("cluster_header")])
        }
        var fraction = 1.0
        _ = try reader.object("runtime_fraction") { runtime throws(ProxyConfigError) in
            runtime.ignore("runtime_key")  // no runtime layer: the default value applies
            fraction = try runtime.fractionalPercent("default_value") ?? 0
        }
        _ = try reader.bool("trace_sampled")  // no tracer: nothing to sample
        let keepsHost = try reader.bool("disable_shadow_host_suffix_append") ?? false
        return MirrorPolicy(cluster: named ?? "", clusterHeader: header?.lowercased(), fraction: fraction, keepsHost: keepsHost)
    }
}

extension HashPolicy {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> HashPolicy {
        var sources: [Source] = []
        if let name = try reader.object("header", { header throws(ProxyConfigError) in try header.requiredString("header_name").lowercased() }) { sources.append(.header(name)) }
        if let cookie = try reader.object("cookie", { cookie throws(ProxyConfigError) -> Source in
            let name = try cookie.requiredString("name")
            let path = try cookie.string("path")
            let attributes = try cookie.list("attributes") { attribute throws(ProxyConfigError) in
                (name: try attribute.requiredString("name"), value: try attribute.string("value") ?? "")
            }
            guard let ttl = try cookie.duration("ttl") else { return .cookie(name) }
            return .generatedCookie(GeneratedCookie(name: name, path: path, ttl: Int(ttl), attributes: attributes))
        }) { sources.append(cookie) }
        if let on = try reader.object("connection_properties", { properties throws(ProxyConfigError) in try properties.bool("source_ip") ?? false }), on { sources.append(.sourceIP) }
        if let name = try reader.object("query_parameter", { query throws(ProxyConfigError) in try query.requiredString("name") }) { sources.append(.queryParameter(name)) }
        guard sources.count == 1 else { throw reader.error("needs exactly one of header, cookie, connection_properties, query_parameter") }
        return HashPolicy(source: sources[0], terminal: try reader.bool("terminal") ?? false)
    }
}

extension RetryPolicy {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> RetryPolicy {
        let conditions = (try reader.string("retry_on") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for condition in conditions where !supportedConditions.contains(condition) {
            throw reader.error("\(condition) is not a retry_on condition meshctl's proxy knows", path: [.key("retry_on")])
        }
        let retries = try reader.integer("num_retries") ?? 1
        let perTry = try reader.duration("per_try_timeout")
        var codes: Set<Int> = []
        if let list = reader.field("retriable_status_codes") {
            for (index, item) in (list.items ?? []).enumerated() {
                guard let code = item.int, (100...599).contains(code) else {
                    throw reader.error("must be an HTTP status code", at: item, path: [.key("retriable_status_codes"), .index(index)])
                }
                codes.insert(code)
            }
        }
        var previousHosts = false
        _ = try reader.list("retry_host_predicate") { predicate throws(ProxyConfigError) in
            let name = try predicate.requiredString("name")
            _ = try predicate.object("typed_config") { typed throws(ProxyConfigError) in _ = try typed.typeName() }
            guard name == "envoy.retry_host_predicates.previous_hosts" else {
                throw predicate.error("\(name) is not supported (only envoy.retry_host_predicates.previous_hosts is)", path: [.key("name")])
            }
            previousHosts = true
        }
        let attempts = try reader.integer("host_selection_retry_max_attempts", maximum: Int(Int32.max)) ?? 1
        var base = 0.025, maximum: Double?
        _ = try reader.object("retry_back_off") { backOff throws(ProxyConfigError) in
            if let value = try backOff.duration("base_interval") { base = max(value, 0.001) }
            maximum = try backOff.duration("max_interval")
        }
        return RetryPolicy(retryOn: Set(conditions), numRetries: retries, perTryTimeout: perTry, retriableStatusCodes: codes,
                           previousHosts: previousHosts, hostSelectionMaxAttempts: attempts, backoffBase: base, backoffMax: maximum ?? base * 10)
    }
}

extension FaultConfig {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> FaultConfig {
        var fault = FaultConfig.none
        _ = try reader.object("abort") { abort throws(ProxyConfigError) in
            fault.abortStatus = try abort.integer("http_status")
            if let status = fault.abortStatus, !(200..<600).contains(status) { throw abort.error("must be from 200 to 599", path: [.key("http_status")]) }
            fault.abortFromHeader = try abort.object("header_abort") { _ throws(ProxyConfigError) in true } ?? false
            fault.abortGRPCStatus = try abort.integer("grpc_status")
            fault.abortFraction = try abort.fractionalPercent("percentage") ?? 0
        }
        _ = try reader.object("delay") { delay throws(ProxyConfigError) in
            fault.delaySeconds = try delay.duration("fixed_delay")
            fault.delayFromHeader = try delay.object("header_delay") { _ throws(ProxyConfigError) in true } ?? false
            fault.delayFraction = try delay.fractionalPercent("percentage") ?? 0
        }
        return fault
    }
}

extension HeaderMatcher {
    /// A `HeaderMatcher` (route matches, RBAC rules): at most one way to match, absent meaning present.
    static func read(_ header: ConfigReader) throws(ProxyConfigError) -> HeaderMatcher {
        let name = try header.requiredString("name").lowercased()
        let invert = try header.bool("invert_match") ?? false
        let missingAsEmpty = try header.bool("treat_missing_header_as_empty") ?? false
        var rules: [HeaderMatcher.Rule] = []
        if let present = try header.bool("present_match") { rules.append(.present(present)) }
        if let matcher = try header.object("string_match", { string throws(ProxyConfigError) in try StringMatcher.read(string) }) { rules.append(.string(matcher)) }
        if let text = try header.string("exact_match") { rules.append(.string(StringMatcher(rule: .exact(text), ignoreCase: false))) }
        if let text = try header.string("prefix_match") { rules.append(.string(StringMatcher(rule: .prefix(text), ignoreCase: false))) }
        if let text = try header.string("suffix_match") { rules.append(.string(StringMatcher(rule: .suffix(text), ignoreCase: false))) }
        if let regex = try header.object("safe_regex_match", { regex throws(ProxyConfigError) in try RegexPattern.read(regex) }) {
            rules.append(.string(StringMatcher(rule: .regex(regex), ignoreCase: false)))
        }
        if let range = try header.object("range_match", { range throws(ProxyConfigError) -> (Int, Int) in
            // int64 bounds: a fraction or a number past Int64 is an error, not a truncation or a trap.
            func bound(_ key: String) throws(ProxyConfigError) -> Int {
                guard let number = try range.number(key) else { return 0 }
                guard let whole = Int64(exactly: number) else {
                    throw range.error("must be a whole number from \(Int64.min) to \(Int64.max)", at: range.field(key), path: [.key(key)])
                }
                return Int(whole)
            }
            return (try bound("start"), try bound("end"))
        }) { rules.append(.range(range.0, range.1)) }
        guard rules.count <= 1 else { throw header.error("needs at most one way to match the header") }
        return HeaderMatcher(name: name, rule: rules.first ?? .present(true), invert: invert, missingAsEmpty: missingAsEmpty)
    }
}
