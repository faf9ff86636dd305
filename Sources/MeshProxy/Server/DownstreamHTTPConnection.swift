import MeshNet

/// A client connection to an HTTP connection manager: HTTP/1.1 requests read one at a time (pipelined ones wait),
/// each served by a `ProxyStream`. Loop thread only.
final class DownstreamHTTPConnection {
    let tcp: TCPConnection
    let localAddress: String
    let remoteAddress: String
    var remoteHost: String { String(remoteAddress[..<(remoteAddress.lastIndex(of: ":") ?? remoteAddress.endIndex)]) }
    private let runtime: ProxyRuntime
    private let loopContext: LoopContext
    private let manager: HTTPConnectionManagerConfig
    private var parser = HTTP1Parser()
    private var stream: ProxyStream?
    private var retainSelf: DownstreamHTTPConnection?
    private let listenerStatPrefix: String

    init(tcp: TCPConnection, localAddress: String, remoteAddress: String, runtime: ProxyRuntime, loopContext: LoopContext,
         manager: HTTPConnectionManagerConfig, listenerStatPrefix: String) {
        self.tcp = tcp
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.runtime = runtime
        self.loopContext = loopContext
        self.manager = manager
        self.listenerStatPrefix = listenerStatPrefix
    }

    /// Starts reading; `initial` holds bytes already read while choosing the filter chain.
    func begin(initial: ByteBuffer?) {
        retainSelf = self
        let http = "http.\(manager.statPrefix)."
        runtime.stats.increment(http + "downstream_cx_total")
        runtime.stats.adjust(http + "downstream_cx_active", by: 1)
        tcp.onData = { [unowned self] bytes in
            parser.feed(bytes)
            process()
        }
        tcp.onClose = { [unowned self] in
            runtime.stats.adjust(http + "downstream_cx_active", by: -1)
            runtime.stats.adjust(listenerStatPrefix + "downstream_cx_active", by: -1)
            stream?.downstreamClosed()
            stream = nil
            retainSelf = nil
        }
        tcp.onPeerClosedWrite = { [unowned self] in
            if stream != nil { tcp.close() }
        }
        if let initial {
            parser.feed(initial)
            process()
        }
    }

    private func process() {
        while stream == nil && !tcp.isClosed {
            switch parser.next() {
            case .needMore:
                return
            case .continueExpected:
                tcp.send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            case .reject(let status, let reason):
                runtime.log.debug("rejected a request from \(remoteAddress): \(reason)")
                tcp.pauseReading()
                tcp.send(Array(ResponseHead.encode(status: status, headers: [("content-length", "0"), ("connection", "close")]).utf8))
                tcp.closeWhenDrained()
                return
            case .request(let box):
                tcp.pauseReading()
                let stream = ProxyStream(runtime: runtime, loopContext: loopContext, downstream: self, manager: manager, request: box.request)
                self.stream = stream
                stream.begin()
            }
        }
    }

    func send(_ bytes: [UInt8]) { tcp.send(bytes) }
    func send(_ buffer: ByteBuffer) { tcp.send(buffer) }

    /// Closes at once (an answer cannot be completed).
    func abort() { tcp.close() }

    /// The current stream is done: read the next request or close.
    func streamFinished(keepAlive: Bool) {
        stream = nil
        guard keepAlive, !tcp.isClosed else { tcp.closeWhenDrained(); return }
        tcp.resumeReading()
        process()
    }
}
