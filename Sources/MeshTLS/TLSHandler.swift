import MeshNet

/// TLS as the bottom handler of a channel (`TLSLayer` with its callbacks pointed at the context): ciphertext from
/// the socket goes up as plaintext, writes from above go down as records. Put it first in the handler list. A
/// failed handshake or record sends its alert and closes the connection with the TLS error as its `closeReason`; a
/// client that spoke plain HTTP to a TLS server gets Go's plain 400 answer and a FIN instead.
public final class TLSHandler: ChannelHandler {
    public let layer: TLSLayer
    private var failed = false
    private var closing = false

    public init(layer: TLSLayer) { self.layer = layer }

    /// The server side of a connection, with `context`'s certificates (chosen by SNI), ALPN list and client-certificate rules.
    public convenience init(server context: TLSServerContext) throws(CryptoError) {
        self.init(layer: TLSLayer(engine: try TLSEngine(server: context)))
    }

    /// The client side (see `TLSEngine.init(client:serverName:verifyHost:peerNames:)`).
    public convenience init(client context: TLSClientContext, serverName: String?, verifyHost: String? = nil,
                            peerNames: [SubjectAltNameMatcher] = []) throws(CryptoError) {
        self.init(layer: TLSLayer(engine: try TLSEngine(client: context, serverName: serverName, verifyHost: verifyHost, peerNames: peerNames)))
    }

    public var engine: TLSEngine { layer.engine }
    /// The protocol ALPN settled on (`h2`, `http/1.1`), once the handshake is complete.
    public var negotiatedProtocol: String? { engine.isHandshakeComplete ? engine.negotiatedProtocol : nil }
    /// The SPIFFE identity in the peer's certificate, once the handshake is complete.
    public var peerIdentity: SPIFFEIdentity? { engine.isHandshakeComplete ? engine.peerIdentity : nil }

    public func channelActive(context: ChannelContext) {
        // An orderly close (`closeWhenDrained`) first queues close_notify.
        context.channel.connection.onClosingWhenDrained = { [self] in sendCloseNotify(context) }
        run(context) { () throws(TLSError) in try layer.start(down: context.write) }
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelContext, data: ByteBuffer) {
        guard !failed else { return }
        run(context) { () throws(TLSError) in
            guard try !layer.receive(data, up: context.fireChannelRead, down: context.write) else { return }
            // The peer's close_notify: answer it and close once that is written.
            sendCloseNotify(context)
            context.channel.closeWhenDrained()
        }
    }

    public func write(context: ChannelContext, data: ByteBuffer) {
        guard !failed, !closing else { return }
        do { try layer.send(data, down: context.write) } catch { fail(error, context) }
    }

    /// Passed up as is: reading is paused, so records may still wait in the socket; the end of input reaches the
    /// engine when they are read (a FIN without close_notify then closes the connection as a truncation).
    public func channelPeerClosedWrite(context: ChannelContext) { context.firePeerClosedWrite() }

    private func sendCloseNotify(_ context: ChannelContext) {
        guard !failed, !closing else { return }
        closing = true
        layer.close(down: context.write)
        context.flush()
    }

    private func run(_ context: ChannelContext, _ step: () throws(TLSError) -> Void) {
        do {
            try step()
            context.flush()
        } catch { fail(error, context) }
    }

    private func fail(_ error: TLSError, _ context: ChannelContext) {
        guard !failed else { return }
        failed = true
        // The layer has passed its alert down already; a plain HTTP client gets an answer it can read instead, then
        // the end of it (reads are dropped from here; the connection closes when the client does).
        if layer.receivedPlainHTTP {
            context.write(TLSLayer.plainHTTPAnswer)
            context.channel.connection.finishWhenDrained()
            return
        }
        context.flush()
        context.channel.connection.closeWhenDrained(because: .tls(error.description))
    }
}

extension Channel {
    /// The channel's TLS handler (the bottom of its stack), if it runs TLS.
    public var tls: TLSHandler? { context(at: 0)?.handler as? TLSHandler }

    /// Opens a connection to `host:port` (IP literals) with TLS when `tls` is given, then starts a channel over it:
    /// a `TLSHandler` under `handlers`. It sends `serverName` (or `host`) as SNI and checks that the certificate
    /// names it, or, when `peerNames` are given, that it matches one of them instead (SPIFFE workloads).
    /// `completion` runs on the loop once the channel is started (the handshake is under way) or with the reason
    /// the connection failed.
    public static func connect(host: String, port: Int, loop: EventLoop, tls: TLSClientContext?, serverName: String? = nil,
                               peerNames: [SubjectAltNameMatcher] = [], handlers: @escaping () -> [ChannelHandler],
                               completion: @escaping (Result<Channel, NetworkError>) -> Void) {
        TCPConnection.connect(host: host, port: port, loop: loop) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let connection):
                var bottom: [ChannelHandler] = []
                if let tls {
                    let name = serverName ?? host
                    do throws(CryptoError) {
                        bottom = [try TLSHandler(client: tls, serverName: name, verifyHost: peerNames.isEmpty ? name : nil, peerNames: peerNames)]
                    } catch {
                        connection.close()
                        return completion(.failure(.tls("\(error)")))
                    }
                }
                let channel = Channel(connection: connection, handlers: bottom + handlers())
                do throws(NetworkError) { try channel.start() } catch { return completion(.failure(error)) }
                completion(.success(channel))
            }
        }
    }
}
