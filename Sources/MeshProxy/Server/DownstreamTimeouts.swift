import MeshNet

/// The connection manager's connection-level timeouts on a downstream HTTP/1.1 connection: `idle_timeout` (no
/// request under way or begun for that long: close, `downstream_cx_idle_timeout`) and `request_headers_timeout` (a
/// head begun and not finished in time: 408 and a log line, `downstream_rq_header_timeout`). Loop thread only.
enum DownstreamTimeouts {
    /// One timer per connection for the idle timeout, armed once: when it fires early (the connection was busy or
    /// active since) it is set again for the rest, so requests cost no timer of their own.
    static func watchIdle(_ connection: DownstreamHTTPConnection, manager: HTTPConnectionManagerConfig, runtime: ProxyRuntime, after delay: Double? = nil) {
        let limit = manager.connectionIdleTimeout
        guard limit > 0, !connection.tcp.isClosed else { return }
        connection.connectionIdleTimer = connection.tcp.loop.schedule(after: delay ?? limit) { [handle = connection.handle] in
            guard let connection = handle.connection, !connection.tcp.isClosed else { return }
            connection.connectionIdleTimer = nil
            let quiet = MonotonicClock.now() - connection.lastActivity
            guard connection.isIdle, quiet >= limit else {
                return watchIdle(connection, manager: manager, runtime: runtime, after: connection.isIdle ? limit - quiet : limit)
            }
            runtime.stats.increment("http.\(manager.statPrefix).downstream_cx_idle_timeout")
            connection.tcp.close()
        }
    }

    /// Arms or cancels the head timer: armed while bytes of a request head wait with no stream under way.
    static func watchHead(_ headers: inout EventLoop.TimerID?, for connection: DownstreamHTTPConnection, manager: HTTPConnectionManagerConfig,
                          runtime: ProxyRuntime, readingHead: Bool) {
        let loop = connection.tcp.loop
        if !readingHead, let timer = headers { loop.cancel(timer); headers = nil }
        guard readingHead, headers == nil, manager.requestHeadersTimeout > 0 else { return }
        headers = loop.schedule(after: manager.requestHeadersTimeout) { [handle = connection.handle] in
            guard let connection = handle.connection, !connection.tcp.isClosed, connection.isReadingHead else { return }
            runtime.stats.increment("http.\(manager.statPrefix).downstream_rq_header_timeout")
            let body = "request header timeout"
            connection.refuse(status: 408, body: body)
            var entry = AccessLogEntry()
            entry.responseCode = 408
            entry.details = "request_header_timeout"
            entry.bytesSent = body.utf8.count
            entry.downstreamLocalAddress = connection.localAddress
            entry.downstreamRemoteAddress = connection.remoteAddress
            runtime.writeAccessLogs(manager.accessLogs, entry: entry)
        }
    }
}
