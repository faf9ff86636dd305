import ConfigValues
import Foundation
import MeshNet
import MeshHTTP1

/// The pilot's xDS v3 server over REST-JSON: `POST /v3/discovery:listeners|clusters|routes|endpoints|secrets` with a
/// DiscoveryRequest, answered with a DiscoveryResponse from `source`. A request that already holds the current
/// version is held until `push()` changes what it would get, or until `holdLimit` (then 304 and the proxy asks again).
/// ACKs and NACKs are recorded per proxy and subscription, for `/debug/syncz` (proxy-status) and
/// `/debug/config_dump?proxyID=POD.NS`; `/ready` answers 200. Plain HTTP on `host` (default 127.0.0.1).
///
///     let server = try DiscoveryServer(port: 0) { node in pilot.resources(for: node, in: store.snapshot()) }
///     server.start()          // proxies use 127.0.0.1:server.port
///     server.push()           // after the store changed
public final class DiscoveryServer: @unchecked Sendable {
    /// The configuration of a proxy, nil when the pilot does not know it (its requests wait for a push).
    public typealias Source = @Sendable (ProxyNode) -> ProxyResources?

    /// The port the server listens on (the one given, or the one the system picked for 0).
    public let port: Int
    /// Seconds a request with the current version is held before 304.
    public let holdLimit: Double
    private let loop: EventLoop
    private var http: HTTPServer!
    private let source: Source
    private let lock = NSLock()
    private var proxies: [String: ProxyRecord] = [:]
    private var held: [HeldRequest] = []
    private var nonceCounter = 0

    private struct HeldRequest {
        let proxyID: String
        let key: SubscriptionKey
        let request: DiscoveryRequest
        let responder: HTTPResponder
        let timer: Int
        let id: Int
    }

    /// Binds `host:port` (0: an ephemeral port); `start` begins serving.
    public init(host: String = "127.0.0.1", port: Int = 0, holdLimit: Double = 15, source: @escaping Source) throws(NetworkError) {
        self.source = source
        self.holdLimit = holdLimit
        loop = try EventLoop(name: "pilot-xds")
        let box = WeakBox()
        http = try HTTPServer(host: host, port: port, loops: [loop], tls: nil, maxBodyBytes: 1 << 20, headTimeout: 60) { request, responder in
            guard let server = box.server else { return responder.respond(HTTPResponse(status: 503)) }
            server.handle(request, responder)
        }
        self.port = http.port
        box.server = self
    }

    private final class WeakBox: @unchecked Sendable { weak var server: DiscoveryServer? }

    public func start() {
        loop.start()
        http.start()
    }

    /// Stops serving: held requests end with 503, the listening socket closes, the loop stops.
    public func stop() {
        http.stop()
        loop.execute { [self] in
            lock.lock()
            let waiting = held
            held = []
            lock.unlock()
            for entry in waiting { entry.responder.respond(HTTPResponse(status: 503, contentType: "text/plain", text: "the pilot is stopping\n")) }
        }
        loop.stop()
    }

    /// Recomputes every known proxy's configuration and answers the held requests whose resources changed.
    public func push() {
        loop.execute { [self] in
            lock.lock()
            let nodes = proxies.values.map(\.node)
            lock.unlock()
            let computed = nodes.map { ($0, source($0)) }
            lock.lock()
            for (node, resources) in computed { proxies[node.proxyID]?.resources = resources }
            lock.unlock()
            answerHeldRequests()
        }
    }

    // MARK: Requests

    static let typesByPath: [String: String] = [
        "/v3/discovery:listeners": ProxyResources.listenerType, "/v3/discovery:clusters": ProxyResources.clusterType,
        "/v3/discovery:routes": ProxyResources.routeType, "/v3/discovery:endpoints": ProxyResources.endpointType,
        "/v3/discovery:secrets": ProxyResources.secretType,
    ]

    private func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let path = request.path
        if let typeURL = Self.typesByPath[path] {
            guard request.method == "POST" else { return responder.respond(text(405, "\(path) takes POST with a DiscoveryRequest")) }
            return discover(request, typeURL: typeURL, responder)
        }
        guard request.method == "GET" else { return responder.respond(text(405, "\(path) takes GET")) }
        switch path {
        case "/ready": responder.respond(text(200, "ready"))
        case "/debug/syncz": responder.respond(json(DiscoveryDebug.syncz(snapshot(), namespace: request.query["namespace"])))
        case "/debug/config_dump":
            guard let id = request.query["proxyID"], !id.isEmpty else { return responder.respond(text(400, "give the proxy as ?proxyID=POD.NAMESPACE")) }
            guard let record = snapshot().first(where: { $0.node.proxyID == id || $0.node.id == id }) else {
                return responder.respond(text(404, "proxy \(id) is not connected"))
            }
            responder.respond(json(DiscoveryDebug.configDump(record, includeEndpoints: request.query["include_eds"] == "true")))
        default: responder.respond(text(404, "not found: the pilot serves /v3/discovery:TYPE, /debug/syncz, /debug/config_dump?proxyID=, /ready"))
        }
    }

    private func discover(_ http: HTTPRequest, typeURL: String, _ responder: HTTPResponder) {
        let request: DiscoveryRequest
        do { request = try DiscoveryRequest.read(http.body) } catch { return responder.respond(text(400, "\(error)")) }
        guard request.typeURL.isEmpty || request.typeURL == typeURL else {
            return responder.respond(text(400, "type_url \(request.typeURL) does not match \(http.path) (\(typeURL))"))
        }
        guard let node = ProxyNode(id: request.node.id) else {
            return responder.respond(text(400, "node.id \"\(request.node.id)\" is not an Istio node id (sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local)"))
        }
        let key = SubscriptionKey(typeURL: typeURL, names: request.resourceNames.sorted())
        lock.lock()
        let known = proxies[node.proxyID] != nil && proxies[node.proxyID]!.node == node
        lock.unlock()
        let resources = known ? nil : source(node)
        lock.lock()
        if !known { proxies[node.proxyID] = ProxyRecord(node: node, metadata: request.node.metadata, resources: resources) }
        proxies[node.proxyID]!.metadata = request.node.metadata
        // A subscription whose names overlap this one's was the same watch before its names changed (meshctl's
        // proxy keeps one subscription per type and asks with a new name list when its clusters change); it
        // would otherwise show STALE for ever. Envoy's per-resource subscriptions never overlap.
        if !key.names.isEmpty, proxies[node.proxyID]!.subscriptions[key] == nil {
            let names = Set(key.names)
            for other in proxies[node.proxyID]!.subscriptions.keys where other.typeURL == typeURL && !other.names.isEmpty && !names.isDisjoint(with: other.names) {
                proxies[node.proxyID]!.subscriptions[other] = nil
            }
        }
        proxies[node.proxyID]!.subscriptions[key, default: Subscription()].record(request, at: Date())
        let answer = answerIfChanged(proxyID: node.proxyID, key: key, request: request)
        if answer == nil {
            nonceCounter += 1
            let id = nonceCounter
            let timer = loop.schedule(after: holdLimit) { [weak self] in self?.releaseHeld(id: id) }
            held.append(HeldRequest(proxyID: node.proxyID, key: key, request: request, responder: responder, timer: timer, id: id))
        }
        lock.unlock()
        if let answer { responder.respond(answer) }
    }

    /// The response for a request when its subscription's resources differ from what it holds; nil to hold it.
    /// Called with the lock held.
    private func answerIfChanged(proxyID: String, key: SubscriptionKey, request: DiscoveryRequest) -> HTTPResponse? {
        guard let record = proxies[proxyID], let resources = record.resources else { return nil }
        let answer = SubscriptionAnswer(resources: resources.resources(ofType: key.typeURL), key: key)
        guard let subscription = record.subscriptions[key], !subscription.isCurrent(request, answer: answer) else { return nil }
        nonceCounter += 1
        let nonce = String(nonceCounter)
        var updated = subscription
        updated.versionSent = answer.version
        updated.nonceSent = nonce
        updated.sentResources = answer.resources
        updated.sentAt = Date()
        proxies[proxyID]!.subscriptions[key] = updated
        let response = DiscoveryResponse(versionInfo: answer.version, resources: answer.resources, typeURL: key.typeURL, nonce: nonce)
        return json(response.json)
    }

    private func answerHeldRequests() {
        lock.lock()
        var answers: [(HTTPResponder, HTTPResponse, Int)] = []
        var waiting: [HeldRequest] = []
        for entry in held {
            if let answer = answerIfChanged(proxyID: entry.proxyID, key: entry.key, request: entry.request) {
                answers.append((entry.responder, answer, entry.timer))
            } else {
                waiting.append(entry)
            }
        }
        held = waiting
        lock.unlock()
        for (responder, answer, timer) in answers {
            loop.cancel(timer)
            responder.respond(answer)
        }
    }

    private func releaseHeld(id: Int) {
        lock.lock()
        let entry = held.first { $0.id == id }
        held.removeAll { $0.id == id }
        lock.unlock()
        entry?.responder.respond(HTTPResponse(status: 304))
    }

    private func snapshot() -> [ProxyRecord] {
        lock.lock(); defer { lock.unlock() }
        return proxies.values.sorted { $0.node.proxyID < $1.node.proxyID }
    }

    private func text(_ status: Int, _ message: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain", text: message + "\n")
    }

    private func json(_ value: JSONValue) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: value.serializedBytes)
    }

    // MARK: What tests and local mode read

    /// Per type URL, one proxy's exchange state; nil when the proxy never asked.
    public func syncState(proxyID: String) -> [String: TypeSyncState]? {
        guard let record = snapshot().first(where: { $0.node.proxyID == proxyID }) else { return nil }
        return DiscoveryDebug.typeStates(record)
    }

    /// The proxies that have asked, as `POD.NAMESPACE`.
    public var connectedProxies: [String] { snapshot().map(\.node.proxyID) }
}

/// One proxy's state for one xDS type: the last response sent and the last one accepted, the last rejection.
public struct TypeSyncState: Sendable, Equatable {
    public var versionSent: String
    public var nonceSent: String
    public var versionAcked: String
    public var nonceAcked: String
    /// The message of the last NACK not followed by an ACK ("" when none).
    public var lastError: String
    public var sentAt: Date?

    /// SYNCED (the last response was accepted), STALE (not yet, or rejected), NOT SENT, as proxy-status prints them.
    public var status: String { nonceSent.isEmpty ? "NOT SENT" : nonceSent == nonceAcked ? "SYNCED" : "STALE" }
}
