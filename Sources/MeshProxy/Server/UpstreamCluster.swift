import Foundation

/// A cluster's shared state at run time: its hosts, load balancer, circuit breakers, outlier detector and
/// per-host counters, behind one lock (every loop's requests share them).
///
/// A host is an index that keeps its meaning for the cluster's life (pools and counters are by index). A STATIC or
/// EDS cluster's hosts are its endpoints; a STRICT_DNS cluster's are the addresses its endpoints' names resolve to,
/// re-resolved at `dns_refresh_rate` (`DNSHosts`): a host that leaves the answer is removed (its slot kept, and taken
/// again when its address comes back); a LOGICAL_DNS cluster has one host whose address is the latest answer's first.
public final class UpstreamCluster: @unchecked Sendable {
    public let config: Cluster
    let stats: ProxyStats
    private let lock = NSLock()
    private var balancer: LoadBalancer
    private var breaker: CircuitBreaker
    private var detector: OutlierDetector?
    private var random = SystemRandomNumberGenerator()
    /// Per host: requests under way, and the counters `/clusters` prints.
    private(set) var hostCounters: [HostCounters]
    /// Every host slot, present or removed.
    private var hosts: [ClusterEndpoint]
    /// Slots whose host a DNS answer no longer holds.
    private var removedHosts: Set<Int> = []
    /// Each slot's `IP:PORT`, as the access log's `%UPSTREAM_HOST%` prints it.
    private var addresses: [String]
    /// STRICT_DNS/LOGICAL_DNS: each endpoint's latest good answer, and how names are looked up.
    private var dnsAnswers: [[String]?]
    /// The present hosts' priority levels, ascending (P=0 first).
    private var hostPriorities: [Int]
    /// ORIGINAL_DST: hosts a request went to since the last cleanup sweep.
    private var usedSinceSweep: Set<Int> = []
    /// Per priority level, the locality round robin of `locality_weighted_lb_config`.
    private var localityPickers: [Int: LocalityPicker] = [:]
    let lookup: DNSLookup

    public struct HostCounters: Sendable {
        public var activeRequests = 0, activeConnections = 0, totalConnections = 0, connectFailures = 0
        public var totalRequests = 0, successes = 0, errors = 0, timeouts = 0
    }

    /// Where TLS connections to the cluster's hosts get their contexts (nil: a cluster outside a running proxy).
    let tlsContexts: TLSContexts?
    /// The stats every request touches, looked up once.
    let requestStats: ClusterRequestStats
    let statPrefix: String

    init(_ config: Cluster, stats: ProxyStats, tlsContexts: TLSContexts? = nil, lookup: @escaping DNSLookup = HostResolver.system) {
        self.config = config
        self.stats = stats
        self.tlsContexts = tlsContexts
        self.lookup = lookup
        hosts = config.kind == .strictDNS ? [] : config.endpoints.map { endpoint in
            var host = endpoint
            if config.kind == .logicalDNS { host.hostname = endpoint.address.host }
            return host
        }
        dnsAnswers = Array(repeating: nil, count: config.endpoints.count)
        addresses = hosts.map { $0.address.description }
        hostPriorities = Array(Set(hosts.map(\.priority))).sorted()
        balancer = LoadBalancer(config, hosts: hosts)
        breaker = CircuitBreaker(config.thresholds)
        detector = config.outlierDetection.map { [hosts] in OutlierDetector(config: $0, hostCount: hosts.count) }
        hostCounters = Array(repeating: HostCounters(), count: hosts.count)
        let prefix = "cluster.\(config.name)."
        statPrefix = prefix
        let outlierNames = OutlierDetector.EjectionType.allCases.flatMap { type in
            ["outlier_detection.ejections_enforced_\(type.rawValue)", "outlier_detection.ejections_detected_\(type.rawValue)"]
        }
        for name in ["upstream_rq_total", "upstream_rq_completed", "upstream_cx_total", "upstream_cx_connect_fail", "upstream_cx_connect_timeout",
                     "upstream_rq_pending_overflow", "upstream_rq_retry", "upstream_rq_retry_overflow", "upstream_rq_retry_limit_exceeded",
                     "upstream_rq_retry_success", "upstream_rq_timeout", "upstream_rq_per_try_timeout", "upstream_cx_none_healthy",
                     "upstream_rq_pending_total", "upstream_cx_destroy", "upstream_rq_rx_reset", "outlier_detection.ejections_enforced_total",
                     "outlier_detection.ejections_overflow", "membership_change", "upstream_flow_control_paused_reading_total",
                     "upstream_flow_control_resumed_reading_total", "upstream_flow_control_backed_up_total",
                     "upstream_flow_control_drained_total"] + outlierNames {
            stats.declare(prefix + name)
        }
        if config.kind == .strictDNS || config.kind == .logicalDNS {
            for name in ["update_attempt", "update_success", "update_failure", "update_no_rebuild"] { stats.declare(prefix + name) }
        }
        for name in ["upstream_cx_active", "upstream_rq_active", "upstream_rq_pending_active", "outlier_detection.ejections_active",
                     "membership_total", "membership_healthy"] {
            stats.declare(prefix + name, .gauge)
        }
        stats.set(prefix + "membership_total", to: hosts.count)
        stats.set(prefix + "membership_healthy", to: hosts.count)
        requestStats = ClusterRequestStats(prefix: prefix, stats: stats)
    }

    /// Picks a host for a request, avoiding `avoid` (previous attempts) for up to `attempts` tries; nil when no host is
    /// healthy (all ejected with panic mode off, or no hosts at all).
    func chooseHost(hash: UInt64?, avoid: Set<Int>, attempts: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        // An ORIGINAL_DST cluster's hosts are its requests' destinations (`originalDestinationHost`), never balanced.
        guard !hosts.isEmpty, config.kind != .originalDestination else { return nil }
        if hosts.count == 1 && removedHosts.isEmpty {
            // One host (the usual sidecar cluster): the general path's answer without its arrays. Ejected, it is
            // used anyway in panic mode, which a threshold above 0 always reaches with no healthy host.
            let ejected = detector?.isEjected(0) ?? false
            return ejected && !(0 < config.healthyPanicThreshold) ? nil : 0
        }
        let present = hosts.indices.map { !removedHosts.contains($0) }
        guard present.contains(true) else { return nil }
        var eligible = hosts.indices.map { present[$0] && !(detector?.isEjected($0) ?? false) }
        if hasLevels || config.localityWeighted {
            eligible = eligibleByPriorityAndLocality(present: present, healthy: eligible, hash: hash)
        } else {
            let healthy = eligible.filter { $0 }.count
            let total = hosts.count - removedHosts.count
            if Double(healthy) / Double(total) < config.healthyPanicThreshold {
                eligible = present  // panic: use every host
            }
        }
        let active = hostCounters.map(\.activeRequests)
        var choice = balancer.choose(eligible: eligible, active: active, hash: hash, using: &random)
        var tries = 1
        // When every eligible host is to be avoided no new try can help: stop rather than spin up to 2^31 times.
        let avoidable = eligible.indices.contains { eligible[$0] && !avoid.contains($0) }
        while avoidable, let host = choice, avoid.contains(host), tries < attempts {
            choice = balancer.choose(eligible: eligible, active: active, hash: hash, using: &random)
            tries += 1
        }
        return choice
    }

    /// Whether the hosts have more than one priority level (kept with the hosts).
    private var hasLevels: Bool { hostPriorities.count > 1 }

    /// The hosts a request may go to when the cluster has priority levels or weighs localities: a level by
    /// Envoy's priority load (`PriorityLoad`, the point from the request's hash or at random), its healthy hosts
    /// (all of them when the level is in panic), then under `locality_weighted_lb_config` one locality's. Under
    /// the lock.
    private func eligibleByPriorityAndLocality(present: [Bool], healthy: [Bool], hash: UInt64?) -> [Bool] {
        let levels = hostPriorities
        let policy = config.assignmentPolicy
        let counts = levels.map { level in
            hosts.indices.reduce(into: (healthy: 0, total: 0)) { count, host in
                guard present[host], hosts[host].priority == level else { return }
                let share = policy.weightedPriorityHealth ? hosts[host].weight : 1
                count.total += share
                if healthy[host] { count.healthy += share }
            }
        }
        let load = PriorityLoad(levels: counts, factor: policy.overprovisioningFactor)
        let point = hash.map { Int($0 % 100) } ?? Int.random(in: 0..<100, using: &random)
        let index = load.level(at: point)
        let level = levels[index]
        let inLevel = hosts.indices.map { present[$0] && hosts[$0].priority == level }
        let panic = load.normalizedTotalHealth < 100 && counts[index].total > 0
            && Double(counts[index].healthy) / Double(counts[index].total) < config.healthyPanicThreshold
        var eligible = hosts.indices.map { inLevel[$0] && (panic || healthy[$0]) }
        guard config.localityWeighted, !panic else { return eligible }
        var localities: [LocalityKey: (weight: Int, healthy: Int, total: Int)] = [:]
        var order: [LocalityKey] = []
        for host in hosts.indices where inLevel[host] {
            let key = LocalityKey(hosts[host])
            if localities[key] == nil { order.append(key) }
            var entry = localities[key] ?? (hosts[host].localityWeight, 0, 0)
            entry.total += 1
            if healthy[host] { entry.healthy += 1 }
            localities[key] = entry
        }
        let candidates = order.map { (key: $0, weight: localities[$0]!.weight, healthy: localities[$0]!.healthy, total: localities[$0]!.total) }
        guard let chosen = localityPickers[level, default: LocalityPicker()].choose(candidates, factor: policy.overprovisioningFactor) else { return eligible }
        for host in hosts.indices where eligible[host] && LocalityKey(hosts[host]) != chosen { eligible[host] = false }
        return eligible
    }

    /// The load assignment's `drop_overloads` answer for a request: the reply that drops it, or nil to go on.
    func dropOverloadReply() -> LocalReply? {
        guard let drop = config.assignmentPolicy.dropOverload, drop.fraction > 0 else { return nil }
        if drop.fraction >= 1 { return .unconditionalDropOverload }
        return Double.random(in: 0..<1) < drop.fraction ? .dropOverload : nil
    }

    /// The endpoint host `host` stands for now.
    func endpoint(_ host: Int) -> ClusterEndpoint {
        lock.lock(); defer { lock.unlock() }
        return hosts[host]
    }

    /// `IP:PORT` of `host`.
    func hostAddress(_ host: Int) -> String {
        lock.lock(); defer { lock.unlock() }
        return addresses[host]
    }

    /// The transport socket settings for `host` (its metadata against the cluster's transport socket matches).
    func tls(forHost host: Int) -> TLSContextConfig? {
        config.tls(for: endpoint(host))
    }

    /// The hosts present now, with their indexes, in index order (what `/clusters` lists).
    var presentHosts: [(index: Int, endpoint: ClusterEndpoint)] {
        lock.lock(); defer { lock.unlock() }
        return hosts.indices.filter { !removedHosts.contains($0) }.map { ($0, hosts[$0]) }
    }

    func open(_ resource: CircuitBreaker.Resource) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return breaker.open(resource)
    }

    func openPastLimit(_ resource: CircuitBreaker.Resource) {
        lock.lock(); defer { lock.unlock() }
        breaker.openPastLimit(resource)
    }

    func canOpen(_ resource: CircuitBreaker.Resource) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return breaker.canOpen(resource)
    }

    func close(_ resource: CircuitBreaker.Resource) {
        lock.lock(); defer { lock.unlock() }
        breaker.close(resource)
    }

    var breakerState: CircuitBreaker {
        lock.lock(); defer { lock.unlock() }
        return breaker
    }

    func updateHost(_ host: Int, _ change: (inout HostCounters) -> Void) {
        lock.lock(); defer { lock.unlock() }
        change(&hostCounters[host])
    }

    var counters: [HostCounters] {
        lock.lock(); defer { lock.unlock() }
        return hostCounters
    }

    func isEjected(_ host: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return detector?.isEjected(host) ?? false
    }

    /// Feeds outlier detection one result.
    func record(_ outcome: OutlierDetector.Outcome, host: Int, now: Double) {
        lock.lock()
        let found = removedHosts.contains(host) ? [] : (detector?.recordResult(outcome, host: host, now: now) ?? [])
        let active = detector?.ejectedCount ?? 0
        let total = hosts.count - removedHosts.count
        lock.unlock()
        if !found.isEmpty { count(found, active: active, total: total) }
    }

    /// The outlier detector's interval tick: hosts return, success rates and failure percentages are judged.
    func tick(now: Double) {
        lock.lock()
        let (returned, found) = detector?.interval(now: now) ?? ([], [])
        let active = detector?.ejectedCount ?? 0
        let total = hosts.count - removedHosts.count
        lock.unlock()
        if !returned.isEmpty || !found.isEmpty { count(found, active: active, total: total) }
    }

    /// Envoy's outlier stats for detected ejections: `ejections_detected_TYPE` for each, `ejections_enforced_TYPE`
    /// and `_total` for those carried out, `ejections_overflow` for those `max_ejection_percent` stopped.
    private func count(_ ejections: [OutlierDetector.Ejection], active: Int, total: Int) {
        let prefix = statPrefix + "outlier_detection."
        for ejection in ejections {
            stats.increment(prefix + "ejections_detected_" + ejection.type.rawValue)
            switch ejection.result {
            case .enforced:
                stats.increment(prefix + "ejections_enforced_total")
                stats.increment(prefix + "ejections_enforced_" + ejection.type.rawValue)
            case .overflow: stats.increment(prefix + "ejections_overflow")
            case .notEnforced: break
            }
        }
        stats.set(prefix + "ejections_active", to: active)
        stats.set(statPrefix + "membership_healthy", to: total - active)
    }

    /// The outlier detector's success-rate numbers for `/clusters`: the cluster's average and ejection threshold
    /// from the last interval, and each host's rate (nil: not judged); `localOrigin`: split mode's reachability rates.
    func successRates(localOrigin: Bool = false) -> (average: Double?, threshold: Double?, hosts: [Double?]) {
        lock.lock(); defer { lock.unlock() }
        guard let detector else { return (nil, nil, Array(repeating: nil, count: hosts.count)) }
        guard localOrigin else { return (detector.successRateAverage, detector.successRateEjectionThreshold, detector.hosts.map(\.successRate)) }
        return (detector.localOriginSuccessRateAverage, detector.localOriginSuccessRateEjectionThreshold, detector.hosts.map(\.localOriginSuccessRate))
    }
}

extension UpstreamCluster {
    /// STRICT_DNS/LOGICAL_DNS: looks every endpoint's name up (blocking: call it off the event loops) and puts the
    /// answer in service. An endpoint whose lookup fails keeps its previous addresses, as Envoy does. True when
    /// every lookup succeeded.
    @discardableResult
    func resolveHosts() -> Bool {
        guard config.kind == .strictDNS || config.kind == .logicalDNS else { return true }
        stats.increment(statPrefix + "update_attempt")
        var answers: [[String]?] = []
        for endpoint in config.endpoints {
            if case .success(let found) = lookup(endpoint.address.host, config.dns.lookupFamily) { answers.append(found) } else { answers.append(nil) }
        }
        let failed = answers.contains { $0 == nil }
        stats.increment(statPrefix + (failed ? "update_failure" : "update_success"))
        lock.lock()
        for (index, answer) in answers.enumerated() where answer != nil { dnsAnswers[index] = answer }
        let changed = config.kind == .logicalDNS ? takeLogicalAddress() : takeStrictAnswers()
        let total = hosts.count - removedHosts.count
        let healthy = hosts.indices.filter { !removedHosts.contains($0) && !(detector?.isEjected($0) ?? false) }.count
        lock.unlock()
        if changed {
            stats.increment(statPrefix + "membership_change")
            stats.set(statPrefix + "membership_total", to: total)
            stats.set(statPrefix + "membership_healthy", to: healthy)
        } else if !failed {
            stats.increment(statPrefix + "update_no_rebuild")
        }
        return !failed
    }

    /// LOGICAL_DNS: the one host takes the answer's first address (connections already open stay). Under the lock.
    private func takeLogicalAddress() -> Bool {
        guard let first = dnsAnswers.first??.first, let configured = config.endpoints.first else { return false }
        let address = SocketAddress(host: first, port: configured.address.port)
        guard hosts[0].address != address else { return false }
        hosts[0].address = address
        addresses[0] = address.description
        return false  // the same logical host: no membership change
    }

    /// STRICT_DNS: one host per answered address of each endpoint; hosts that left the answers are removed and new
    /// ones added (a removed slot with the same endpoint and address is taken again). Under the lock. True when
    /// the membership changed.
    private func takeStrictAnswers() -> Bool {
        var wanted: [ClusterEndpoint] = []
        for (index, configured) in config.endpoints.enumerated() {
            for found in dnsAnswers[index] ?? [] {
                var host = configured
                host.hostname = configured.address.host
                host.address = SocketAddress(host: found, port: configured.address.port)
                wanted.append(host)
            }
        }
        var keep = Set<Int>()
        var changed = false
        for host in wanted {
            if let slot = hosts.indices.first(where: { !keep.contains($0) && hosts[$0] == host }) {
                keep.insert(slot)
                if removedHosts.remove(slot) != nil {
                    detector?.rejoin(slot)
                    changed = true
                }
                continue
            }
            hosts.append(host)
            addresses.append(host.address.description)
            hostCounters.append(HostCounters())
            detector?.addHost()
            keep.insert(hosts.count - 1)
            changed = true
        }
        for slot in hosts.indices where !keep.contains(slot) && !removedHosts.contains(slot) {
            removedHosts.insert(slot)
            detector?.forget(slot)
            changed = true
        }
        if changed {
            balancer = LoadBalancer(config, hosts: hosts, removed: removedHosts)
            hostPriorities = Array(Set(hosts.indices.filter { !removedHosts.contains($0) }.map { hosts[$0].priority })).sorted()
        }
        return changed
    }
}

extension UpstreamCluster {
    /// ORIGINAL_DST: the host for a request to `destination`, added on first use (a removed one taken again); nil
    /// when the request has no usable destination.
    func originalDestinationHost(_ destination: SocketAddress?) -> Int? {
        guard let destination, config.kind == .originalDestination else { return nil }
        lock.lock()
        defer { lock.unlock() }
        let key = destination.description
        if let slot = addresses.firstIndex(of: key) {
            usedSinceSweep.insert(slot)
            guard removedHosts.remove(slot) != nil else { return slot }
            detector?.rejoin(slot)
        } else {
            hosts.append(ClusterEndpoint(address: destination, weight: 1, region: "", zone: "", subZone: "", priority: 0))
            addresses.append(key)
            hostCounters.append(HostCounters())
            detector?.addHost()
            usedSinceSweep.insert(hosts.count - 1)
        }
        let total = hosts.count - removedHosts.count
        stats.increment(statPrefix + "membership_change")
        stats.set(statPrefix + "membership_total", to: total)
        stats.set(statPrefix + "membership_healthy", to: total - (detector?.ejectedCount ?? 0))
        return addresses.firstIndex(of: key)
    }

    /// ORIGINAL_DST's `cleanup_interval` sweep: hosts no request used since the last sweep, with none under way, leave.
    func sweepOriginalDestinations() {
        lock.lock()
        var removed = 0
        for slot in hosts.indices where !removedHosts.contains(slot) && !usedSinceSweep.contains(slot) && hostCounters[slot].activeRequests == 0 {
            removedHosts.insert(slot)
            detector?.forget(slot)
            removed += 1
        }
        usedSinceSweep.removeAll()
        let total = hosts.count - removedHosts.count
        lock.unlock()
        guard removed > 0 else { return }
        stats.increment(statPrefix + "membership_change")
        stats.set(statPrefix + "membership_total", to: total)
        stats.set(statPrefix + "membership_healthy", to: total)
    }
}

/// Monotonic seconds, for durations and outlier detection.
enum MonotonicClock {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
