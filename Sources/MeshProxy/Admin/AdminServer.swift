import ConfigValues
import Foundation
import MeshNet
import MeshTLS
import MeshHTTP1

/// The admin port, answering like Envoy's: `/ready`, `/server_info`, `/config_dump`, `/clusters`, `/listeners`,
/// `/stats`, `/stats/prometheus`, `/logging`, `/quitquitquit`.
final class AdminServer: @unchecked Sendable {
    private let server: HTTPServer
    var port: Int { server.port }

    init(address: SocketAddress, proxy: ProxyServer, loop: EventLoop) throws(NetworkError) {
        server = try HTTPServer(host: address.host, port: address.port, loops: [loop], tls: nil) { [weak proxy] request, responder in
            guard let proxy else { return responder.respond(HTTPResponse(status: 503)) }
            responder.respond(AdminEndpoints(proxy: proxy).answer(request))
        }
    }

    func start() { server.start() }
    func stop() { server.stop() }
}

/// The admin answers, computed from the proxy's current state.
struct AdminEndpoints {
    let proxy: ProxyServer
    static let text = "text/plain; charset=UTF-8"
    static let json = "application/json"

    func answer(_ request: HTTPRequest) -> HTTPResponse {
        let query = request.query
        switch request.path {
        case "/ready":
            return HTTPResponse(status: 200, contentType: Self.text, text: "LIVE\n")
        case "/server_info":
            return HTTPResponse(status: 200, contentType: Self.json, text: serverInfo().serialized)
        case "/config_dump":
            do {
                return HTTPResponse(status: 200, contentType: Self.json, text: try ConfigDumpWriter(proxy: proxy).dump(query: query).serialized)
            } catch {
                return HTTPResponse(status: 400, contentType: Self.text, text: "\(error.message)\n")
            }
        case "/clusters":
            let writer = ClustersWriter(proxy: proxy)
            return query["format"] == "json" ? HTTPResponse(status: 200, contentType: Self.json, text: writer.json().serialized)
                : HTTPResponse(status: 200, contentType: Self.text, text: writer.text())
        case "/listeners":
            return listeners(json: query["format"] == "json")
        case "/stats":
            let writer = StatsWriter(stats: proxy.stats)
            guard let filter = StatsFilter(query) else { return HTTPResponse(status: 400, contentType: Self.text, text: "Invalid regex: \(query["filter"] ?? "")\n") }
            switch query["format"] {
            case "json": return HTTPResponse(status: 200, contentType: Self.json, text: writer.json(filter).serialized)
            case "prometheus": return HTTPResponse(status: 200, contentType: Self.text, text: writer.prometheus(filter))
            default: return HTTPResponse(status: 200, contentType: Self.text, text: writer.text(filter))
            }
        case "/stats/prometheus":
            guard let filter = StatsFilter(query) else { return HTTPResponse(status: 400, contentType: Self.text, text: "Invalid regex\n") }
            return HTTPResponse(status: 200, contentType: Self.text, text: StatsWriter(stats: proxy.stats).prometheus(filter))
        case "/logging":
            if request.method == "POST", let levelName = query["level"] {
                guard let level = ProxyLog.Level(name: levelName) else {
                    return HTTPResponse(status: 404, contentType: Self.text, text: "error: unknown logger level \(levelName)\n")
                }
                proxy.log.level = level
            }
            return HTTPResponse(status: 200, contentType: Self.text, text: "active loggers:\n" + Self.loggers.map { "  \($0): \(proxy.log.level.name)\n" }.joined())
        case "/quitquitquit":
            guard request.method == "POST" else { return HTTPResponse(status: 405, contentType: Self.text, text: "This endpoint requires POST\n") }
            let quit = proxy.onQuit
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { quit() }
            return HTTPResponse(status: 200, contentType: Self.text, text: "OK\n")
        case "/", "/help":
            return HTTPResponse(status: 200, contentType: Self.text, text: Self.help)
        default:
            return HTTPResponse(status: 404, contentType: Self.text, text: "invalid path. admin commands are:\n" + Self.help)
        }
    }

    /// The proxy's logger names: one level for all of them.
    static let loggers = ["admin", "config", "connection", "conn_handler", "http", "main", "pool", "router", "upstream"]

    static let help = """
    admin commands are:
      /clusters: upstream cluster status
      /config_dump: dump current Envoy configs (resource, mask, name_regex, include_eds)
      /listeners: print listener info
      /logging: query/change logging levels
      /quitquitquit: exit the server
      /ready: print server state, return 200 if LIVE, otherwise return 503
      /server_info: print server version/status information
      /stats: print server stats (filter, usedonly, format=json)
      /stats/prometheus: print server stats in prometheus format

    """

    func serverInfo() -> JSONValue {
        let configuration = proxy.store.current
        let uptime = "\(Int(Date().timeIntervalSince(proxy.runtime.startedAt)))s"
        return .object([
            ("version", .string("meshctl-proxy/\(ProxyVersion.envoyAPI)/Clean/RELEASE/OpenSSL")),
            ("state", .string("LIVE")),
            ("uptime_current_epoch", .string(uptime)),
            ("uptime_all_epochs", .string(uptime)),
            ("hot_restart_version", .string("disabled")),
            ("command_line_options", .object([
                ("concurrency", .int(proxy.concurrency)), ("config_path", .string(configuration.file)),
                ("log_level", .string(proxy.log.level.name)), ("mode", .string("Serve")), ("disable_hot_restart", .bool(true)),
            ])),
            ("node", .object([("id", .string(configuration.node.id)), ("cluster", .string(configuration.node.cluster)),
                              ("metadata", configuration.node.metadata), ("user_agent_name", .string("meshctl-proxy"))])),
            ("hot_restart_initializing", .bool(false)),
        ])
    }

    func listeners(json: Bool) -> HTTPResponse {
        let configuration = proxy.store.current
        let ports = proxy.listenerPorts
        let rows = configuration.listeners.map { listener -> (String, SocketAddress) in
            let key = listener.name ?? listener.address.description
            let name = listener.name ?? UUID(uuidString: "00000000-0000-4000-8000-\(String(format: "%012x", listener.address.port))")!.uuidString.lowercased()
            return (name, SocketAddress(host: listener.address.host, port: ports[key] ?? listener.address.port))
        }
        if json {
            let statuses = rows.map { name, address in
                JSONValue.object([("name", .string(name)), ("local_address", ConfigDumpWriter.socketAddress(address))])
            }
            return HTTPResponse(status: 200, contentType: Self.json, text: JSONValue.object([("listener_statuses", .array(statuses))]).serialized)
        }
        return HTTPResponse(status: 200, contentType: Self.text, text: rows.map { "\($0.0)::\($0.1)\n" }.joined())
    }
}

enum ProxyVersion {
    /// The Envoy API generation the proxy's configuration language follows.
    static let envoyAPI = "1.40.0"
}
