/// Envoy's split of a cluster's traffic over its priority levels (P=0 first), in integer percents.
///
/// A level's health is its healthy share of hosts times the overprovisioning factor (1.4), capped at 100. Levels
/// take load in order, each as much as its health allows, until 100% is placed; when the healths add up to less
/// than 100 ("normalized total health" below 100) each level's share is scaled up so the whole still adds to 100,
/// and a level whose healthy share is under the panic threshold then balances over all its hosts. With no healthy
/// host anywhere, load follows each level's host count.
struct PriorityLoad: Equatable {
    /// Per level, the percent of requests it takes (adds up to 100 when there is any host).
    var loads: [Int]
    /// The levels' healths added up, at most 100.
    var normalizedTotalHealth: Int

    /// Envoy's default `overprovisioning_factor`, in percent.
    static let overprovisioningFactor = 140

    /// One level's health: its healthy hosts' share times the overprovisioning factor, at most 100.
    static func health(healthy: Int, total: Int, factor: Int = overprovisioningFactor) -> Int {
        guard total > 0 else { return 0 }
        return min(100, factor * healthy / total)
    }

    init(levels: [(healthy: Int, total: Int)], factor: Int = overprovisioningFactor) {
        let healths = levels.map { Self.health(healthy: $0.healthy, total: $0.total, factor: factor) }
        normalizedTotalHealth = min(100, healths.reduce(0, +))
        loads = Array(repeating: 0, count: levels.count)
        guard !levels.isEmpty else { return }
        var remaining = 100
        if normalizedTotalHealth == 0 {
            // Every level is in panic: by host count, the rounding left to the first level with hosts.
            let hosts = levels.reduce(0) { $0 + $1.total }
            guard hosts > 0 else { loads[0] = 100; return }
            for (index, level) in levels.enumerated() {
                loads[index] = min(remaining, 100 * level.total / hosts)
                remaining -= loads[index]
            }
            if let first = levels.firstIndex(where: { $0.total > 0 }) { loads[first] += remaining }
            return
        }
        for (index, health) in healths.enumerated() {
            loads[index] = min(remaining, health * 100 / normalizedTotalHealth)
            remaining -= loads[index]
        }
        if remaining > 0, let first = healths.firstIndex(where: { $0 > 0 }) { loads[first] += remaining }
    }

    /// The level a request at `point` (0..<100, from the random source or the request's hash) goes to.
    func level(at point: Int) -> Int {
        var upTo = 0
        for (index, load) in loads.enumerated() {
            upTo += load
            if point < upTo { return index }
        }
        return max(0, loads.count - 1)
    }
}

/// `locality_weighted_lb_config`: within a priority level, a locality is chosen by its `load_balancing_weight`
/// times its availability (healthy share times the overprovisioning factor, at most 1), in smooth weighted round
/// robin; a locality without a weight takes no traffic. Then the cluster's policy picks a host in it.
struct LocalityPicker {
    /// Smooth weighted round robin's running scores, by locality.
    private var scores: [LocalityKey: Int] = [:]

    /// The chosen locality among `localities` (its weight, healthy and total hosts); nil when every effective
    /// weight is 0 (the caller then balances over the whole level).
    mutating func choose(_ localities: [(key: LocalityKey, weight: Int, healthy: Int, total: Int)],
                         factor: Int = PriorityLoad.overprovisioningFactor) -> LocalityKey? {
        // Effective weights in hundredths, so the availability's fraction is kept.
        let effective = localities.map { locality -> (LocalityKey, Int) in
            (locality.key, locality.weight * PriorityLoad.health(healthy: locality.healthy, total: locality.total, factor: factor))
        }.filter { $0.1 > 0 }
        guard !effective.isEmpty else { return nil }
        let total = effective.reduce(0) { $0 + $1.1 }
        var best = effective[0].0, bestScore = Int.min
        for (key, weight) in effective {
            let score = scores[key, default: 0] + weight
            scores[key] = score
            if score > bestScore { best = key; bestScore = score }
        }
        scores[best, default: 0] -= total
        return best
    }
}

/// A locality's identity: region, zone, sub-zone.
struct LocalityKey: Hashable {
    var region: String, zone: String, subZone: String
    init(_ endpoint: ClusterEndpoint) {
        region = endpoint.region
        zone = endpoint.zone
        subZone = endpoint.subZone
    }
}
