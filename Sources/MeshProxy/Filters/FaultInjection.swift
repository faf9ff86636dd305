/// The fault filter's decisions for one request, as Envoy's fault filter makes them: which configuration applies,
/// whether to delay the request and for how long, then whether to abort it and with what. Pure: the headers are
/// passed in and each percentage is tested against a draw from `draw` (uniform in 0..<1), so tests choose the draws.
enum FaultInjection {
    /// What an abort answers: an HTTP status, or a gRPC status (200, trailers-only for gRPC requests).
    enum Abort: Equatable {
        case status(Int)
        case grpcStatus(Int)
    }

    /// The configuration that applies: the route's (`typed_per_filter_config`) over the connection manager's last
    /// fault filter; nil when the connection manager has no fault filter (a route's alone does nothing).
    static func config(filters: [HTTPFilter], routeFault: FaultConfig?) -> FaultConfig? {
        var filterConfig: FaultConfig?
        for filter in filters { if case .fault(let config) = filter { filterConfig = config } }
        guard let filterConfig else { return nil }
        return routeFault ?? filterConfig
    }

    /// The delay in seconds, or nil for none: the fixed delay when a draw falls under its percentage, replaced by
    /// `x-envoy-fault-delay-request` (milliseconds) when the configuration takes it from the header.
    static func delay(_ config: FaultConfig, delayHeader: String?, draw: () -> Double) -> Double? {
        var delay: Double?
        if let seconds = config.delaySeconds, draw() < config.delayFraction { delay = seconds }
        if config.delayFromHeader, let millis = delayHeader.flatMap(Double.init), draw() < max(config.delayFraction, 1) {
            delay = millis / 1000
        }
        return delay
    }

    /// The abort, or nil to go on to the router: the fixed status when a draw falls under the abort percentage,
    /// replaced by a valid `x-envoy-fault-abort-request` status (200-599) when the configuration takes it from the
    /// header; failing both, the gRPC status when a second draw falls under the percentage.
    static func abort(_ config: FaultConfig, abortHeader: String?, draw: () -> Double) -> Abort? {
        var status: Int?
        if let code = config.abortStatus, draw() < config.abortFraction { status = code }
        if config.abortFromHeader, let code = abortHeader.flatMap(Int.init), (200..<600).contains(code) { status = code }
        if let status { return .status(status) }
        if let code = config.abortGRPCStatus, draw() < config.abortFraction { return .grpcStatus(code) }
        return nil
    }
}
