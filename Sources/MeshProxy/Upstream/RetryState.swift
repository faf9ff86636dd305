/// One request's retries under a `retry_policy`: whether an attempt's outcome is retried, how long to back off,
/// and whether the limit was hit (the `URX` flag).
public struct RetryState: Sendable {
    public enum Outcome: Sendable, Equatable {
        case connectFailure
        /// The connection closed or failed after the request was sent, before a complete answer.
        case reset
        /// An HTTP/2 upstream refused the stream (REFUSED_STREAM, or above its GOAWAY's last stream).
        case refusedStream
        case perTryTimeout
        /// An answer: its status and its `grpc-status` header, if any.
        case response(status: Int, grpcStatus: Int?)
    }

    public enum Decision: Sendable, Equatable {
        case retry
        /// The outcome is final: not a retriable one.
        case done
        /// Retriable, but the retries are used up (`URX`).
        case exhausted
    }

    public let policy: RetryPolicy?
    public private(set) var retriesUsed = 0

    public init(policy: RetryPolicy?) { self.policy = policy }

    /// Whether the policy's `retry_on` covers the outcome.
    public func isRetriable(_ outcome: Outcome) -> Bool {
        guard let policy else { return false }
        let on = policy.retryOn
        switch outcome {
        case .connectFailure:
            return !on.isDisjoint(with: ["5xx", "gateway-error", "connect-failure", "reset", "reset-before-request"])
        case .reset:
            return !on.isDisjoint(with: ["5xx", "gateway-error", "reset"])
        case .refusedStream:
            return !on.isDisjoint(with: ["5xx", "gateway-error", "reset", "refused-stream"])
        case .perTryTimeout:
            return !on.isDisjoint(with: ["5xx", "gateway-error", "reset"])
        case .response(let status, let grpcStatus):
            if on.contains("5xx") && status >= 500 { return true }
            if on.contains("gateway-error") && [502, 503, 504].contains(status) { return true }
            if on.contains("retriable-4xx") && status == 409 { return true }
            if on.contains("retriable-status-codes") && policy.retriableStatusCodes.contains(status) { return true }
            if let grpcStatus {
                let named: [Int: String] = [1: "cancelled", 4: "deadline-exceeded", 8: "resource-exhausted", 13: "internal", 14: "unavailable"]
                if let name = named[grpcStatus], on.contains(name) { return true }
            }
            return false
        }
    }

    /// Decides after an attempt; `.retry` counts the retry.
    public mutating func decide(_ outcome: Outcome) -> Decision {
        guard isRetriable(outcome) else { return .done }
        guard let policy, retriesUsed < policy.numRetries else { return .exhausted }
        retriesUsed += 1
        return .retry
    }

    /// Seconds to wait before the retry just decided: a random time below base × (2^n − 1) for the n-th retry, at
    /// most the policy's maximum (Envoy's jittered exponential back-off, 25 ms base by default).
    public func backoff<R: RandomNumberGenerator>(using random: inout R) -> Double {
        let base = policy?.backoffBase ?? 0.025
        let maximum = policy?.backoffMax ?? base * 10
        let multiplier = Double((1 << min(max(retriesUsed, 1), 30)) - 1)
        let ceiling = min(base * multiplier, maximum)
        let millis = max(1, Int((ceiling * 1000).rounded()))
        return min(Double(Int.random(in: 0..<millis, using: &random)) / 1000, maximum)
    }
}
