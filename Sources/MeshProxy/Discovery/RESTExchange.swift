import Foundation
import MeshNet
import MeshHTTP1

/// One `POST /v3/discovery:TYPE` to the management server on MeshNet's loop: connect, send the JSON body with
/// `Connection: close`, read the whole answer. Loop thread only; `completion` runs once, unless `cancel` came first.
final class RESTExchange {
    struct Answer {
        let status: Int
        let body: [UInt8]
    }

    private let loop: EventLoop
    private var completion: ((Result<Answer, RESTExchangeFailure>) -> Void)?
    private var connection: TCPConnection?
    private var timer: EventLoop.TimerID?
    private var decoder = HTTP1ResponseDecoder()
    private var status: Int?
    private var body: [UInt8] = []
    private static let largestAnswer = 64 << 20

    private init(loop: EventLoop, completion: @escaping (Result<Answer, RESTExchangeFailure>) -> Void) {
        self.loop = loop
        self.completion = completion
    }

    /// Starts the exchange; the returned value cancels it.
    static func post(host: String, port: Int, path: String, body: [UInt8], timeout: Double, loop: EventLoop,
                     completion: @escaping (Result<Answer, RESTExchangeFailure>) -> Void) -> RESTExchange {
        let exchange = RESTExchange(loop: loop, completion: completion)
        let where_ = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        exchange.timer = loop.schedule(after: timeout) { [weak exchange] in
            exchange?.finish(.failure(RESTExchangeFailure(message: "no answer from \(where_) within \(timeout) s (request_timeout)", timedOut: true)))
        }
        TCPConnection.connect(host: host, port: port, loop: loop) { [weak exchange] result in
            guard let exchange else { if case .success(let connection) = result { connection.close() }; return }
            switch result {
            case .failure(let error): exchange.finish(.failure(RESTExchangeFailure(message: "cannot connect to \(where_): \(error)")))
            case .success(let connection): exchange.send(on: connection, host: where_, path: path, body: body)
            }
        }
        return exchange
    }

    private func send(on connection: TCPConnection, host: String, path: String, body: [UInt8]) {
        guard completion != nil else { connection.close(); return }
        self.connection = connection
        decoder.requestSent(method: "POST")
        connection.onData = { [self] bytes in received(bytes) }
        connection.onClose = { [self] in closed() }
        let head = "POST \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        connection.send(Array(head.utf8) + body)
    }

    private func received(_ bytes: ByteBuffer) {
        decoder.feed(bytes)
        do {
            while let part = try decoder.next() {
                switch part {
                case .head(let head):
                    if (100..<200).contains(head.status) { continue }
                    status = head.status
                case .body(let part):
                    guard body.count + part.readableBytes <= Self.largestAnswer else {
                        return finish(.failure(RESTExchangeFailure(message: "the answer is larger than \(Self.largestAnswer >> 20) MiB")))
                    }
                    part.withUnsafeReadableBytes { body.append(contentsOf: $0) }
                case .end:
                    guard let status else { continue }
                    return finish(.success(Answer(status: status, body: body)))
                }
            }
        } catch {
            finish(.failure(RESTExchangeFailure(message: "the answer is not HTTP/1.1: \(error)")))
        }
    }

    private func closed() {
        guard completion != nil else { return }
        if let status, (try? decoder.finishAtClose()) == .end { return finish(.success(Answer(status: status, body: body))) }
        finish(.failure(RESTExchangeFailure(message: status == nil ? "the connection closed without an answer" : "the connection closed in the middle of the answer")))
    }

    /// Drops the exchange: its completion will not run.
    func cancel() {
        completion = nil
        if let timer { loop.cancel(timer) }
        if let connection {
            if !connection.isClosed { connection.close() }
            // The callbacks hold this exchange: let go of them.
            connection.onData = { _ in }
            connection.onClose = {}
        }
        connection = nil
    }

    private func finish(_ result: Result<Answer, RESTExchangeFailure>) {
        guard let completion else { return }
        cancel()
        completion(result)
    }
}

struct RESTExchangeFailure: Error, CustomStringConvertible {
    let message: String
    /// The server did not answer within the request timeout (it may be holding an up-to-date request).
    var timedOut = false
    var description: String { message }
}
