import Foundation

/// Counters and gauges by Envoy's names (`cluster.NAME.upstream_rq_total`, `http.PREFIX.downstream_rq_2xx`,
/// `listener.ADDRESS.downstream_cx_total`, `server.live`). Safe from any thread.
public final class ProxyStats: @unchecked Sendable {
    public enum Kind: Sendable { case counter, gauge }

    private let lock = NSLock()
    private var values: [String: (kind: Kind, value: Int, used: Bool)] = [:]
    /// Histograms and Istio's labeled metrics.
    public let labeled = LabeledMetrics()

    public init() {}

    /// Makes a stat known (value 0, not yet used), as Envoy lists every stat of a cluster or listener from the start.
    public func declare(_ name: String, _ kind: Kind = .counter) {
        lock.lock(); defer { lock.unlock() }
        if values[name] == nil { values[name] = (kind, 0, false) }
    }

    public func increment(_ name: String, by amount: Int = 1) {
        lock.lock(); defer { lock.unlock() }
        let old = values[name] ?? (.counter, 0, false)
        values[name] = (old.kind, old.value + amount, true)
    }

    /// Moves a gauge up or down.
    public func adjust(_ name: String, by amount: Int) {
        lock.lock(); defer { lock.unlock() }
        let old = values[name] ?? (.gauge, 0, false)
        values[name] = (.gauge, max(0, old.value + amount), true)
    }

    public func set(_ name: String, to value: Int) {
        lock.lock(); defer { lock.unlock() }
        values[name] = (.gauge, value, true)
    }

    public func value(_ name: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return values[name]?.value ?? 0
    }

    /// Every stat, sorted by name.
    public func snapshot() -> [(name: String, kind: Kind, value: Int, used: Bool)] {
        lock.lock(); defer { lock.unlock() }
        return values.map { ($0.key, $0.value.kind, $0.value.value, $0.value.used) }.sorted { $0.name < $1.name }
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

    private let lock = NSLock()
    private var counters: [Series: Int] = [:]
    private var histograms: [Series: Histogram] = [:]

    public func add(_ name: String, labels: [(String, String)], by amount: Int = 1) {
        let series = Series(name, labels)
        lock.lock(); defer { lock.unlock() }
        counters[series, default: 0] += amount
    }

    public func observe(_ name: String, labels: [(String, String)] = [], value: Double) {
        let series = Series(name, labels)
        lock.lock(); defer { lock.unlock() }
        histograms[series, default: Histogram()].observe(value)
    }

    public func counterSnapshot() -> [(series: Series, value: Int)] {
        lock.lock(); defer { lock.unlock() }
        return counters.map { ($0.key, $0.value) }
    }

    public func histogramSnapshot() -> [(series: Series, histogram: Histogram)] {
        lock.lock(); defer { lock.unlock() }
        return histograms.map { ($0.key, $0.value) }
    }

    /// The value of the counter with exactly these labels (0 when none).
    public func counter(_ name: String, labels: [(String, String)]) -> Int {
        lock.lock(); defer { lock.unlock() }
        return counters[Series(name, labels)] ?? 0
    }
}
