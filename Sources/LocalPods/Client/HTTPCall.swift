import Foundation
import MeshNet
import MeshHTTP1

/// One HTTP/1.1 exchange made from inside local mode (the echo app's `/call`, `meshctl local curl`): connect, from a
/// given source address when asked, send the request with `Connection: close`, read the answer whole.
public enum HTTPCall {
    /// What to send.
    public struct Request: Sendable {
        public var method: String
        public var url: CallURL
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// 11 for HTTP/1.1, 10 for HTTP/1.0.
        public var version: Int

        public init(method: String = "GET", url: CallURL, headers: [(name: String, value: String)] = [], body: [UInt8] = [], version: Int = 11) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.version = version
        }
    }

    /// The answer: its head and whole body.
    public struct Response: Sendable {
        public let head: HTTPResponseHead
        public let body: [UInt8]
    }

    /// Why no answer came.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The largest answer read (an endless stream is not an answer).
    public static let maximumBodyBytes = 64 << 20

    /// Sends `request` to `address:url.port` on `loop` (any thread); `completion` runs once, on the loop. With `proxy`
    /// (the caller's pod has a sidecar) the connection goes to the sidecar, naming `address:url.port` in a PROXY
    /// protocol line, unless `address` is the pod's own.
    public static func perform(_ request: Request, address: String, source: String? = nil, through proxy: OutboundProxy? = nil, timeout: Double = 30,
                               loop: EventLoop, completion: @escaping @Sendable (Result<Response, Failure>) -> Void) {
        let exchange = Exchange(request: request, address: address, loop: loop, completion: completion)
        let proxy = proxy.flatMap { $0.captures(address) ? $0 : nil }
        exchange.proxy = proxy
        loop.execute {
            exchange.timer = loop.schedule(after: timeout) {
                exchange.finish(.failure(Failure("no answer from \(exchange.destination) within \(Int(timeout)) s")))
            }
            TCPConnection.connect(host: proxy?.host ?? address, port: proxy?.port ?? request.url.port, loop: loop, sourceHost: source) { result in
                switch result {
                case .failure(let error):
                    let target = proxy.map { "the sidecar at \($0.host):\($0.port) (on the way to \(exchange.destination))" } ?? exchange.destination
                    exchange.finish(.failure(Failure(describe(error, target))))
                case .success(let connection): exchange.start(connection)
                }
            }
        }
    }

    /// `perform` for a caller that waits: runs its own loop for the exchange.
    public static func performWaiting(_ request: Request, address: String, source: String? = nil, through proxy: OutboundProxy? = nil,
                                      timeout: Double = 30) -> Result<Response, Failure> {
        let loop: EventLoop
        do { loop = try EventLoop(name: "meshctl-call") } catch { return .failure(Failure("cannot start the network loop: \(error)")) }
        loop.start()
        defer { loop.stop() }
        let outcome = Outcome()
        perform(request, address: address, source: source, through: proxy, timeout: timeout, loop: loop) { outcome.set($0) }
        return outcome.wait()
    }

    private static func describe(_ error: NetworkError, _ destination: String) -> String {
        if case .system(let call, let code) = error, call.hasPrefix("connect") {
            return "connect to \(destination): \(String(cString: strerror(code)))"
        }
        return "\(destination): \(error)"
    }

    /// The state of one exchange; used on its loop only.
    private final class Exchange: @unchecked Sendable {
        let request: Request
        let destination: String
        let address: String
        var proxy: OutboundProxy?
        let loop: EventLoop
        private var completion: (@Sendable (Result<Response, Failure>) -> Void)?
        var timer: EventLoop.TimerID?
        private var connection: TCPConnection?
        private var decoder = HTTP1ResponseDecoder()
        private var head: HTTPResponseHead?
        private var body: [UInt8] = []

        init(request: Request, address: String, loop: EventLoop, completion: @escaping @Sendable (Result<Response, Failure>) -> Void) {
            self.request = request
            self.loop = loop
            self.address = address
            destination = address.contains(":") ? "[\(address)]:\(request.url.port)" : "\(address):\(request.url.port)"
            self.completion = completion
        }

        func start(_ connection: TCPConnection) {
            guard completion != nil else { connection.close(); return }
            self.connection = connection
            var headers = request.headers.filter { !["connection", "content-length", "transfer-encoding"].contains($0.name.lowercased()) }
            if !headers.contains(where: { $0.name.lowercased() == "host" }) { headers.insert(("Host", request.url.hostHeader), at: 0) }
            if !headers.contains(where: { $0.name.lowercased() == "user-agent" }) { headers.append(("User-Agent", "meshctl")) }
            if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) { headers.append(("Content-Length", String(request.body.count))) }
            headers.append(("Connection", "close"))
            var encoder = HTTP1RequestEncoder()
            decoder.requestSent(method: request.method)
            connection.onData = { [self] bytes in received(bytes) }
            connection.onClose = { [self] in closed() }
            if proxy != nil {
                connection.send(OutboundProxy.header(source: connection.localAddress ?? "", destination: address, port: request.url.port))
            }
            connection.send(encoder.head(HTTPRequestHead(method: request.method, target: request.url.target, version: request.version, headers: headers),
                                         hasBody: false))
            if !request.body.isEmpty { connection.send(request.body) }
            _ = encoder.end()
        }

        private func received(_ bytes: ByteBuffer) {
            decoder.feed(bytes)
            do {
                while let part = try decoder.next() {
                    switch part {
                    case .head(let received):
                        if (100..<200).contains(received.status) && received.status != 101 { continue }
                        head = received
                    case .body(let part):
                        guard body.count + part.readableBytes <= maximumBodyBytes else {
                            return finish(.failure(Failure("the answer from \(destination) is larger than \(maximumBodyBytes >> 20) MiB")))
                        }
                        part.withUnsafeReadableBytes { body.append(contentsOf: $0) }
                    case .end:
                        guard let head else { continue }
                        return finish(.success(Response(head: head, body: body)))
                    }
                }
            } catch {
                finish(.failure(Failure("\(destination) answered something that is not HTTP/1.1: \(error)")))
            }
        }

        private func closed() {
            guard completion != nil else { return }
            if let reason = connection?.closeReason {
                return finish(.failure(Failure("the connection to \(destination) failed: \(reason)")))
            }
            do {
                if try decoder.finishAtClose() == .end, let head { return finish(.success(Response(head: head, body: body))) }
            } catch {
                return finish(.failure(Failure("the connection to \(destination) closed in the middle of the answer: \(error)")))
            }
            finish(.failure(Failure(head == nil ? "the connection to \(destination) closed without an answer (empty reply)"
                                                : "the connection to \(destination) closed in the middle of the answer")))
        }

        func finish(_ result: Result<Response, Failure>) {
            guard let completion else { return }
            self.completion = nil
            if let timer { loop.cancel(timer) }
            if let connection, !connection.isClosed { connection.close() }
            completion(result)
        }
    }

    /// A result handed from the loop to a waiting thread.
    private final class Outcome: @unchecked Sendable {
        private let condition = NSCondition()
        private var result: Result<Response, Failure>?

        func set(_ value: Result<Response, Failure>) {
            condition.lock(); result = value; condition.broadcast(); condition.unlock()
        }

        func wait() -> Result<Response, Failure> {
            condition.lock(); defer { condition.unlock() }
            while result == nil { condition.wait() }
            return result!
        }
    }
}
