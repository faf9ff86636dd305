import Foundation
import Synchronization

/// Counters and gauges by Envoy's names (`cluster.NAME.upstream_rq_total`, `http.PREFIX.downstream_rq_2xx`,
/// `listener.ADDRESS.downstream_cx_total`, `server.live`). Safe from any thread. The data path holds `Slot`s it
/// looked up once (per cluster, per connection manager) and updates them without a lock or a name.
public final class ProxyStats: @unchecked Sendable {
    public enum Kind: Sendable { case counter, gauge }

    /// One stat's value, updated atomically from any loop.
    public final class Slot: Sendable {
        private let value = Atomic<Int>(0)
        private let usedFlag = Atomic<Bool>(false)
        private let gaugeFlag: Atomic<Bool>
        /// Declared stats are listed from the start; others once they are first used.
        private let declaredFlag = Atomic<Bool>(false)

        init(_ kind: Kind) { gaugeFlag = Atomic(kind == .gauge) }

        public var current: Int { value.load(ordering: .relaxed) }
        var used: Bool { usedFlag.load(ordering: .relaxed) }
        var kind: Kind { gaugeFlag.load(ordering: .relaxed) ? .gauge : .counter }
        var isListed: Bool { usedFlag.load(ordering: .relaxed) || declaredFlag.load(ordering: .relaxed) }
        func declare() { declaredFlag.store(true, ordering: .relaxed) }

        /// Adds to a counter (or a gauge, keeping its kind).
        public func increment(by amount: Int = 1) {
            value.wrappingAdd(amount, ordering: .relaxed)
            if !usedFlag.load(ordering: .relaxed) { usedFlag.store(true, ordering: .relaxed) }
        }

        /// Moves a gauge up or down, never below 0.
        public func adjust(by amount: Int) {
            if !gaugeFlag.load(ordering: .relaxed) { gaugeFlag.store(true, ordering: .relaxed) }
            var old = value.load(ordering: .relaxed)
            while true {
                let (exchanged, seen) = value.compareExchange(expected: old, desired: max(0, old + amount), ordering: .relaxed)
                if exchanged { break }
                old = seen
            }
            if !usedFlag.load(ordering: .relaxed) { usedFlag.store(true, ordering: .relaxed) }
        }

        func set(_ newValue: Int) {
            gaugeFlag.store(true, ordering: .relaxed)
            value.store(newValue, ordering: .relaxed)
            usedFlag.store(true, ordering: .relaxed)
        }
    }

    private let lock = NSLock()
    private var slots: [String: Slot] = [:]
    /// Histograms and Istio's labeled metrics.
    public let labeled = LabeledMetrics()

    public init() {}

    /// The slot of `name`, made (as `kind`) when it is new; a stat is listed once it is used or declared.
    public func slot(_ name: String, _ kind: Kind = .counter) -> Slot {
        lock.lock(); defer { lock.unlock() }
        if let slot = slots[name] { return slot }
        let slot = Slot(kind)
        slots[name] = slot
        return slot
    }

    /// Makes a stat known (value 0, not yet used), as Envoy lists every stat of a cluster or listener from the start.
    public func declare(_ name: String, _ kind: Kind = .counter) {
        slot(name, kind).declare()
    }

    public func increment(_ name: String, by amount: Int = 1) {
        slot(name).increment(by: amount)
    }

    /// Moves a gauge up or down.
    public func adjust(_ name: String, by amount: Int) {
        slot(name, .gauge).adjust(by: amount)
    }

    public func set(_ name: String, to value: Int) {
        slot(name, .gauge).set(value)
    }

    public func value(_ name: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return slots[name]?.current ?? 0
    }

    /// Every stat, sorted by name.
    public func snapshot() -> [(name: String, kind: Kind, value: Int, used: Bool)] {
        lock.lock()
        let all = slots
        lock.unlock()
        return all.filter { $0.value.isListed }.map { ($0.key, $0.value.kind, $0.value.current, $0.value.used) }.sorted { $0.name < $1.name }
    }
}

/// A connection manager's `http.PREFIX.` stats that every request touches, looked up once per connection manager.
final class ConnectionManagerStats: Sendable {
    let requestsTotal, requestsActive, requestsCompleted: ProxyStats.Slot
    /// `downstream_rq_1xx` ... `downstream_rq_5xx`, at index class - 1.
    let responseClasses: [ProxyStats.Slot]
    /// `downstream_rq_time` (milliseconds).
    let requestTime: LabeledMetrics.HistogramSlot

    init(prefix: String, stats: ProxyStats) {
        requestTime = stats.labeled.histogram(prefix + "downstream_rq_time")
        requestsTotal = stats.slot(prefix + "downstream_rq_total")
        requestsActive = stats.slot(prefix + "downstream_rq_active", .gauge)
        requestsCompleted = stats.slot(prefix + "downstream_rq_completed")
        responseClasses = (1...5).map { stats.slot(prefix + "downstream_rq_\($0)xx") }
    }

    /// Counts a finished request's status class.
    func countResponse(_ status: Int) {
        let statusClass = status / 100
        if (1...5).contains(statusClass) { responseClasses[statusClass - 1].increment() }
    }
}

/// A cluster's `cluster.NAME.` stats that every request touches, looked up when the cluster is made; per-status
/// counters (`upstream_rq_200`) are looked up once per status.
final class ClusterRequestStats: @unchecked Sendable {
    let requestsTotal, requestsActive, requestsCompleted: ProxyStats.Slot
    /// `upstream_rq_1xx` ... `upstream_rq_5xx`, at index class - 1.
    private let responseClasses: [ProxyStats.Slot]
    private let prefix: String
    private let stats: ProxyStats
    private let lock = NSLock()
    private var byStatus: [Int: ProxyStats.Slot] = [:]

    /// `upstream_rq_time` (milliseconds).
    let requestTime: LabeledMetrics.HistogramSlot

    init(prefix: String, stats: ProxyStats) {
        self.prefix = prefix
        self.stats = stats
        requestTime = stats.labeled.histogram(prefix + "upstream_rq_time")
        requestsTotal = stats.slot(prefix + "upstream_rq_total")
        requestsActive = stats.slot(prefix + "upstream_rq_active", .gauge)
        requestsCompleted = stats.slot(prefix + "upstream_rq_completed")
        responseClasses = (1...5).map { stats.slot(prefix + "upstream_rq_\($0)xx") }
    }

    /// Counts an upstream answer: `upstream_rq_STATUS` and `upstream_rq_Nxx`.
    func countResponse(_ status: Int) {
        lock.lock()
        let slot: ProxyStats.Slot
        if let known = byStatus[status] {
            slot = known
        } else {
            slot = stats.slot(prefix + "upstream_rq_\(status)")
            byStatus[status] = slot
        }
        lock.unlock()
        slot.increment()
        let statusClass = status / 100
        if (1...5).contains(statusClass) {
            responseClasses[statusClass - 1].increment()
        } else {
            stats.increment(prefix + "upstream_rq_\(statusClass)xx")
        }
    }
}

/// Counters and histograms with labels (Istio's standard metrics) and Envoy's own histograms
/// (`cluster.NAME.upstream_rq_time`), with Envoy's default buckets, which Istio's metrics use too. Safe from any thread.
public final class LabeledMetrics: @unchecked Sendable {
    /// Envoy's default histogram bucket bounds (milliseconds for times, bytes for sizes).
    public static let buckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
                                           600000, 1800000, 3600000]

    public struct Histogram: Sendable {
        /// Values at or below each bound (cumulative, as Prometheus writes them).
        public var cumulative = [Int](repeating: 0, count: LabeledMetrics.buckets.count)
        public var count = 0
        public var sum = 0.0

        mutating func observe(_ value: Double) {
            count += 1
            sum += value
            for (index, bound) in LabeledMetrics.buckets.enumerated() where value <= bound { cumulative[index] += 1 }
        }
    }

    public struct Series: Hashable, Sendable {
        public var name: String
        /// Label names and values, in the order they are written.
        public var labels: [String]

        init(_ name: String, _ labels: [(String, String)]) {
            self.name = name
            self.labels = labels.flatMap { [$0.0, $0.1] }
        }

        public var labelPairs: [(String, String)] { stride(from: 0, to: labels.count, by: 2).map { (labels[$0], labels[$0 + 1]) } }
    }

    /// One histogram, looked up once by whoever observes it often (a request's time), then observed without a lookup.
    public final class HistogramSlot: @unchecked Sendable {
        private let lock = NSLock()
        private var histogram = Histogram()
        public func observe(_ value: Double) { lock.lock(); histogram.observe(value); lock.unlock() }
        var value: Histogram { lock.lock(); defer { lock.unlock() }; return histogram }
    }

    private let lock = NSLock()
    private var counters: [Series: Int] = [:]
    private var histograms: [Series: HistogramSlot] = [:]

    /// The histogram `name` (no labels), made on first use.
    public func histogram(_ name: String) -> HistogramSlot { histogram(Series(name, [])) }

    private func histogram(_ series: Series) -> HistogramSlot {
        lock.lock(); defer { lock.unlock() }
        if let slot = histograms[series] { return slot }
        let slot = HistogramSlot()
        histograms[series] = slot
        return slot
    }

    public func add(_ name: String, labels: [(String, String)], by amount: Int = 1) {
        let series = Series(name, labels)
        lock.lock(); defer { lock.unlock() }
        counters[series, default: 0] += amount
    }

    public func observe(_ name: String, labels: [(String, String)] = [], value: Double) {
        histogram(Series(name, labels)).observe(value)
    }

    public func counterSnapshot() -> [(series: Series, value: Int)] {
        lock.lock(); defer { lock.unlock() }
        return counters.map { ($0.key, $0.value) }
    }

    public func histogramSnapshot() -> [(series: Series, histogram: Histogram)] {
        lock.lock()
        let all = histograms
        lock.unlock()
        return all.map { ($0.key, $0.value.value) }
    }

    /// The value of the counter with exactly these labels (0 when none).
    public func counter(_ name: String, labels: [(String, String)]) -> Int {
        lock.lock(); defer { lock.unlock() }
        return counters[Series(name, labels)] ?? 0
    }
}
