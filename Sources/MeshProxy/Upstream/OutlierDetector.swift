/// Passive outlier detection over a cluster's hosts: consecutive 5xx answers (and, with
/// `split_external_local_origin_errors` off, connect failures and resets, counted as 503) eject a host for
/// `base_ejection_time` times the number of its ejections (at most `max_ejection_time`); ejected hosts return
/// at the first interval tick after their time is up. Time is passed in (seconds on any monotonic clock).
public struct OutlierDetector: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// An upstream answer with this status.
        case status(Int)
        /// No answer: connect failure, reset or timeout, which count as a 503 from the host.
        case localFailure
    }

    public struct HostState: Sendable, Equatable {
        public var consecutive5xx = 0
        public var consecutiveGatewayFailures = 0
        public var ejectedAt: Double?
        public var ejectionCount = 0
    }

    public let config: OutlierDetectionConfig
    public private(set) var hosts: [HostState]
    /// Ejections so far, by cause: `ejections_enforced_consecutive_5xx` and friends.
    public private(set) var ejectionsEnforced5xx = 0
    public private(set) var ejectionsEnforcedGateway = 0
    public private(set) var ejectionsOverflow = 0

    public init(config: OutlierDetectionConfig, hostCount: Int) {
        self.config = config
        hosts = Array(repeating: HostState(), count: hostCount)
    }

    /// Hosts a DNS answer removed: they count toward no percentage and are never ejected.
    public private(set) var forgotten: Set<Int> = []

    public func isEjected(_ host: Int) -> Bool { hosts[host].ejectedAt != nil }

    /// A host joined the cluster (a DNS answer grew).
    public mutating func addHost() { hosts.append(HostState()) }

    /// A host left the cluster: its counts and ejection go with it (taken again, it starts afresh).
    public mutating func forget(_ host: Int) {
        hosts[host] = HostState()
        forgotten.insert(host)
    }

    /// A forgotten host's slot is in the cluster again.
    public mutating func rejoin(_ host: Int) { forgotten.remove(host) }
    public var ejectedCount: Int { hosts.filter { $0.ejectedAt != nil }.count }

    /// Records one result for `host`; true when it got the host ejected.
    @discardableResult
    public mutating func record(_ outcome: Outcome, host: Int, now: Double) -> Bool {
        let status: Int
        switch outcome {
        case .status(let code): status = code
        case .localFailure: status = 503
        }
        guard status >= 500 else {
            hosts[host].consecutive5xx = 0
            hosts[host].consecutiveGatewayFailures = 0
            return false
        }
        hosts[host].consecutive5xx += 1
        if [502, 503, 504].contains(status) { hosts[host].consecutiveGatewayFailures += 1 } else { hosts[host].consecutiveGatewayFailures = 0 }
        guard hosts[host].ejectedAt == nil else { return false }
        if config.consecutive5xx > 0, hosts[host].consecutive5xx >= config.consecutive5xx, config.enforcingConsecutive5xx > 0 {
            return eject(host, now: now, gateway: false)
        }
        if config.consecutiveGatewayFailure > 0, hosts[host].consecutiveGatewayFailures >= config.consecutiveGatewayFailure,
           config.enforcingConsecutiveGatewayFailure > 0 {
            return eject(host, now: now, gateway: true)
        }
        return false
    }

    private mutating func eject(_ host: Int, now: Double, gateway: Bool) -> Bool {
        let present = hosts.count - forgotten.count
        let percent = present <= 0 ? 100 : ejectedCount * 100 / present
        guard percent < config.maxEjectionPercent else { ejectionsOverflow += 1; return false }
        hosts[host].ejectedAt = now
        hosts[host].ejectionCount += 1
        hosts[host].consecutive5xx = 0
        hosts[host].consecutiveGatewayFailures = 0
        if gateway { ejectionsEnforcedGateway += 1 } else { ejectionsEnforced5xx += 1 }
        return true
    }

    /// How long `host`'s current ejection lasts.
    public func ejectionDuration(_ host: Int) -> Double {
        min(config.baseEjectionTime * Double(max(1, hosts[host].ejectionCount)), max(config.baseEjectionTime, config.maxEjectionTime))
    }

    /// The interval timer: brings back hosts whose ejection is over; returns them.
    @discardableResult
    public mutating func tick(now: Double) -> [Int] {
        var returned: [Int] = []
        for host in hosts.indices {
            guard let ejectedAt = hosts[host].ejectedAt, now - ejectedAt >= ejectionDuration(host) else { continue }
            hosts[host].ejectedAt = nil
            returned.append(host)
        }
        return returned
    }
}
