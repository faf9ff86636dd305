/// A connection manager's configuration behind one reference: an HTTP/1.1 connection makes it once and each of its
/// requests' streams retains it, instead of retaining every string and list of the configuration per request.
final class SharedConnectionManager: Sendable {
    let config: HTTPConnectionManagerConfig

    init(_ config: HTTPConnectionManagerConfig) {
        self.config = config
    }
}
