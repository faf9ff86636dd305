import MeshNet
import MeshHTTP1

/// An HTTP/2 client over cleartext TCP (h2c with prior knowledge): requests share one connection as concurrent
/// streams, and wait their turn when the server's stream limit is reached. Calls from any thread; completions run
/// on the connection's loop.
public final class HTTP2Client: @unchecked Sendable {
    public let loop: EventLoop
    private let tcp: TCPConnection
    private let connection: HTTP2Connection
    private let authority: String
    private var waiting: [(request: HTTPRequest, completion: (Result<HTTPResponse, HTTP2Error>) -> Void)] = []
    private var inFlight: [UInt32: (response: HTTPResponse, completion: (Result<HTTPResponse, HTTP2Error>) -> Void)] = [:]
    private var closedBecause: HTTP2Error?

    private init(tcp: TCPConnection, settings: HTTP2LocalSettings, authority: String) {
        self.tcp = tcp
        loop = tcp.loop
        self.authority = authority
        connection = HTTP2Connection(role: .client, settings: settings)
    }

    /// Connects to `host:port` (an IP literal); `completion` runs on the loop.
    public static func connect(host: String, port: Int, loop: EventLoop, settings: HTTP2LocalSettings = HTTP2LocalSettings(),
                               completion: @escaping (Result<HTTP2Client, NetworkError>) -> Void) {
        TCPConnection.connect(host: host, port: port, loop: loop) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let tcp):
                let client = HTTP2Client(tcp: tcp, settings: settings, authority: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
                client.begin()
                completion(.success(client))
            }
        }
    }

    private func begin() {
        tcp.onData = { [self] bytes in
            handle(connection.receive(bytes))
            flush()
        }
        tcp.onClose = { [self] in
            failAll(closedBecause ?? .connection(.internalError, "the connection closed"))
            tcp.onData = { _ in }
        }
        flush()
    }

    /// Sends `request` (its `target` as `:path`, its `host` header, if any, as `:authority`).
    public func send(_ request: HTTPRequest, completion: @escaping @Sendable (Result<HTTPResponse, HTTP2Error>) -> Void) {
        let work = { [self] in
            waiting.append((request, completion))
            startWaiting()
            flush()
        }
        if loop.inLoop { work() } else { loop.execute(work) }
    }

    /// Ends the connection with a GOAWAY.
    public func close() {
        loop.execute { [self] in
            connection.goAway()
            flush()
            tcp.closeWhenDrained()
        }
    }

    private func startWaiting() {
        if let closedBecause { return failAll(closedBecause) }
        while !waiting.isEmpty && connection.canOpenStream {
            let (request, completion) = waiting.removeFirst()
            var fields = [HeaderField(name: ":method", value: request.method), HeaderField(name: ":scheme", value: "http"),
                          HeaderField(name: ":authority", value: request.header("host") ?? authority),
                          HeaderField(name: ":path", value: request.target)]
            for (name, value) in request.headers {
                let lowered = HTTP2HeaderNames.lowercased(name)
                if lowered == "host" || HTTP2HeaderNames.isConnectionSpecific(lowered) { continue }
                fields.append(HeaderField(name: lowered, value: value))
            }
            do {
                let id = try connection.openStream(headers: fields, endStream: request.body.isEmpty)
                inFlight[id] = (HTTPResponse(status: 0), completion)
                if !request.body.isEmpty { try connection.sendData(streamID: id, ByteBuffer(bytes: request.body), endStream: true) }
            } catch {
                completion(.failure(error))
            }
        }
    }

    private func handle(_ events: [HTTP2Event]) {
        for event in events {
            switch event {
            case .headers(let id, let fields, let endStream):
                guard var entry = inFlight[id] else { continue }
                let status = Int(fields.first { $0.name == ":status" }?.value ?? "") ?? 0
                if status < 200 { continue }
                entry.response.status = status
                entry.response.headers = fields.filter { !$0.name.hasPrefix(":") }.map { ($0.name, $0.value) }
                inFlight[id] = entry
                if endStream { finish(id) }
            case .data(let id, let data, let endStream):
                data.withUnsafeReadableBytes { inFlight[id]?.response.body.append(contentsOf: $0) }
                if endStream { finish(id) }
            case .trailers(let id, let fields):
                inFlight[id]?.response.headers += fields.map { ($0.name, $0.value) }
                finish(id)
            case .streamReset(let id, let code, let byPeer):
                inFlight.removeValue(forKey: id)?.completion(.failure(.stream(id, code, byPeer ? "reset by the server" : "reset by this client")))
            case .connectionError(let error):
                closedBecause = error
            case .goAway(_, let code, let debug):
                if code != .noError { closedBecause = .connection(code, "GOAWAY from the server: \(debug)") }
            case .streamClosed, .pingAcknowledged:
                break
            }
        }
        startWaiting()
    }

    private func finish(_ id: UInt32) {
        guard let entry = inFlight.removeValue(forKey: id) else { return }
        entry.completion(.success(entry.response))
    }

    private func failAll(_ error: HTTP2Error) {
        closedBecause = error
        let everything = inFlight.map(\.value.completion) + waiting.map(\.completion)
        inFlight.removeAll()
        waiting.removeAll()
        for completion in everything { completion(.failure(error)) }
    }

    private func flush() {
        handle(connection.takeEvents())
        if let bytes = connection.takeOutput() { tcp.send(bytes) }
        if connection.failed != nil { tcp.closeWhenDrained() }
    }
}
