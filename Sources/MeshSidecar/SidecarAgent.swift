import ConfigValues
import Foundation
import LocalPods
import MeshNet
import MeshHTTP1

/// The part of istio-agent a local sidecar needs, on `POD_IP:15020`: `/healthz/ready` (the proxy has started and
/// holds its first listeners and clusters from the pilot; the static listener on 15021 routes here), the
/// application probes the injector moved here (`/app-health/CONTAINER/livez|readyz|startupz`, run against the
/// application's own address as `ISTIO_KUBE_APP_PROBERS` describes them), and `/stats/prometheus` (the proxy's).
public final class SidecarAgent: @unchecked Sendable {
    let settings: SidecarSettings
    private let server: HTTPServer
    private let loop: EventLoop
    public var port: Int { server.port }

    public init(settings: SidecarSettings, port: Int = SidecarSettings.agentPort) throws {
        self.settings = settings
        loop = try EventLoop(name: "sidecar-agent")
        let holder = Holder()
        server = try HTTPServer(host: settings.podIP, port: port, loops: [loop], tls: nil) { request, responder in
            holder.agent?.handle(request, responder)
        }
        holder.agent = self
    }

    private final class Holder: @unchecked Sendable { weak var agent: SidecarAgent? }

    public func start() {
        loop.start()
        server.start()
    }

    public func stop() {
        server.stop()
        loop.stop()
    }

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let path = request.path
        if path == "/healthz/ready" {
            return readiness(responder.loop) { problem in
                responder.respond(problem.map { HTTPResponse(status: 503, contentType: "text/plain", text: $0 + "\n") }
                                  ?? HTTPResponse(status: 200, contentType: "text/plain", text: ""))
            }
        }
        if path == "/stats/prometheus" {
            return admin("/stats/prometheus", loop: responder.loop) { result in
                switch result {
                case .success(let response): responder.respond(HTTPResponse(status: response.head.status, headers: [("Content-Type", "text/plain; version=0.0.4")],
                                                                            body: response.body))
                case .failure(let failure): responder.respond(HTTPResponse(status: 503, contentType: "text/plain", text: "the proxy's admin port: \(failure)\n"))
                }
            }
        }
        if let prober = settings.appProbers[path] {
            return AppProber(prober, address: settings.applicationIP).run(loop: responder.loop) { problem in
                responder.respond(problem.map { HTTPResponse(status: 500, contentType: "text/plain", text: $0 + "\n") }
                                  ?? HTTPResponse(status: 200, contentType: "text/plain", text: ""))
            }
        }
        responder.respond(HTTPResponse(status: 404, contentType: "text/plain", text: "no such path on the agent: \(path)\n"))
    }

    /// A GET on the proxy's admin port.
    func admin(_ path: String, loop: EventLoop, _ completion: @escaping @Sendable (Result<HTTPCall.Response, HTTPCall.Failure>) -> Void) {
        let url: CallURL
        do { url = try CallURL("http://\(settings.podIP):\(SidecarSettings.adminPort)\(path)") } catch {
            preconditionFailure("the agent's own admin paths are URLs: \(path)")
        }
        HTTPCall.perform(HTTPCall.Request(url: url), address: settings.podIP, timeout: 3, loop: loop, completion: completion)
    }

    /// nil when the proxy is LIVE and has taken listeners and clusters from the pilot; else why not, as Istio's
    /// agent says it.
    func readiness(_ loop: EventLoop, _ completion: @escaping @Sendable (String?) -> Void) {
        admin("/stats", loop: loop) { result in
            switch result {
            case .failure(let failure):
                completion("the proxy's admin port does not answer: \(failure)")
            case .success(let response):
                completion(Self.readinessProblem(stats: String(decoding: response.body, as: UTF8.self)))
            }
        }
    }

    /// Reads Envoy's `/stats` text (`name: value` lines).
    static func readinessProblem(stats text: String) -> String? {
        var values: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            values[String(line[..<colon])] = Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        if let state = values["server.state"], state != 0 { return "server is not yet live (server.state \(state))" }
        let cds = values["cluster_manager.cds.update_success"] ?? 0, lds = values["listener_manager.lds.update_success"] ?? 0
        if cds == 0 || lds == 0 {
            return "config not received from the pilot yet: cds updates: \(cds) successful, \(values["cluster_manager.cds.update_rejected"] ?? 0) rejected; "
                + "lds updates: \(lds) successful, \(values["listener_manager.lds.update_rejected"] ?? 0) rejected"
        }
        return nil
    }
}

/// One application probe as the injector rewrote it (`{"httpGet": {...}, "timeoutSeconds": N}` or `tcpSocket`),
/// run against the application's address.
struct AppProber {
    let probe: JSONValue
    let address: String

    init(_ probe: JSONValue, address: String) {
        self.probe = probe
        self.address = address
    }

    var timeout: Double { Double(probe["timeoutSeconds"]?.int ?? 1) }

    /// `completion` gets nil when the probe passes, else why it failed.
    func run(loop: EventLoop, _ completion: @escaping @Sendable (String?) -> Void) {
        if let http = probe["httpGet"] {
            guard let port = http["port"]?.int else { return completion("the probe's httpGet has no numeric port") }
            let host = http["host"]?.string ?? address
            let path = http["path"]?.string ?? "/"
            guard let url = try? CallURL("http://\(host):\(port)\(path.hasPrefix("/") ? path : "/" + path)") else {
                return completion("the probe's path \(path) is not a URL path")
            }
            let headers = (http["httpHeaders"]?.array ?? []).map { (name: $0["name"]?.string ?? "", value: $0["value"]?.string ?? "") }
            HTTPCall.perform(HTTPCall.Request(url: url, headers: headers + [("User-Agent", "kube-probe/1.32")]), address: host, timeout: timeout, loop: loop) { result in
                switch result {
                case .success(let response):
                    completion((200..<400).contains(response.head.status) ? nil : "HTTP probe failed with statuscode: \(response.head.status)")
                case .failure(let failure):
                    completion(failure.description)
                }
            }
        } else if let tcp = probe["tcpSocket"] {
            guard let port = tcp["port"]?.int else { return completion("the probe's tcpSocket has no numeric port") }
            let host = tcp["host"]?.string ?? address
            TCPConnection.connect(host: host, port: port, loop: loop) { result in
                switch result {
                case .success(let connection):
                    connection.close()
                    completion(nil)
                case .failure(let error):
                    completion("dial tcp \(host):\(port): \(error)")
                }
            }
        } else {
            completion("local mode's agent runs httpGet and tcpSocket probes only")
        }
    }
}
