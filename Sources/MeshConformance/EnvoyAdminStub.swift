import Foundation
import MeshNet
import MeshHTTP1

/// A stand-in for a sidecar's Envoy admin port on 127.0.0.1: answers each request with the body `answer` gives for
/// its method and path (path and query, e.g. `config_dump?include_eds=true`), or 404. Used by the conformance cases
/// and tests that read a pod through the API server's pod proxy.
public final class EnvoyAdminStub: @unchecked Sendable {
    public let port: Int
    private let server: HTTPServer
    private let loop: EventLoop

    /// `answer(method, pathAndQuery)` → (status, body), nil for 404. `host` may be any loopback address (127.x.y.z).
    public init(host: String = "127.0.0.1", port requestedPort: Int = 0, answer: @escaping @Sendable (String, String) -> (status: Int, body: String)?) throws {
        loop = try EventLoop(name: "envoy-admin-stub")
        loop.start()
        server = try HTTPServer(host: host, port: requestedPort, loops: [loop], tls: nil) { request, responder in
            let path = String(request.target.drop { $0 == "/" })
            guard let (status, body) = answer(request.method, path) else {
                return responder.respond(HTTPResponse(status: 404, contentType: "text/plain", text: "invalid path: /\(path)\n"))
            }
            let type = body.hasPrefix("{") ? "application/json" : "text/plain; charset=UTF-8"
            responder.respond(HTTPResponse(status: status, contentType: type, text: body))
        }
        port = server.port
        server.start()
    }

    /// Answers from a folder of saved admin output (../shared/conformance/envoy-admin): `config_dump` (and
    /// `config_dump-include_eds.json` for `?include_eds`), `clusters` (`.json` with `format=json`, else `.txt`),
    /// `listeners`, `stats` (`stats-prometheus.txt`, `stats.json`), `server_info`, `ready`, and `POST logging`.
    public static func serving(folder: String) throws -> EnvoyAdminStub {
        try EnvoyAdminStub { method, path in
            let name = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
            let query = path.contains("?") ? String(path[path.index(after: path.firstIndex(of: "?")!)...]) : ""
            let json = query.contains("format=json")
            let file: String
            switch (method, name) {
            case ("GET", "config_dump"): file = query.contains("include_eds") ? "config_dump-include_eds.json" : "config_dump.json"
            case ("GET", "clusters"): file = json ? "clusters.json" : "clusters.txt"
            case ("GET", "listeners"): file = json ? "listeners.json" : "listeners.txt"
            case ("GET", "stats"): file = json ? "stats.json" : "stats.txt"
            case ("GET", "stats/prometheus"): file = "stats-prometheus.txt"
            case ("GET", "server_info"): file = "server_info.json"
            case ("GET", "ready"): file = "ready.txt"
            case ("POST", "logging"): file = "logging.txt"
            default: return nil
            }
            guard let text = try? String(contentsOfFile: folder + "/" + file, encoding: .utf8) else { return nil }
            return (200, text)
        }
    }

    public func stop() {
        server.stop()
        loop.stop()
    }
}
