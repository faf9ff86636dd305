import MeshNet
@testable import MeshProxy
import XCTest

/// A deterministic random source for table tests (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

final class UpstreamPolicyTests: XCTestCase {
    static func cluster(_ policy: Cluster.LoadBalancing, hosts: Int, weights: [Int]? = nil) -> Cluster {
        let endpoints = (0..<hosts).map { ClusterEndpoint(address: SocketAddress(host: "10.0.0.\($0 + 1)", port: 80), weight: weights?[$0] ?? 1,
                                                          region: "", zone: "", subZone: "", priority: 0) }
        return Cluster(name: "c", connectTimeout: 1, loadBalancing: policy, thresholds: CircuitBreakerThresholds(), outlierDetection: nil,
                       healthyPanicThreshold: 0.5, endpoints: endpoints, tls: nil, maxRequestsPerConnection: nil, ringSize: (1024, 8_388_608),
                       maglevTableSize: 65537, source: .object([]))
    }

    func testRoundRobinCyclesAndSkipsIneligibleHosts() {
        var balancer = LoadBalancer(Self.cluster(.roundRobin, hosts: 3))
        var random = SeededRandom(state: 1)
        let all = [true, true, true]
        XCTAssertEqual((0..<6).map { _ in balancer.choose(eligible: all, active: [0, 0, 0], hash: nil, using: &random)! }, [0, 1, 2, 0, 1, 2])
        XCTAssertEqual((0..<4).map { _ in balancer.choose(eligible: [true, false, true], active: [0, 0, 0], hash: nil, using: &random)! }.sorted(), [0, 0, 2, 2])
        XCTAssertNil(balancer.choose(eligible: [false, false, false], active: [0, 0, 0], hash: nil, using: &random))
        var weighted = LoadBalancer(Self.cluster(.roundRobin, hosts: 2, weights: [3, 1]))
        let picks = (0..<8).map { _ in weighted.choose(eligible: [true, true], active: [0, 0], hash: nil, using: &random)! }
        XCTAssertEqual(picks.filter { $0 == 0 }.count, 6)
    }

    func testLeastRequestPrefersTheLessBusyOfTwoChoices() {
        var balancer = LoadBalancer(Self.cluster(.leastRequest, hosts: 2))
        var random = SeededRandom(state: 7)
        let picks = (0..<1000).map { _ in balancer.choose(eligible: [true, true], active: [5, 0], hash: nil, using: &random)! }
        // Host 1 wins whenever it is one of the two choices: 3 times in 4.
        XCTAssertEqual(Double(picks.filter { $0 == 1 }.count) / 1000, 0.75, accuracy: 0.05)
    }

    func testRandomSpreadsEvenly() {
        var balancer = LoadBalancer(Self.cluster(.random, hosts: 4))
        var random = SeededRandom(state: 3)
        var counts = [0, 0, 0, 0]
        for _ in 0..<4000 { counts[balancer.choose(eligible: [true, true, true, true], active: [0, 0, 0, 0], hash: nil, using: &random)!] += 1 }
        for count in counts { XCTAssertEqual(Double(count) / 4000, 0.25, accuracy: 0.04) }
    }

    func testHashingPoliciesAreStickyAndMoveOnlyWhenTheirHostGoes() {
        for policy in [Cluster.LoadBalancing.ringHash, .maglev] {
            var balancer = LoadBalancer(Self.cluster(policy, hosts: 5))
            var random = SeededRandom(state: 11)
            let all = Array(repeating: true, count: 5)
            var chosen: [UInt64: Int] = [:]
            for key in 0..<200 {
                let hash = LoadBalancer.hash("user-\(key)")
                let host = balancer.choose(eligible: all, active: Array(repeating: 0, count: 5), hash: hash, using: &random)!
                XCTAssertEqual(balancer.choose(eligible: all, active: Array(repeating: 0, count: 5), hash: hash, using: &random), host, "\(policy) sticky")
                chosen[hash] = host
            }
            XCTAssertEqual(Set(chosen.values).count, 5, "\(policy) uses every host")
            var eligible = all
            eligible[2] = false
            for (hash, host) in chosen {
                let again = balancer.choose(eligible: eligible, active: Array(repeating: 0, count: 5), hash: hash, using: &random)!
                if host != 2 { XCTAssertEqual(again, host, "\(policy): keys of other hosts stay") } else { XCTAssertNotEqual(again, 2) }
            }
        }
        let header = HashPolicy(source: .header("x-user"), terminal: false)
        let cookie = HashPolicy(source: .cookie("session"), terminal: false)
        let a = RequestHash.compute([header], headers: [("X-User", "a")], query: [], sourceIP: nil)
        XCTAssertEqual(a, RequestHash.compute([header], headers: [("x-user", "a")], query: [], sourceIP: nil))
        XCTAssertNotEqual(a, RequestHash.compute([header], headers: [("x-user", "b")], query: [], sourceIP: nil))
        XCTAssertNil(RequestHash.compute([header], headers: [], query: [], sourceIP: nil))
        XCTAssertEqual(RequestHash.compute([cookie], headers: [("cookie", "a=1; session=xyz")], query: [], sourceIP: nil), LoadBalancer.hash("xyz"))
        XCTAssertEqual(RequestHash.compute([HashPolicy(source: .sourceIP, terminal: true), header], headers: [("x-user", "a")], query: [], sourceIP: "10.1.1.1"),
                       LoadBalancer.hash("10.1.1.1"))
        XCTAssertEqual(RequestHash.compute([HashPolicy(source: .queryParameter("u"), terminal: false)], headers: [], query: [("u", "7")], sourceIP: nil),
                       LoadBalancer.hash("7"))
    }

    func testCircuitBreakerCountsAgainstItsThresholds() {
        var thresholds = CircuitBreakerThresholds()
        thresholds.maxConnections = 1
        thresholds.maxPendingRequests = 1
        thresholds.maxRequests = 2
        thresholds.maxRetries = 0
        var breaker = CircuitBreaker(thresholds)
        XCTAssertTrue(breaker.open(.connection))
        XCTAssertFalse(breaker.open(.connection))
        XCTAssertTrue(breaker.open(.pendingRequest))
        XCTAssertFalse(breaker.open(.pendingRequest))
        XCTAssertTrue(breaker.open(.request))
        XCTAssertTrue(breaker.open(.request))
        XCTAssertFalse(breaker.open(.request))
        XCTAssertFalse(breaker.open(.retry))
        XCTAssertEqual(breaker.remaining(.request), 0)
        breaker.close(.request)
        XCTAssertEqual(breaker.remaining(.request), 1)
        breaker.close(.connection)
        breaker.close(.connection)
        XCTAssertEqual(breaker.connections, 0, "never below zero")
        XCTAssertEqual(CircuitBreaker(CircuitBreakerThresholds()).limit(.retry), 3, "Envoy's default max_retries")
    }

    func testOutlierDetectionEjectsAfterConsecutive5xxAndReturnsAfterItsTime() {
        var config = OutlierDetectionConfig()
        config.consecutive5xx = 3
        config.baseEjectionTime = 30
        config.interval = 10
        config.maxEjectionPercent = 100
        var detector = OutlierDetector(config: config, hostCount: 2)
        XCTAssertFalse(detector.record(.status(503), host: 0, now: 0))
        XCTAssertFalse(detector.record(.status(200), host: 0, now: 1), "a success resets the count")
        XCTAssertFalse(detector.record(.status(500), host: 0, now: 2))
        XCTAssertFalse(detector.record(.localFailure, host: 0, now: 3))
        XCTAssertTrue(detector.record(.status(502), host: 0, now: 4))
        XCTAssertTrue(detector.isEjected(0))
        XCTAssertEqual(detector.ejectionsEnforced5xx, 1)
        XCTAssertEqual(detector.tick(now: 20), [])
        XCTAssertEqual(detector.tick(now: 34), [0])
        XCTAssertFalse(detector.isEjected(0))
        // The second ejection lasts twice as long.
        for second in 0..<3 { detector.record(.localFailure, host: 0, now: 40 + Double(second)) }
        XCTAssertTrue(detector.isEjected(0))
        XCTAssertEqual(detector.ejectionDuration(0), 60)
        XCTAssertEqual(detector.tick(now: 90), [])
        XCTAssertEqual(detector.tick(now: 102), [0])
    }

    func testOutlierDetectionRespectsMaxEjectionPercent() {
        var config = OutlierDetectionConfig()
        config.consecutive5xx = 1
        config.maxEjectionPercent = 50
        var detector = OutlierDetector(config: config, hostCount: 2)
        XCTAssertTrue(detector.record(.status(500), host: 0, now: 0))
        XCTAssertFalse(detector.record(.status(500), host: 1, now: 0), "a second ejection would pass 50%")
        XCTAssertEqual(detector.ejectionsOverflow, 1)
    }

    func testRetryDecisionsFollowRetryOn() {
        func policy(_ on: Set<String>, retries: Int = 2, codes: Set<Int> = []) -> RetryPolicy {
            RetryPolicy(retryOn: on, numRetries: retries, perTryTimeout: nil, retriableStatusCodes: codes, previousHosts: true,
                        hostSelectionMaxAttempts: 5, backoffBase: 0.025, backoffMax: 0.25)
        }
        let istio: Set<String> = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"]
        let table: [(Set<String>, Set<Int>, RetryState.Outcome, Bool)] = [
            (istio, [], .connectFailure, true), (istio, [], .response(status: 503, grpcStatus: nil), false),
            (istio, [503], .response(status: 503, grpcStatus: nil), true), (istio, [], .response(status: 200, grpcStatus: 14), true),
            (istio, [], .reset, false), (istio, [], .perTryTimeout, false),
            (["5xx"], [], .response(status: 500, grpcStatus: nil), true), (["5xx"], [], .reset, true), (["5xx"], [], .connectFailure, true),
            (["gateway-error"], [], .response(status: 500, grpcStatus: nil), false), (["gateway-error"], [], .response(status: 504, grpcStatus: nil), true),
            (["reset"], [], .reset, true), (["reset"], [], .response(status: 503, grpcStatus: nil), false),
            (["retriable-4xx"], [], .response(status: 409, grpcStatus: nil), true), (["retriable-4xx"], [], .response(status: 404, grpcStatus: nil), false),
        ]
        for (index, (on, codes, outcome, retriable)) in table.enumerated() {
            XCTAssertEqual(RetryState(policy: policy(on, codes: codes)).isRetriable(outcome), retriable, "case \(index): \(on) \(outcome)")
        }
        var state = RetryState(policy: policy(istio))
        XCTAssertEqual(state.decide(.connectFailure), .retry)
        XCTAssertEqual(state.decide(.connectFailure), .retry)
        XCTAssertEqual(state.decide(.connectFailure), .exhausted)
        XCTAssertEqual(state.decide(.response(status: 200, grpcStatus: nil)), .done)
        var none = RetryState(policy: nil)
        XCTAssertEqual(none.decide(.connectFailure), .done)
        var zero = RetryState(policy: policy(istio, retries: 0))
        XCTAssertEqual(zero.decide(.connectFailure), .exhausted)
    }

    func testBackoffIsJitteredBelowBaseTimesTwoToTheNMinusOne() {
        var state = RetryState(policy: RetryPolicy(retryOn: ["5xx"], numRetries: 5, perTryTimeout: nil, retriableStatusCodes: [], previousHosts: false,
                                                   hostSelectionMaxAttempts: 1, backoffBase: 0.025, backoffMax: 0.25))
        var random = SeededRandom(state: 5)
        _ = state.decide(.reset)
        let first = (0..<200).map { _ in state.backoff(using: &random) }
        XCTAssertLessThan(first.max()!, 0.025)
        XCTAssertGreaterThan(Set(first).count, 10, "jittered")
        _ = state.decide(.reset)
        let second = (0..<200).map { _ in state.backoff(using: &random) }
        XCTAssertLessThan(second.max()!, 0.075)
        XCTAssertGreaterThan(second.max()!, 0.025)
        for _ in 0..<3 { _ = state.decide(.reset) }
        XCTAssertLessThanOrEqual((0..<200).map { _ in state.backoff(using: &random) }.max()!, 0.25, "capped at max_interval")
    }

    func testHostSelectionStopsWhenEveryHostIsOneToAvoid() {
        // previous_hosts with one host and host_selection_retry_max_attempts at its maximum used to spin 2^31
        // times on the event loop, holding the cluster's lock, before settling for the host it had to avoid.
        let cluster = UpstreamCluster(Self.cluster(.roundRobin, hosts: 1), stats: ProxyStats())
        let started = Date()
        XCTAssertEqual(cluster.chooseHost(hash: nil, avoid: [0], attempts: Int(Int32.max)), 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        let two = UpstreamCluster(Self.cluster(.roundRobin, hosts: 2), stats: ProxyStats())
        XCTAssertEqual((0..<4).map { _ in two.chooseHost(hash: nil, avoid: [0], attempts: 5) }, [1, 1, 1, 1])
    }
}
