/// Passive outlier detection over a cluster's hosts, as Envoy does it:
/// - consecutive 5xx answers and consecutive gateway failures (with `split_external_local_origin_errors` off,
///   connect failures and resets count as 503) eject a host at once;
/// - at each interval tick, over the answers of the interval that just ended, success-rate ejection (hosts with
///   at least `success_rate_request_volume` requests, when there are `success_rate_minimum_hosts` of them, whose
///   success rate is below mean - stdev_factor/1000 x standard deviation) and failure-percentage ejection (hosts
///   whose failure percentage is at least `failure_percentage_threshold`);
/// - an ejection is enforced with its `enforcing_*` percent, and not beyond `max_ejection_percent`; it lasts
///   `base_ejection_time` times the number of the host's ejections (at most `max_ejection_time`), and the host
///   returns at the first tick after that.
/// Time is passed in (seconds on any monotonic clock).
public struct OutlierDetector: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// An upstream answer with this status.
        case status(Int)
        /// No answer: connect failure, reset or timeout, which count as a 503 from the host.
        case localFailure
    }

    /// Why a host was found an outlier; the raw value is the stat name's part (`ejections_enforced_success_rate`).
    public enum EjectionType: String, Sendable, CaseIterable {
        case consecutive5xx = "consecutive_5xx", consecutiveGatewayFailure = "consecutive_gateway_failure"
        case consecutiveLocalOriginFailure = "consecutive_local_origin_failure"
        case successRate = "success_rate", failurePercentage = "failure_percentage"
        /// Split mode's judgements of connect successes and failures.
        case successRateLocalOrigin = "local_origin_success_rate", failurePercentageLocalOrigin = "local_origin_failure_percentage"
    }

    /// A detected outlier and what became of it.
    public struct Ejection: Sendable, Equatable {
        public enum Result: Sendable, Equatable {
            /// Ejected.
            case enforced
            /// Its `enforcing_*` percent said no.
            case notEnforced
            /// `max_ejection_percent` said no (`ejections_overflow`).
            case overflow
        }
        public var host: Int
        public var type: EjectionType
        public var result: Result
    }

    public struct HostState: Sendable, Equatable {
        public var consecutive5xx = 0
        public var consecutiveGatewayFailures = 0
        /// With `split_external_local_origin_errors`: connect failures, resets and timeouts in a row.
        public var consecutiveLocalOriginFailures = 0
        public var ejectedAt: Double?
        public var ejectionCount = 0
        /// Envoy's ejection time multiplier: up by one at each ejection (while base x it stays under max + base),
        /// down by one at each interval tick the host has been back for a whole interval.
        public var ejectionBackoff = 0
        /// When the host last came back from an ejection.
        public var returnedAt: Double?
        /// This interval's answers so far, and how many of them failed (5xx, or no answer).
        public var intervalRequests = 0
        public var intervalFailures = 0
        /// The success rate of the last interval, when its volume counted (`/clusters`' `success_rate`).
        public var successRate: Double?
        /// Split mode: this interval's attempts to reach the host and how many failed (connect failure, reset,
        /// timeout), and the last interval's rate (`local_origin_success_rate`).
        public var localOriginRequests = 0
        public var localOriginFailures = 0
        public var localOriginSuccessRate: Double?
    }

    public let config: OutlierDetectionConfig
    public private(set) var hosts: [HostState]
    /// Enforced ejections so far, by type; and those `max_ejection_percent` prevented.
    public private(set) var enforced: [EjectionType: Int] = [:]
    public private(set) var ejectionsOverflow = 0
    public var ejectionsEnforced5xx: Int { enforced[.consecutive5xx, default: 0] }
    public var ejectionsEnforcedGateway: Int { enforced[.consecutiveGatewayFailure, default: 0] }
    /// The last tick's success-rate mean and ejection threshold (nil when too few hosts had the volume).
    public private(set) var successRateAverage: Double?
    public private(set) var successRateEjectionThreshold: Double?
    /// The same for split mode's local-origin rates.
    public private(set) var localOriginSuccessRateAverage: Double?
    public private(set) var localOriginSuccessRateEjectionThreshold: Double?
    private var random = SystemRandomNumberGenerator()

    public init(config: OutlierDetectionConfig, hostCount: Int) {
        self.config = config
        hosts = Array(repeating: HostState(), count: hostCount)
    }

    /// Hosts a DNS answer removed: they count toward no percentage and are never ejected.
    public private(set) var forgotten: Set<Int> = []

    public func isEjected(_ host: Int) -> Bool { hosts[host].ejectedAt != nil }
    public var ejectedCount: Int { hosts.filter { $0.ejectedAt != nil }.count }

    /// A host joined the cluster (a DNS answer grew).
    public mutating func addHost() { hosts.append(HostState()) }

    /// A host left the cluster: its counts and ejection go with it (taken again, it starts afresh).
    public mutating func forget(_ host: Int) {
        hosts[host] = HostState()
        forgotten.insert(host)
    }

    /// A forgotten host's slot is in the cluster again.
    public mutating func rejoin(_ host: Int) { forgotten.remove(host) }

    /// Records one result for `host`; true when it got the host ejected.
    @discardableResult
    public mutating func record(_ outcome: Outcome, host: Int, now: Double) -> Bool {
        recordResult(outcome, host: host, now: now).contains { $0.result == .enforced }
    }

    /// Records one result for `host`: the consecutive-failure outliers it revealed (gateway failures first, as
    /// Envoy counts them), usually none.
    public mutating func recordResult(_ outcome: Outcome, host: Int, now: Double) -> [Ejection] {
        let status: Int
        switch outcome {
        case .status(let code): status = code
        case .localFailure: status = 503
        }
        // With the split on, a local failure is not the host's answer: it counts toward neither the 5xx runs nor the
        // success rate, only toward consecutive_local_origin_failure; any answer shows the host reachable again.
        if config.splitExternalLocalOriginErrors {
            hosts[host].localOriginRequests += 1
            guard case .status = outcome else {
                hosts[host].localOriginFailures += 1
                return recordLocalOriginFailure(host: host, now: now)
            }
            hosts[host].consecutiveLocalOriginFailures = 0
        }
        if case .status = outcome {
            countAnswer(host: host, failed: status >= 500)
        } else {
            countAnswer(host: host, failed: true)
        }
        guard status >= 500 else {
            hosts[host].consecutive5xx = 0
            hosts[host].consecutiveGatewayFailures = 0
            return []
        }
        hosts[host].consecutive5xx += 1
        if [502, 503, 504].contains(status) { hosts[host].consecutiveGatewayFailures += 1 } else { hosts[host].consecutiveGatewayFailures = 0 }
        guard hosts[host].ejectedAt == nil else { return [] }
        var found: [Ejection] = []
        if config.consecutiveGatewayFailure > 0, hosts[host].consecutiveGatewayFailures >= config.consecutiveGatewayFailure {
            hosts[host].consecutiveGatewayFailures = 0
            found.append(eject(host, .consecutiveGatewayFailure, enforcing: config.enforcingConsecutiveGatewayFailure, now: now))
        }
        if config.consecutive5xx > 0, hosts[host].consecutive5xx >= config.consecutive5xx, hosts[host].ejectedAt == nil {
            hosts[host].consecutive5xx = 0
            found.append(eject(host, .consecutive5xx, enforcing: config.enforcingConsecutive5xx, now: now))
        }
        return found
    }

    /// Split mode: one more local-origin failure in a row; at `consecutive_local_origin_failure` the host is an outlier.
    private mutating func recordLocalOriginFailure(host: Int, now: Double) -> [Ejection] {
        hosts[host].consecutiveLocalOriginFailures += 1
        guard hosts[host].ejectedAt == nil, config.consecutiveLocalOriginFailure > 0,
              hosts[host].consecutiveLocalOriginFailures >= config.consecutiveLocalOriginFailure else { return [] }
        hosts[host].consecutiveLocalOriginFailures = 0
        return [eject(host, .consecutiveLocalOriginFailure, enforcing: config.enforcingConsecutiveLocalOriginFailure, now: now)]
    }

    private mutating func countAnswer(host: Int, failed: Bool) {
        hosts[host].intervalRequests += 1
        if failed { hosts[host].intervalFailures += 1 }
    }

    /// Ejects `host` for `type` unless `max_ejection_percent` (counting this one) or the enforcing percent says no.
    private mutating func eject(_ host: Int, _ type: EjectionType, enforcing: Int, now: Double) -> Ejection {
        let present = hosts.count - forgotten.count
        let percent = present <= 0 ? 100 : Double(ejectedCount + 1) * 100 / Double(present)
        guard percent <= Double(config.maxEjectionPercent) || (config.alwaysEjectOneHost && ejectedCount == 0) else {
            ejectionsOverflow += 1
            return Ejection(host: host, type: type, result: .overflow)
        }
        guard enforcing >= 100 || (enforcing > 0 && Int.random(in: 0..<100, using: &random) < enforcing) else {
            return Ejection(host: host, type: type, result: .notEnforced)
        }
        hosts[host].ejectedAt = now
        hosts[host].ejectionCount += 1
        if Double(hosts[host].ejectionBackoff) * config.baseEjectionTime < maximumEjectionTime + config.baseEjectionTime {
            hosts[host].ejectionBackoff += 1
        }
        hosts[host].consecutive5xx = 0
        hosts[host].consecutiveGatewayFailures = 0
        hosts[host].consecutiveLocalOriginFailures = 0
        enforced[type, default: 0] += 1
        return Ejection(host: host, type: type, result: .enforced)
    }

    /// How long `host`'s current ejection lasts.
    public func ejectionDuration(_ host: Int) -> Double {
        min(config.baseEjectionTime * Double(max(1, hosts[host].ejectionBackoff)), maximumEjectionTime)
    }

    /// `max_ejection_time`, never below `base_ejection_time`.
    private var maximumEjectionTime: Double { max(config.baseEjectionTime, config.maxEjectionTime) }

    /// The interval timer: brings back hosts whose ejection is over; returns them.
    @discardableResult
    public mutating func tick(now: Double) -> [Int] { interval(now: now).returned }

    /// The interval timer: brings back hosts whose ejection is over, then judges the interval's success rates
    /// and failure percentages (and starts the next interval's counts).
    public mutating func interval(now: Double) -> (returned: [Int], ejections: [Ejection]) {
        var returned: [Int] = []
        for host in hosts.indices {
            guard let ejectedAt = hosts[host].ejectedAt, now - ejectedAt >= ejectionDuration(host) else { continue }
            hosts[host].ejectedAt = nil
            hosts[host].consecutive5xx = 0
            hosts[host].consecutiveGatewayFailures = 0
            hosts[host].consecutiveLocalOriginFailures = 0
            hosts[host].returnedAt = now
            returned.append(host)
        }
        // The hosts' answers first, then (split mode) their reachability, as Envoy judges them.
        var ejections = judge(localOrigin: false, now: now)
        ejections += judge(localOrigin: true, now: now)
        easeBackoffs(now: now)
        return (returned, ejections)
    }

    /// One interval's success-rate and failure-percentage judgement over the answers (`localOrigin` false) or the
    /// attempts to reach the hosts (true, split mode); starts the next interval's counts.
    private mutating func judge(localOrigin: Bool, now: Double) -> [Ejection] {
        var volumes: [(host: Int, requests: Int, successRate: Double)] = []
        for host in hosts.indices {
            let requests = localOrigin ? hosts[host].localOriginRequests : hosts[host].intervalRequests
            let failures = localOrigin ? hosts[host].localOriginFailures : hosts[host].intervalFailures
            if localOrigin {
                (hosts[host].localOriginRequests, hosts[host].localOriginFailures, hosts[host].localOriginSuccessRate) = (0, 0, nil)
            } else {
                (hosts[host].intervalRequests, hosts[host].intervalFailures, hosts[host].successRate) = (0, 0, nil)
            }
            guard !forgotten.contains(host), hosts[host].ejectedAt == nil, requests > 0 else { continue }
            volumes.append((host, requests, Double(requests - failures) * 100 / Double(requests)))
        }
        if localOrigin { (localOriginSuccessRateAverage, localOriginSuccessRateEjectionThreshold) = (nil, nil) } else { (successRateAverage, successRateEjectionThreshold) = (nil, nil) }
        let present = hosts.count - forgotten.count
        guard present >= config.successRateMinimumHosts || present >= config.failurePercentageMinimumHosts else { return [] }
        let shown = min(config.successRateRequestVolume, config.failurePercentageRequestVolume)
        for entry in volumes where entry.requests >= shown {
            if localOrigin { hosts[entry.host].localOriginSuccessRate = entry.successRate } else { hosts[entry.host].successRate = entry.successRate }
        }
        var ejections: [Ejection] = []
        let rated = volumes.filter { $0.requests >= config.successRateRequestVolume }
        if !rated.isEmpty, rated.count >= config.successRateMinimumHosts {
            let mean = rated.reduce(0) { $0 + $1.successRate } / Double(rated.count)
            let variance = rated.reduce(0) { $0 + ($1.successRate - mean) * ($1.successRate - mean) } / Double(rated.count)
            let threshold = mean - Double(config.successRateStdevFactor) / 1000 * variance.squareRoot()
            if localOrigin { (localOriginSuccessRateAverage, localOriginSuccessRateEjectionThreshold) = (mean, threshold) } else { (successRateAverage, successRateEjectionThreshold) = (mean, threshold) }
            for entry in rated where entry.successRate < threshold {
                ejections.append(eject(entry.host, localOrigin ? .successRateLocalOrigin : .successRate,
                                       enforcing: localOrigin ? config.enforcingLocalOriginSuccessRate : config.enforcingSuccessRate, now: now))
            }
        }
        let counted = volumes.filter { $0.requests >= config.failurePercentageRequestVolume }
        if !counted.isEmpty, counted.count >= config.failurePercentageMinimumHosts {
            for entry in counted where 100 - entry.successRate >= Double(config.failurePercentageThreshold) && hosts[entry.host].ejectedAt == nil {
                ejections.append(eject(entry.host, localOrigin ? .failurePercentageLocalOrigin : .failurePercentage,
                                       enforcing: localOrigin ? config.enforcingFailurePercentageLocalOrigin : config.enforcingFailurePercentage, now: now))
            }
        }
        return ejections
    }

    /// Hosts back for at least an interval (and not ejected again) have their ejection time multiplier lowered.
    private mutating func easeBackoffs(now: Double) {
        for host in hosts.indices where hosts[host].ejectedAt == nil && hosts[host].ejectionBackoff > 0 {
            guard let returnedAt = hosts[host].returnedAt, now - returnedAt >= config.interval else { continue }
            hosts[host].ejectionBackoff -= 1
        }
    }
}
