/// A connection's stand-in for closures and registries that may outlive it (timers on the loop, the listener's
/// drain list): `connection` reads nil once the connection is gone, as a weak reference would. A weak reference
/// gives its target a side table for good, after which every retain and release of the target takes the runtime's
/// slow path (in callgrind ~100 instructions instead of ~5, dozens of times per proxied request); the handle takes
/// that side table instead, and the connection's own reference counting stays on the fast path.
///
/// The connection owns its handle and clears it in its `deinit`; the handle is read on the connection's loop
/// thread only (`tcp` may be read from any thread).
final class ConnectionHandle<Connection: AnyObject> {
    /// Not retained: cleared by the connection's `deinit`, before its memory goes.
    unowned(unsafe) private(set) var connection: Connection?
    let tcp: ProxyTransport

    init(tcp: ProxyTransport) {
        self.tcp = tcp
    }

    /// Called once at the end of the connection's `init`.
    func attach(_ connection: Connection) { self.connection = connection }

    /// Called from the connection's `deinit`.
    func detach() { connection = nil }
}

extension ConnectionHandle: DrainableConnection where Connection: DrainableConnection {
    func drain(deadline: Double) { connection?.drain(deadline: deadline) }
}
