import Foundation
import MeshNet
import MeshHTTP1

/// `upstream.py` of the envoy-admin samples on MeshNet's HTTP server: every request answers 200 with
/// `NAME METHOD PATH\n` and `x-upstream: NAME`, except `/status/NNN` (that status) and `/slow` (after 1 s).
final class SampleUpstream: @unchecked Sendable {
    let name: String
    let loop: EventLoop
    let server: HTTPServer
    private let lock = NSLock()
    private var seen: [String] = []
    private var seenRequests: [HTTPRequest] = []
    /// Seconds every answer waits (a slow upstream).
    var delay: Double = 0

    init(name: String) throws {
        self.name = name
        loop = try EventLoop(name: "upstream-\(name)")
        loop.start()
        var server: HTTPServer?
        let box = Box()
        server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil) { request, responder in
            box.upstream?.answer(request, responder)
        }
        self.server = server!
        box.upstream = self
        server!.start()
    }

    private final class Box: @unchecked Sendable { weak var upstream: SampleUpstream? }

    var port: Int { server.port }

    /// The request targets this upstream has seen, oldest first.
    var requests: [String] {
        lock.lock(); defer { lock.unlock() }
        return seen
    }

    /// The requests this upstream has seen (heads and bodies), oldest first.
    var received: [HTTPRequest] {
        lock.lock(); defer { lock.unlock() }
        return seenRequests
    }

    private func answer(_ request: HTTPRequest, _ responder: HTTPResponder) {
        lock.lock(); seen.append(request.target); seenRequests.append(request); lock.unlock()
        var status = 200
        if let range = request.target.range(of: #"/status/\d{3}"#, options: .regularExpression) {
            status = Int(request.target[range].suffix(3)) ?? 200
        }
        let response = HTTPResponse(status: status, headers: [("content-type", "text/plain"), ("x-upstream", name)],
                                    body: Array("\(name) \(request.method) \(request.target)\n".utf8))
        if request.target.contains("/slow") || delay > 0 {
            responder.loop.schedule(after: max(delay, request.target.contains("/slow") ? 1 : 0)) { responder.respond(response) }
        } else {
            responder.respond(response)
        }
    }

    func stop() {
        server.stop()
        loop.stop()
    }
}

/// A blocking HTTP/1.1 client for tests: one request per connection, the whole answer read.
struct TestResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String
    var duration: Double
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}

enum TestClient {
    static func get(port: Int, path: String, host: String, headers: [(String, String)] = [], method: String = "GET", body: String = "") throws -> TestResponse {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: \(host)\r\nconnection: close\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "user-agent" }) { text += "user-agent: meshctl-test\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "content-length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        let started = Date()
        let raw = try exchange(port: port, bytes: Array(text.utf8))
        var decoder = HTTP1ResponseDecoder()
        decoder.requestSent(method: method)
        decoder.feed(ByteBuffer(bytes: raw))
        var head: HTTPResponseHead?
        var content: [UInt8] = []
        while let part = try decoder.next() {
            switch part {
            case .head(let value): head = value
            case .body(let bytes): content += bytes.readableArray
            case .end: break
            }
        }
        if case .end? = try decoder.finishAtClose() {}
        guard let head else { throw TestClientError(message: "no response head in \(raw.count) bytes") }
        return TestResponse(status: head.status, headers: head.headers, body: String(decoding: content, as: UTF8.self), duration: Date().timeIntervalSince(started))
    }

    /// Sends bytes, reads until the server closes (or 10 s pass).
    static func exchange(port: Int, bytes: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError(message: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw TestClientError(message: "connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            received += chunk[0..<count]
        }
        return received
    }
}

struct TestClientError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
