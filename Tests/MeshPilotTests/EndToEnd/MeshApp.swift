import Foundation
import MeshNet
import MeshHTTP1
import MeshTestSupport

/// A workload's app on MeshNet's HTTP server, bound where local mode puts it (127.11.x.y for a pod with a sidecar,
/// the pod IP otherwise). Every request answers 200 `NAME PATH` with `x-app: NAME`, except `/status/NNN` (that
/// status), `/slow` (after 2 s), `/hold` (after 0.5 s), and anything while `failing` (503).
final class MeshApp: @unchecked Sendable {
    let name: String
    private let loop: EventLoop
    private let server: HTTPServer
    private let lock = NSLock()
    private var seen: [String] = []
    private var hosts: [String: String] = [:]
    private var failingNow = false

    init(name: String, host: String, port: Int) throws {
        self.name = name
        loop = try EventLoop(name: "app-\(name)")
        loop.start()
        let box = Box()
        server = try HTTPServer(host: host, port: port, loops: [loop], tls: nil) { request, responder in box.app?.answer(request, responder) }
        box.app = self
        server.start()
    }

    private final class Box: @unchecked Sendable { weak var app: MeshApp? }

    var failing: Bool {
        get { lock.lock(); defer { lock.unlock() }; return failingNow }
        set { lock.lock(); failingNow = newValue; lock.unlock() }
    }

    /// The request paths this app has seen, oldest first.
    var requests: [String] {
        lock.lock(); defer { lock.unlock() }
        return seen
    }

    private func answer(_ request: HTTPRequest, _ responder: HTTPResponder) {
        lock.lock(); seen.append(request.target); hosts[request.target] = request.header("host"); let failing = failingNow; lock.unlock()
        var status = failing ? 503 : 200
        if let range = request.target.range(of: #"/status/\d{3}"#, options: .regularExpression) { status = Int(request.target[range].suffix(3)) ?? 200 }
        let response = HTTPResponse(status: status, headers: [("content-type", "text/plain"), ("x-app", name)], body: Array("\(name) \(request.target)\n".utf8))
        let delay = request.target.hasPrefix("/slow") ? 2.0 : request.target.hasPrefix("/hold") ? 0.5 : 0
        if delay > 0 { _ = responder.loop.schedule(after: delay) { responder.respond(response) } } else { responder.respond(response) }
    }

    /// The Host header of the last request for `target`.
    func host(of target: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        return hosts[target]
    }

    func stop() {
        server.stop()
        loop.stop()
    }
}

/// What a client saw: status, headers, body; status 0 when the connection closed without an answer.
struct MeshReply {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    /// One request on its own connection to `address:port`; with `proxyLine`, a PROXY v1 line goes first (how a
    /// client in a sidecar pod reaches its sidecar's 15001 naming the real destination).
    static func send(to address: String, port: Int, proxyLine: String? = nil, path: String, host: String,
                     headers: [(String, String)] = [], timeout: Double = 10) -> MeshReply {
        guard let client = try? LoopbackClient(address: address, port: port) else { return MeshReply(status: 0, headers: [], body: "connect refused") }
        defer { client.close() }
        var text = (proxyLine ?? "") + "GET \(path) HTTP/1.1\r\nhost: \(host)\r\nconnection: close\r\nuser-agent: mesh-e2e\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        do { try client.send(text + "\r\n") } catch { return MeshReply(status: 0, headers: [], body: "send failed") }
        let answer = client.readUntilClosed(timeout: timeout)
        guard let split = answer.range(of: "\r\n\r\n") else { return MeshReply(status: 0, headers: [], body: answer) }
        let lines = answer[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let parsed = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return MeshReply(status: status, headers: parsed, body: String(answer[split.upperBound...]))
    }
}
