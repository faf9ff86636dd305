import ConfigValues
import Foundation
import MeshNet

/// The polling loop of one xDS type over REST-JSON: ask, apply the answer, ask again carrying its nonce and
/// either the version just applied (ACK) or the last good one with `error_detail` (NACK). A 304 (the server held
/// the request and nothing changed) asks again at once; an answer that changed nothing waits `refresh_delay`;
/// failures back off (doubling from `refresh_delay` up to 30 s). Loop thread only.
final class TypeSubscription {
    /// What the owner does with a response: nil when applied, else why it was rejected.
    typealias Apply = (DiscoveryResponse) -> String?

    let type: DiscoveryType
    private let source: APIConfigSource
    private let server: (host: String, port: Int)
    private let node: DiscoveryRequest.Node
    private let loop: EventLoop
    private let apply: Apply
    private let log: ProxyLog
    private(set) var names: [String]
    private(set) var version = ""
    private var nonce = ""
    private var rejection: DiscoveryRequest.ErrorDetail?
    private var exchange: RESTExchange?
    private var retryTimer: EventLoop.TimerID?
    private var failures = 0
    private var stopped = false
    /// Called for each failed exchange (no answer, an error status, an unreadable answer).
    var onFailure: () -> Void = {}
    static let longestBackOff = 30.0

    init(type: DiscoveryType, source: APIConfigSource, server: (host: String, port: Int), node: DiscoveryRequest.Node, names: [String],
         loop: EventLoop, log: ProxyLog, apply: @escaping Apply) {
        self.type = type
        self.source = source
        self.server = server
        self.node = node
        self.names = names
        self.loop = loop
        self.log = log
        self.apply = apply
    }

    func start() { poll() }

    /// Stops polling; a request under way is dropped.
    func stop() {
        stopped = true
        exchange?.cancel()
        exchange = nil
        if let retryTimer { loop.cancel(retryTimer) }
        retryTimer = nil
    }

    /// Asks for other resources: a request held by the server for the old names is dropped and a new one sent.
    func update(names: [String]) {
        guard names != self.names, !stopped else { return }
        self.names = names
        exchange?.cancel()
        exchange = nil
        if let retryTimer { loop.cancel(retryTimer) }
        retryTimer = nil
        poll()
    }

    private func poll() {
        guard !stopped, exchange == nil else { return }
        let request = DiscoveryRequest(versionInfo: version, node: node, resourceNames: names, typeURL: type.typeURL,
                                       responseNonce: nonce, errorDetail: rejection)
        // Longer than the server may hold a request, so a held request is not cut short.
        exchange = RESTExchange.post(host: server.host, port: server.port, path: type.restPath, body: request.json.serializedBytes,
                                     timeout: source.requestTimeout, loop: loop) { [weak self] result in
            guard let self else { return }
            exchange = nil
            handle(result)
        }
    }

    private func handle(_ result: Result<RESTExchange.Answer, RESTExchangeFailure>) {
        guard !stopped else { return }
        switch result {
        case .failure(let failure) where failure.timedOut && !version.isEmpty && rejection == nil:
            // A server that holds up-to-date requests longer than request_timeout: ask again, no back-off.
            poll()
        case .failure(let failure):
            backOff("\(type.shortName): \(failure)")
        case .success(let answer) where answer.status == 304:
            failures = 0
            poll()
        case .success(let answer) where answer.status == 200:
            failures = 0
            let response: DiscoveryResponse
            do { response = try DiscoveryResponse.read(answer.body) } catch {
                return backOff("\(type.shortName): the management server's answer: \(error)")
            }
            guard response.typeURL.isEmpty || response.typeURL == type.typeURL else {
                return backOff("\(type.shortName): the answer is of type \(response.typeURL)")
            }
            let unchanged = response.versionInfo == version && rejection == nil
            nonce = response.nonce
            if let problem = apply(response) {
                log.warning("\(type.shortName) update rejected: \(problem)")
                rejection = DiscoveryRequest.ErrorDetail(message: problem)
            } else {
                version = response.versionInfo
                rejection = nil
            }
            if unchanged { wait(source.refreshDelay) } else { poll() }
        case .success(let answer):
            let text = String(decoding: answer.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            backOff("\(type.shortName): the management server answered \(answer.status)\(text.isEmpty ? "" : ": \(text)")")
        }
    }

    private func backOff(_ problem: String) {
        failures += 1
        onFailure()
        let delay = min(Self.longestBackOff, max(0.05, source.refreshDelay) * pow(2, Double(min(failures - 1, 10))))
        log.debug("\(problem); asking again in \(delay) s")
        wait(delay)
    }

    private func wait(_ delay: Double) {
        retryTimer = loop.schedule(after: delay) { [weak self] in
            self?.retryTimer = nil
            self?.poll()
        }
    }
}
