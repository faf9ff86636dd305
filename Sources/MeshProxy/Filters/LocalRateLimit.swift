import Foundation

/// `envoy.filters.http.local_ratelimit`: a token bucket shared by the proxy's loops; a request that finds no token
/// is answered 429 `local_rate_limited` (flag RL) when the filter is enforced. `filter_enabled` and
/// `filter_enforced` default to 0% as in Envoy, so a config without them counts nothing and limits nothing.
public struct LocalRateLimitConfig: Sendable, Equatable {
    public var statPrefix: String
    /// nil: this filter config limits nothing (Istio's listener-level entry whose buckets are set per route).
    public var bucket: TokenBucketConfig?
    public var enabledFraction: Double
    public var enforcedFraction: Double
    public var status: Int
    public var responseHeaders: [HeaderValueOption]
    public var requestHeadersWhenNotEnforced: [HeaderValueOption]
    /// `enable_x_ratelimit_headers: DRAFT_VERSION_03`.
    public var rateLimitHeaders: Bool
}

public struct TokenBucketConfig: Sendable, Equatable, Hashable {
    public var maxTokens: Int
    public var tokensPerFill: Int
    /// Seconds.
    public var fillInterval: Double
}

extension LocalRateLimitConfig {
    static let type = "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> LocalRateLimitConfig {
        let prefix = try reader.requiredString("stat_prefix")
        let bucket = try reader.object("token_bucket") { bucket throws(ProxyConfigError) -> TokenBucketConfig in
            guard let maximum = try bucket.integer("max_tokens"), maximum > 0 else { throw bucket.error("needs max_tokens above 0", path: [.key("max_tokens")]) }
            let perFill = try bucket.integer("tokens_per_fill") ?? 1
            guard let interval = try bucket.duration("fill_interval"), interval >= 0.05 else {
                throw bucket.error("needs a fill_interval of at least 50ms", path: [.key("fill_interval")])
            }
            return TokenBucketConfig(maxTokens: maximum, tokensPerFill: perFill, fillInterval: interval)
        }
        func fraction(_ key: String) throws(ProxyConfigError) -> Double {
            try reader.object(key) { runtime throws(ProxyConfigError) -> Double in
                runtime.ignore("runtime_key")
                return try runtime.fractionalPercent("default_value") ?? 0
            } ?? 0
        }
        let enabled = try fraction("filter_enabled"), enforced = try fraction("filter_enforced")
        let status = try reader.object("status") { status throws(ProxyConfigError) -> Int in
            guard let code = try status.integer("code"), (400...599).contains(code) else { throw status.error("needs a code from 400 to 599", path: [.key("code")]) }
            return code
        } ?? 429
        let headers = try reader.list("response_headers_to_add") { option throws(ProxyConfigError) in try HeaderValueOption.read(option) }
        let requestHeaders = try reader.list("request_headers_to_add_when_not_enforced") { option throws(ProxyConfigError) in try HeaderValueOption.read(option) }
        let draft = try reader.enumeration("enable_x_ratelimit_headers", allowed: ["OFF", "DRAFT_VERSION_03"]) == "DRAFT_VERSION_03"
        if try reader.bool("local_rate_limit_per_downstream_connection") == true {
            throw reader.error("per-connection token buckets are not supported (the proxy's buckets are shared by all connections)",
                               path: [.key("local_rate_limit_per_downstream_connection")])
        }
        reader.ignore("stage", "always_consume_default_token_bucket", "rate_limited_as_resource_exhausted")
        if !(reader.node["descriptors"]?.items ?? []).isEmpty {
            throw reader.error("rate limit descriptors are not supported (only the default token bucket is)", path: [.key("descriptors")])
        }
        reader.ignore("descriptors", "vh_rate_limits")
        return LocalRateLimitConfig(statPrefix: prefix, bucket: bucket, enabledFraction: enabled, enforcedFraction: enforced, status: status,
                                    responseHeaders: headers, requestHeadersWhenNotEnforced: requestHeaders, rateLimitHeaders: draft)
    }
}

/// A token bucket: full at first, `tokensPerFill` more each `fillInterval` (at whole intervals since it was made).
final class TokenBucket: @unchecked Sendable {
    let config: TokenBucketConfig
    private let lock = NSLock()
    private var tokens: Int
    private var lastFill: Double

    init(_ config: TokenBucketConfig, now: Double = MonotonicClock.now()) {
        self.config = config
        tokens = config.maxTokens
        lastFill = now
    }

    /// Takes a token; false when there is none. `remaining` and `reset` (seconds to the next fill) are for the
    /// `x-ratelimit-*` headers.
    func consume(now: Double = MonotonicClock.now()) -> (allowed: Bool, remaining: Int, reset: Int) {
        lock.lock(); defer { lock.unlock() }
        let fills = Int((now - lastFill) / config.fillInterval)
        if fills > 0 {
            tokens = min(config.maxTokens, tokens + fills * config.tokensPerFill)
            lastFill += Double(fills) * config.fillInterval
        }
        let reset = Int((lastFill + config.fillInterval - now).rounded(.up))
        guard tokens > 0 else { return (false, 0, reset) }
        tokens -= 1
        return (true, tokens, reset)
    }
}

/// The proxy's token buckets, one per filter or route config (by its stat prefix, route and bucket settings), so
/// that every loop draws from the same bucket as in Envoy.
final class LocalRateLimiters: @unchecked Sendable {
    private let lock = NSLock()
    private var buckets: [String: TokenBucket] = [:]

    func bucket(_ key: String, _ config: TokenBucketConfig) -> TokenBucket {
        lock.lock(); defer { lock.unlock() }
        let full = "\(key)|\(config.maxTokens)|\(config.tokensPerFill)|\(config.fillInterval)"
        if let bucket = buckets[full] { return bucket }
        let bucket = TokenBucket(config)
        buckets[full] = bucket
        return bucket
    }
}

/// One request through the local rate limit filter.
enum LocalRateLimitRun {
    struct Outcome {
        /// Set when the request is answered by the filter.
        var reply: LocalReply?
        /// Headers for the response (the `x-ratelimit-*` ones) when the request goes on.
        var responseHeaders: [(name: String, value: String)] = []
        var requestHeaders: [HeaderValueOption] = []
    }

    static func check(_ config: LocalRateLimitConfig, bucketKey: String, limiters: LocalRateLimiters, stats: ProxyStats,
                      roll: () -> Double = { Double.random(in: 0..<1) }) -> Outcome {
        guard let settings = config.bucket else { return Outcome() }
        let prefix = config.statPrefix + ".http_local_rate_limit."
        guard roll() < config.enabledFraction else { return Outcome() }
        stats.increment(prefix + "enabled")
        let result = limiters.bucket(bucketKey, settings).consume()
        var headers: [(name: String, value: String)] = []
        if config.rateLimitHeaders {
            headers = [("x-ratelimit-limit", String(settings.maxTokens)), ("x-ratelimit-remaining", String(result.remaining)),
                       ("x-ratelimit-reset", String(result.reset))]
        }
        if result.allowed {
            stats.increment(prefix + "ok")
            return Outcome(responseHeaders: headers)
        }
        stats.increment(prefix + "rate_limited")
        guard roll() < config.enforcedFraction else { return Outcome(responseHeaders: headers, requestHeaders: config.requestHeadersWhenNotEnforced) }
        stats.increment(prefix + "enforced")
        var replyHeaders = headers
        RequestRewrite.apply(add: config.responseHeaders, remove: [], to: &replyHeaders)
        return Outcome(reply: LocalReply(status: config.status, body: "local_rate_limited", flags: [.rateLimited], details: "local_rate_limited",
                                         extraHeaders: replyHeaders))
    }
}
