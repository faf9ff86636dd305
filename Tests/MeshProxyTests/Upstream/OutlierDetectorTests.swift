@testable import MeshProxy
import XCTest

/// Success-rate and failure-percentage ejection, with Envoy's documented numbers.
final class OutlierDetectorTests: XCTestCase {
    private func config(_ change: (inout OutlierDetectionConfig) -> Void) -> OutlierDetectionConfig {
        var config = OutlierDetectionConfig()
        config.consecutive5xx = 0
        config.maxEjectionPercent = 100
        change(&config)
        return config
    }

    /// `requests` answers to `host`, the first `failures` of them 503.
    private func answer(_ detector: inout OutlierDetector, host: Int, requests: Int, failures: Int) {
        for index in 0..<requests { detector.record(.status(index < failures ? 503 : 200), host: host, now: 1) }
    }

    func testSuccessRateEjectsBelowMeanMinusStdevFactorTimesStdev() {
        var detector = OutlierDetector(config: config { _ in }, hostCount: 5)
        // Envoy's example: rates 50, 100, 100, 100, 100: mean 90, stdev 20, threshold 90 - 1.9 x 20 = 52.
        answer(&detector, host: 0, requests: 100, failures: 50)
        for host in 1..<5 { answer(&detector, host: host, requests: 100, failures: 0) }
        let (_, ejections) = detector.interval(now: 10)
        XCTAssertEqual(ejections, [.init(host: 0, type: .successRate, result: .enforced)])
        XCTAssertEqual(detector.successRateAverage, 90)
        XCTAssertEqual(detector.successRateEjectionThreshold ?? 0, 52, accuracy: 1e-9)
        XCTAssertEqual(detector.hosts.map(\.successRate), [50, 100, 100, 100, 100])
        XCTAssertTrue(detector.isEjected(0))
        // The next interval starts its counts afresh: nothing to judge.
        XCTAssertEqual(detector.interval(now: 20).ejections, [])
        XCTAssertNil(detector.successRateAverage)
        XCTAssertEqual(detector.hosts.map(\.successRate), [nil, nil, nil, nil, nil])
    }

    func testSuccessRateNeedsTheVolumeOnEnoughHosts() {
        var detector = OutlierDetector(config: config { _ in }, hostCount: 5)
        answer(&detector, host: 0, requests: 100, failures: 100)
        for host in 1..<4 { answer(&detector, host: host, requests: 100, failures: 0) }
        answer(&detector, host: 4, requests: 99, failures: 0)  // under success_rate_request_volume: only 4 hosts judged
        // Failure percentage still finds host 0 (its enforcing percent, 0 by default, keeps it in).
        XCTAssertEqual(detector.interval(now: 10).ejections, [.init(host: 0, type: .failurePercentage, result: .notEnforced)])
        XCTAssertNil(detector.successRateEjectionThreshold)
        XCTAssertEqual(detector.hosts[4].successRate, 100, "shown: its volume passes failure_percentage_request_volume")
    }

    func testEnforcingSuccessRateZeroDetectsWithoutEjecting() {
        var detector = OutlierDetector(config: config { $0.enforcingSuccessRate = 0 }, hostCount: 5)
        answer(&detector, host: 0, requests: 100, failures: 60)
        for host in 1..<5 { answer(&detector, host: host, requests: 100, failures: 0) }
        XCTAssertEqual(detector.interval(now: 10).ejections, [.init(host: 0, type: .successRate, result: .notEnforced)])
        XCTAssertFalse(detector.isEjected(0))
    }

    func testFailurePercentageEjectsAtItsThreshold() {
        var detector = OutlierDetector(config: config {
            $0.enforcingSuccessRate = 0
            $0.enforcingFailurePercentage = 100
            $0.failurePercentageMinimumHosts = 2
            $0.failurePercentageRequestVolume = 20
        }, hostCount: 3)
        answer(&detector, host: 0, requests: 20, failures: 17)  // 85%: at the threshold
        answer(&detector, host: 1, requests: 20, failures: 16)  // 80%
        answer(&detector, host: 2, requests: 19, failures: 19)  // under the volume
        XCTAssertEqual(detector.interval(now: 10).ejections, [.init(host: 0, type: .failurePercentage, result: .enforced)])
        XCTAssertEqual(detector.enforced[.failurePercentage], 1)
    }

    func testMaxEjectionPercentCountsTheNewEjectionAsEnvoyDoes() {
        // 10% of 5 hosts: one more ejection would make 20%, so none happens unless always_eject_one_host.
        var strict = OutlierDetector(config: config { $0.maxEjectionPercent = 10; $0.consecutive5xx = 1 }, hostCount: 5)
        XCTAssertEqual(strict.recordResult(.status(500), host: 0, now: 0), [.init(host: 0, type: .consecutive5xx, result: .overflow)])
        var lenient = OutlierDetector(config: config { $0.maxEjectionPercent = 10; $0.consecutive5xx = 1; $0.alwaysEjectOneHost = true }, hostCount: 5)
        XCTAssertTrue(lenient.record(.status(500), host: 0, now: 0))
        XCTAssertFalse(lenient.record(.status(500), host: 1, now: 0))
    }

    func testSplitLocalOriginErrorsKeepConnectFailuresOutOfTheSuccessRate() {
        var detector = OutlierDetector(config: config { $0.splitExternalLocalOriginErrors = true; $0.successRateMinimumHosts = 1; $0.successRateRequestVolume = 1 }, hostCount: 1)
        detector.record(.localFailure, host: 0, now: 0)
        detector.record(.status(200), host: 0, now: 0)
        _ = detector.interval(now: 10)
        XCTAssertEqual(detector.hosts[0].successRate, 100)
    }

    func testSuccessRateSettingsAreRead() throws {
        let loaded = try OneRouteProxy.load(cluster: """
            type: STATIC
            outlier_detection: {success_rate_minimum_hosts: 3, success_rate_request_volume: 10, success_rate_stdev_factor: 1000, enforcing_success_rate: 50,
                                failure_percentage_threshold: 70, failure_percentage_minimum_hosts: 2, failure_percentage_request_volume: 5, enforcing_failure_percentage: 100,
                                always_eject_one_host: true}
            load_assignment: {endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}}]}]}
            """)
        let outlier = try XCTUnwrap(loaded.configuration.cluster(named: "c")?.outlierDetection)
        XCTAssertEqual([outlier.successRateMinimumHosts, outlier.successRateRequestVolume, outlier.successRateStdevFactor, outlier.enforcingSuccessRate,
                        outlier.failurePercentageThreshold, outlier.failurePercentageMinimumHosts, outlier.failurePercentageRequestVolume,
                        outlier.enforcingFailurePercentage], [3, 10, 1000, 50, 70, 2, 5, 100])
        XCTAssertTrue(outlier.alwaysEjectOneHost)
        let split = try OneRouteProxy.load(cluster: """
            type: STATIC
            outlier_detection: {split_external_local_origin_errors: true, consecutive_local_origin_failure: 2, enforcing_consecutive_local_origin_failure: 50,
                                enforcing_local_origin_success_rate: 10, enforcing_failure_percentage_local_origin: 20}
            """)
        let splitOutlier = try XCTUnwrap(split.configuration.cluster(named: "c")?.outlierDetection)
        XCTAssertEqual([splitOutlier.consecutiveLocalOriginFailure, splitOutlier.enforcingConsecutiveLocalOriginFailure,
                        splitOutlier.enforcingLocalOriginSuccessRate, splitOutlier.enforcingFailurePercentageLocalOrigin], [2, 50, 10, 20])
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\noutlier_detection: {enforcing_local_origin_success_rate: 101}")) { error in
            XCTAssertTrue("\(error)".contains("enforcing_local_origin_success_rate"), "\(error)")
        }
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\noutlier_detection: {failure_percentage_threshold: 101}")) { error in
            XCTAssertTrue("\(error)".contains("failure_percentage_threshold"), "\(error)")
        }
    }

    func testSplitModeEjectsOnConsecutiveLocalOriginFailuresOnly() {
        var detector = OutlierDetector(config: config {
            $0.splitExternalLocalOriginErrors = true
            $0.consecutive5xx = 2
            $0.consecutiveLocalOriginFailure = 3
        }, hostCount: 2)
        XCTAssertEqual(detector.recordResult(.localFailure, host: 0, now: 0), [])
        XCTAssertEqual(detector.recordResult(.localFailure, host: 0, now: 0), [], "local failures are not 5xx answers here")
        XCTAssertEqual(detector.recordResult(.status(200), host: 0, now: 0), [], "an answer shows the host reachable: the run starts over")
        for _ in 0..<2 { XCTAssertEqual(detector.recordResult(.localFailure, host: 0, now: 0), []) }
        XCTAssertEqual(detector.recordResult(.localFailure, host: 0, now: 0), [.init(host: 0, type: .consecutiveLocalOriginFailure, result: .enforced)])
        XCTAssertEqual(detector.recordResult(.status(500), host: 1, now: 0), [])
        XCTAssertEqual(detector.recordResult(.status(500), host: 1, now: 0), [.init(host: 1, type: .consecutive5xx, result: .enforced)])
    }

    func testEjectionTimesGrowAndShrinkAsEnvoysBackoff() {
        var detector = OutlierDetector(config: config {
            $0.consecutive5xx = 1
            $0.interval = 10
            $0.baseEjectionTime = 30
            $0.maxEjectionTime = 70
        }, hostCount: 2)
        // Ejected again at once, each ejection lasts longer, up to max_ejection_time.
        var now = 0.0
        for expected in [30.0, 60, 70, 70] {
            XCTAssertTrue(detector.record(.status(500), host: 0, now: now))
            XCTAssertEqual(detector.ejectionDuration(0), expected)
            now += expected
            XCTAssertEqual(detector.tick(now: now), [0])
        }
        // Every interval spent back lowers it a step: after two healthy intervals an ejection lasts 60 s less.
        XCTAssertEqual(detector.hosts[0].ejectionBackoff, 4)
        _ = detector.tick(now: now + 10)
        _ = detector.tick(now: now + 20)
        XCTAssertEqual(detector.hosts[0].ejectionBackoff, 2)
        XCTAssertTrue(detector.record(.status(500), host: 0, now: now + 21))
        XCTAssertEqual(detector.ejectionDuration(0), 70, "backoff 3: min(90, 70)")
    }

    func testSplitModeJudgesReachabilityByItsOwnSuccessRate() {
        var detector = OutlierDetector(config: config {
            $0.splitExternalLocalOriginErrors = true
            $0.consecutiveLocalOriginFailure = 0
            $0.successRateRequestVolume = 10
        }, hostCount: 5)
        // Host 0 is reached half the time; its answers, when it is, are all good.
        for index in 0..<10 { detector.record(index.isMultiple(of: 2) ? .localFailure : .status(200), host: 0, now: 0) }
        for host in 1..<5 { for _ in 0..<10 { detector.record(.status(200), host: host, now: 0) } }
        let (_, ejections) = detector.interval(now: 10)
        XCTAssertEqual(ejections, [.init(host: 0, type: .successRateLocalOrigin, result: .enforced)])
        XCTAssertNil(detector.successRateEjectionThreshold, "host 0's 5 answers are under the answers' volume")
        XCTAssertEqual(detector.localOriginSuccessRateAverage, 90)
        XCTAssertEqual(detector.hosts.map(\.localOriginSuccessRate), [50, 100, 100, 100, 100])
    }
}
