/// A cluster's circuit breakers: counts of what is open against the thresholds. A request that would go over
/// one is not sent (503 with `UO` and `x-envoy-overloaded`).
public struct CircuitBreaker: Sendable, Equatable {
    public enum Resource: Sendable, CaseIterable { case connection, pendingRequest, request, retry }

    public let thresholds: CircuitBreakerThresholds
    public private(set) var connections = 0
    public private(set) var pendingRequests = 0
    public private(set) var requests = 0
    public private(set) var retries = 0

    public init(_ thresholds: CircuitBreakerThresholds) { self.thresholds = thresholds }

    public func limit(_ resource: Resource) -> Int {
        switch resource {
        case .connection: return thresholds.maxConnections
        case .pendingRequest: return thresholds.maxPendingRequests
        case .request: return thresholds.maxRequests
        case .retry: return thresholds.maxRetries
        }
    }

    public func count(_ resource: Resource) -> Int {
        switch resource {
        case .connection: return connections
        case .pendingRequest: return pendingRequests
        case .request: return requests
        case .retry: return retries
        }
    }

    public func canOpen(_ resource: Resource) -> Bool { count(resource) < limit(resource) }

    /// Takes one of `resource` if under its limit; false means overflow.
    public mutating func open(_ resource: Resource) -> Bool {
        guard canOpen(resource) else { return false }
        adjust(resource, by: 1)
        return true
    }

    public mutating func close(_ resource: Resource) { adjust(resource, by: -1) }

    /// Counts one of `resource` even past its limit (a pool's first connection to a host, which Envoy always allows).
    public mutating func openPastLimit(_ resource: Resource) { adjust(resource, by: 1) }

    private mutating func adjust(_ resource: Resource, by delta: Int) {
        switch resource {
        case .connection: connections = max(0, connections + delta)
        case .pendingRequest: pendingRequests = max(0, pendingRequests + delta)
        case .request: requests = max(0, requests + delta)
        case .retry: retries = max(0, retries + delta)
        }
    }

    /// What `/clusters` prints as `remaining_*` when `track_remaining` is set.
    public func remaining(_ resource: Resource) -> Int { max(0, limit(resource) - count(resource)) }
}
