import Foundation

/// Chooses a host of a cluster for each request by the cluster's `lb_policy`. Hosts are indexes into the
/// cluster's hosts; `eligible` says which may be chosen now (present, not ejected), `active` how many requests each has.
public struct LoadBalancer: Sendable {
    public let policy: Cluster.LoadBalancing
    private let weights: [Int]
    private var roundRobinNext = 0
    /// Smooth weighted round robin's running scores, when the weights differ.
    private var roundRobinScores: [Int]
    /// RING_HASH: points on the ring, sorted by hash.
    private let ring: [(hash: UInt64, host: Int)]
    /// MAGLEV: the lookup table.
    private let maglev: [Int]

    /// A balancer over the cluster's configured endpoints.
    public init(_ cluster: Cluster) { self.init(cluster, hosts: cluster.endpoints) }

    /// A balancer over `hosts` (a DNS cluster's resolved hosts); `removed` hosts get no place on a hash ring or table.
    init(_ cluster: Cluster, hosts: [ClusterEndpoint], removed: Set<Int> = []) {
        policy = cluster.loadBalancing
        weights = hosts.indices.map { removed.contains($0) ? 0 : hosts[$0].weight }
        roundRobinScores = Array(repeating: 0, count: weights.count)
        let names = hosts.map { $0.address.description }
        ring = policy == .ringHash ? Self.buildRing(names: names, weights: weights, minimumSize: cluster.ringSize.minimum, maximumSize: cluster.ringSize.maximum) : []
        maglev = policy == .maglev ? Self.buildMaglev(names: names, weights: weights, size: cluster.maglevTableSize) : []
    }

    /// The chosen host, or nil when none is eligible. `hash` comes from the route's hash policies (RING_HASH, MAGLEV);
    /// without one those policies choose at random.
    public mutating func choose<R: RandomNumberGenerator>(eligible: [Bool], active: [Int], hash: UInt64?, using random: inout R) -> Int? {
        let candidates = eligible.indices.filter { eligible[$0] }
        guard !candidates.isEmpty else { return nil }
        if candidates.count == 1 { return candidates[0] }
        switch policy {
        case .roundRobin:
            return roundRobin(candidates)
        case .random:
            return candidates[Int.random(in: 0..<candidates.count, using: &random)]
        case .leastRequest:
            // Two random choices, the one with fewer active requests wins (Envoy's default choice_count).
            let first = candidates[Int.random(in: 0..<candidates.count, using: &random)]
            let second = candidates[Int.random(in: 0..<candidates.count, using: &random)]
            return active[second] < active[first] ? second : first
        case .ringHash:
            guard let hash, !ring.isEmpty else { return candidates[Int.random(in: 0..<candidates.count, using: &random)] }
            var index = ring.partitioningIndex { $0.hash >= hash } % ring.count
            for _ in 0..<ring.count {
                if eligible[ring[index].host] { return ring[index].host }
                index = (index + 1) % ring.count
            }
            return nil
        case .maglev:
            guard let hash, !maglev.isEmpty else { return candidates[Int.random(in: 0..<candidates.count, using: &random)] }
            let start = Int(hash % UInt64(maglev.count))
            for step in 0..<maglev.count where eligible[maglev[(start + step) % maglev.count]] { return maglev[(start + step) % maglev.count] }
            return nil
        }
    }

    private mutating func roundRobin(_ candidates: [Int]) -> Int {
        if Set(candidates.map { weights[$0] }).count == 1 {
            roundRobinNext += 1
            return candidates[(roundRobinNext - 1) % candidates.count]
        }
        // Smooth weighted round robin: each candidate gains its weight, the highest wins and pays the total.
        let total = candidates.reduce(0) { $0 + weights[$1] }
        var best = candidates[0]
        for host in candidates {
            roundRobinScores[host] += weights[host]
            if roundRobinScores[host] > roundRobinScores[best] { best = host }
        }
        roundRobinScores[best] -= total
        return best
    }

    /// A stable 64-bit hash of text (FNV-1a, then a finalizer to spread the bits).
    public static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        value ^= value >> 33
        value = value &* 0xff51_afd7_ed55_8ccd
        value ^= value >> 33
        return value
    }

    static func buildRing(names: [String], weights: [Int], minimumSize: Int, maximumSize: Int) -> [(hash: UInt64, host: Int)] {
        guard !names.isEmpty, weights.contains(where: { $0 > 0 }) else { return [] }
        let total = Double(weights.reduce(0, +))
        let minimumWeight = Double(weights.filter { $0 > 0 }.min() ?? 1) / total
        let scale = min(ceil(minimumWeight * Double(minimumSize)) / minimumWeight, Double(maximumSize))
        var points: [(hash: UInt64, host: Int)] = []
        for (host, name) in names.enumerated() where weights[host] > 0 {
            let count = Int(ceil(Double(weights[host]) / total * scale))
            for replica in 0..<max(1, count) { points.append((hash("\(name)_\(replica)"), host)) }
        }
        return points.sorted { $0.hash < $1.hash }
    }

    static func buildMaglev(names: [String], weights: [Int], size: Int) -> [Int] {
        guard !names.isEmpty, weights.contains(where: { $0 > 0 }) else { return [] }
        let size = UInt64(size)
        let offsets = names.map { hash($0) % size }
        let skips = names.map { hash($0 + "#skip") % (size - 1) + 1 }
        var next = Array(repeating: UInt64(0), count: names.count)
        var table = Array(repeating: -1, count: Int(size))
        var filled: UInt64 = 0
        let maxWeight = weights.max() ?? 1
        var credit = Array(repeating: 0, count: names.count)
        while filled < size {
            for host in names.indices where weights[host] > 0 {
                credit[host] += weights[host]
                guard credit[host] >= maxWeight else { continue }
                credit[host] -= maxWeight
                var slot = (offsets[host] + next[host] * skips[host]) % size
                while table[Int(slot)] >= 0 {
                    next[host] += 1
                    slot = (offsets[host] + next[host] * skips[host]) % size
                }
                table[Int(slot)] = host
                next[host] += 1
                filled += 1
                if filled == size { break }
            }
        }
        return table
    }
}

extension Array {
    /// The first index whose element satisfies `belongs` (a predicate false then true along the array).
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// The hash a route's hash policies give a request: the first policy with a value (cookies, headers, query
/// parameters, the client's address); nil when none has one.
public enum RequestHash {
    /// `generate` makes the value of a ttl cookie the request lacks (and sets it on the answer); nil: none is made.
    public static func compute(_ policies: [HashPolicy], headers: [(name: String, value: String)], query: [(name: String, value: String)], sourceIP: String?,
                               generate: ((GeneratedCookie) -> String)? = nil) -> UInt64? {
        var combined: UInt64?
        for policy in policies {
            var text: String?
            switch policy.source {
            case .header(let name): text = headers.first { $0.name.lowercased() == name }?.value
            case .queryParameter(let name): text = query.first { $0.name == name }?.value
            case .sourceIP: text = sourceIP
            case .cookie(let name): text = cookie(name, in: headers)
            case .generatedCookie(let cookie): text = Self.cookie(cookie.name, in: headers) ?? generate?(cookie)
            }
            guard let text else { continue }
            let value = LoadBalancer.hash(text)
            combined = combined.map { ($0 << 1 | $0 >> 63) ^ value } ?? value
            if policy.terminal { break }
        }
        return combined
    }

    /// A cookie's first value in the `cookie` headers, without the double quotes it may be sent in.
    static func cookie(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        var value: String?
        for header in headers where header.name.lowercased() == "cookie" {
            for part in header.value.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard value == nil, pair.count == 2, pair[0] == name else { continue }
                let text = pair[1]
                value = text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") ? String(text.dropFirst().dropLast()) : text
            }
        }
        return value
    }
}
