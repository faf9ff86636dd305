import MeshHTTP1

/// A connection manager's configuration behind one reference: an HTTP/1.1 connection makes it once and each of its
/// requests' streams retains it, instead of retaining every string and list of the configuration per request.
final class SharedConnectionManager: Sendable {
    let config: HTTPConnectionManagerConfig

    init(_ config: HTTPConnectionManagerConfig) {
        self.config = config
    }
}

extension ProxyStream {
    /// For a connection that does not share its configuration with its streams (HTTP/2's): one reference made here.
    convenience init(runtime: ProxyRuntime, loopContext: LoopContext, downstream: any DownstreamClient, manager: HTTPConnectionManagerConfig,
                     managerStats: ConnectionManagerStats, request: HTTPRequest, bodyComplete: Bool = true) {
        self.init(runtime: runtime, loopContext: loopContext, downstream: downstream, manager: SharedConnectionManager(manager),
                  managerStats: managerStats, request: request, bodyComplete: bodyComplete)
    }
}
