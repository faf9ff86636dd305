import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// `envoy.filters.http.local_ratelimit`: the token bucket, and the filter in the data path in the shape Istio's
/// docs apply with an EnvoyFilter (a listener-level entry without a bucket, the bucket per route).
final class LocalRateLimitTests: PolicyFilterTestCase {
    static func limit(_ prefix: String, maxTokens: Int, enforced: Int = 100, extra: String = "") -> String {
        """
        {"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: \(prefix), token_bucket: {max_tokens: \(maxTokens), tokens_per_fill: \(maxTokens), fill_interval: 60s}, filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}, filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: \(enforced), denominator: HUNDRED}}, response_headers_to_add: [{append_action: OVERWRITE_IF_EXISTS_OR_ADD, header: {key: x-local-rate-limit, value: "true"}}]\(extra)}
        """
    }

    func testTheBucketRefillsAtWholeIntervals() {
        let bucket = TokenBucket(TokenBucketConfig(maxTokens: 3, tokensPerFill: 2, fillInterval: 1), now: 100)
        XCTAssertEqual((0..<4).map { _ in bucket.consume(now: 100.5).allowed }, [true, true, true, false])
        XCTAssertEqual(bucket.consume(now: 100.9).reset, 1)
        XCTAssertEqual((0..<3).map { _ in bucket.consume(now: 101.2).allowed }, [true, true, false], "two tokens per fill")
        XCTAssertEqual((0..<4).map { _ in bucket.consume(now: 110).allowed }, [true, true, true, false], "never above max_tokens")
    }

    func testAPerRouteBucketAnswers429AfterItsTokensAndOtherRoutesAreNotLimited() throws {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        // Istio's docs: the listener-level filter only names the stat prefix; the route carries the bucket.
        bootstrap.httpFilters = ["{name: envoy.filters.http.local_ratelimit, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: http_local_rate_limiter}}"]
        bootstrap.routes = [
            "{name: limited, match: {prefix: /limited}, route: {cluster: app}, typed_per_filter_config: {envoy.filters.http.local_ratelimit: \(Self.limit("http_local_rate_limiter", maxTokens: 3))}}",
            "{name: all, match: {prefix: /}, route: {cluster: app}}",
        ]
        let proxy = try start(bootstrap, concurrency: 2)
        let statuses = try (0..<5).map { _ in try TestClient.get(port: bootstrap.httpPort, path: "/limited", host: "app").status }
        XCTAssertEqual(statuses, [200, 200, 200, 429, 429])
        let limited = try TestClient.get(port: bootstrap.httpPort, path: "/limited", host: "app")
        XCTAssertEqual(limited.body, "local_rate_limited")
        XCTAssertEqual(limited.header("x-local-rate-limit"), "true")
        XCTAssertNil(limited.header("x-ratelimit-limit"), "only with enable_x_ratelimit_headers")
        XCTAssertEqual(try (0..<5).map { _ in try TestClient.get(port: bootstrap.httpPort, path: "/other", host: "app").status }, [200, 200, 200, 200, 200])
        XCTAssertEqual(bootstrap.accessLogLines(count: 11)[3], "/limited 429 RL local_rate_limited")
        XCTAssertEqual(proxy.stats.value("http_local_rate_limiter.http_local_rate_limit.enabled"), 6)
        XCTAssertEqual(proxy.stats.value("http_local_rate_limiter.http_local_rate_limit.ok"), 3)
        XCTAssertEqual(proxy.stats.value("http_local_rate_limiter.http_local_rate_limit.rate_limited"), 3)
        XCTAssertEqual(proxy.stats.value("http_local_rate_limiter.http_local_rate_limit.enforced"), 3)
    }

    func testNotEnforcedCountsOnlyAndDraftHeadersTellTheClient() throws {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        bootstrap.httpFilters = ["{name: envoy.filters.http.local_ratelimit, typed_config: \(Self.limit("shadow", maxTokens: 1, enforced: 0, extra: ", enable_x_ratelimit_headers: DRAFT_VERSION_03"))}"]
        let proxy = try start(bootstrap, concurrency: 2)
        let first = try TestClient.get(port: bootstrap.httpPort, path: "/a", host: "app")
        XCTAssertEqual(first.header("x-ratelimit-limit"), "1")
        XCTAssertEqual(first.header("x-ratelimit-remaining"), "0")
        XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: "/b", host: "app").status, 200)
        XCTAssertEqual(proxy.stats.value("shadow.http_local_rate_limit.rate_limited"), 1)
        XCTAssertEqual(proxy.stats.value("shadow.http_local_rate_limit.enforced"), 0)
    }

    func testUnsupportedRateLimitSettingsAreErrors() throws {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream.port)
        bootstrap.httpFilters = ["{name: envoy.filters.http.local_ratelimit, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: x, descriptors: [{entries: [{key: a, value: b}], token_bucket: {max_tokens: 1, fill_interval: 1s}}]}}"]
        XCTAssertThrowsError(try ProxyConfiguration.load(file: try bootstrap.write())) { error in
            XCTAssertTrue("\(error)".contains("http_filters[0].typed_config.descriptors: rate limit descriptors are not supported"), "\(error)")
        }
    }
}
