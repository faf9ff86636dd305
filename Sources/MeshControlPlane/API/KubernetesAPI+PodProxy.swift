import Foundation
import Manifests
import MeshNet

extension KubernetesAPI {
    /// The pod subresources this file serves: `proxy` (any port and path) and `log`.
    static func servesPodSubresource(_ target: Target) -> Bool {
        target.type.plural == "pods" && target.namespace != nil && target.name != nil && ["proxy", "log"].contains(target.subresource ?? "")
    }

    /// `pods/NAME[:PORT]/proxy/PATH` and `pods/NAME/log`, as kube-apiserver serves them.
    func podSubresource(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        if target.subresource == "log" { return try podLog(request, responder, target) }
        try podProxy(request, responder, target)
    }

    /// Forwards the request to `status.podIP:PORT` over plain HTTP (`NAME`, `NAME:PORT`, `http:NAME:PORT`) and
    /// answers with the pod's answer; a pod that cannot be reached is a 503 naming the address, as kube-apiserver
    /// says it.
    func podProxy(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        var parts = (target.name ?? "").split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3, parts[0] == "http" { parts.removeFirst() }
        guard parts.count <= 2, let name = parts.first, !name.isEmpty else {
            throw APIError(400, "BadRequest", "invalid pod proxy target \"\(target.name ?? "")\": use NAME, NAME:PORT or http:NAME:PORT")
        }
        if parts.count == 3 || (target.name ?? "").hasPrefix("https:") {
            throw APIError(400, "BadRequest", "meshctl's local control plane proxies to pods over plain HTTP only")
        }
        guard let pod = try store.get(target.type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(target.type, name) }
        let port: Int
        if parts.count == 2 {
            guard let number = Int(parts[1]), (1...65535).contains(number) else {
                throw APIError(400, "BadRequest", "invalid port \"\(parts[1])\" in pod proxy target \"\(target.name ?? "")\"")
            }
            port = number
        } else {
            port = pod["spec"]?["containers"]?.array?.first?["ports"]?.array?.first?["containerPort"]?.int ?? 80
        }
        guard let address = pod["status"]?["podIP"]?.string, !address.isEmpty else {
            throw APIError(503, "ServiceUnavailable", "pod \(name) has no IP address yet (status.podIP is empty)")
        }
        // The path after .../proxy, with the query.
        let marker = "/pods/\(target.name ?? "")/proxy"
        let raw = request.target
        let rest = raw.range(of: marker).map { String(raw[$0.upperBound...]) } ?? "/"
        let path = rest.isEmpty || rest.hasPrefix("?") ? "/" + rest : rest
        let headers = request.headers.filter { !["host", "authorization", "connection", "content-length", "accept-encoding"].contains($0.name.lowercased()) }
        PodHTTPForwarder.forward(method: request.method, host: address, port: port, path: path, headers: headers, body: request.body,
                                 loop: responder.loop) { result in
            switch result {
            case .success(let response):
                responder.respond(response)
            case .failure(let reason):
                self.send(responder, 503, APIError(503, "ServiceUnavailable", "error trying to reach service: dial tcp \(address):\(port): \(reason)").status)
            }
        }
    }

    /// A pod's container log: meshctl's local control plane runs no containers, so a known container's log is
    /// empty; an unknown container is refused as kube-apiserver refuses it.
    func podLog(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        guard request.method == "GET" else { throw APIError.methodNotAllowed }
        let name = target.name ?? ""
        guard let pod = try store.get(target.type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(target.type, name) }
        let containers = ((pod["spec"]?["containers"]?.array ?? []) + (pod["spec"]?["initContainers"]?.array ?? [])).compactMap { $0["name"]?.string }
        if let container = request.query["container"], !containers.contains(container) {
            throw APIError(400, "BadRequest", "container \(container) is not valid for pod \(name)")
        }
        if request.query["container"] == nil && containers.count > 1 {
            throw APIError(400, "BadRequest", "a container name must be specified for pod \(name), choose one of: [\(containers.joined(separator: " "))]")
        }
        responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: ""))
    }
}

/// One HTTP/1.1 exchange with a pod: the request with `Connection: close`, the answer read to its end (by
/// Content-Length, chunks, or the close).
enum PodHTTPForwarder {
    /// Seconds a pod has to answer.
    static let timeout: Double = 30

    static func forward(method: String, host: String, port: Int, path: String, headers: [(name: String, value: String)], body: [UInt8],
                        loop: EventLoop, completion: @escaping @Sendable (Result<HTTPResponse, ForwardError>) -> Void) {
        let once = Once(completion)
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { once.call(.failure(ForwardError("i/o timeout"))) }
        TCPConnection.connect(host: host, port: port, loop: loop, tls: nil) { result in
            switch result {
            case .failure(let error):
                once.call(.failure(ForwardError(error.description.contains("111") || "\(error)".lowercased().contains("refused") ? "connect: connection refused" : "\(error)")))
            case .success(let connection):
                var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
                for header in headers { head += "\(header.name): \(header.value)\r\n" }
                var received: [UInt8] = []
                connection.onData = { bytes in received += bytes.readableArray }
                connection.onClose = {
                    if let response = parse(received) { once.call(.success(response)) } else { once.call(.failure(ForwardError("malformed HTTP response"))) }
                }
                connection.onPeerClosedWrite = { connection.close() }
                connection.send(Array((head + "\r\n").utf8) + body)
            }
        }
    }

    struct ForwardError: Error, CustomStringConvertible, Sendable {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Calls the completion the first time only.
    final class Once: @unchecked Sendable {
        private let lock = NSLock()
        private var completion: (@Sendable (Result<HTTPResponse, ForwardError>) -> Void)?
        init(_ completion: @escaping @Sendable (Result<HTTPResponse, ForwardError>) -> Void) { self.completion = completion }
        func call(_ result: Result<HTTPResponse, ForwardError>) {
            lock.lock()
            let pending = completion
            completion = nil
            lock.unlock()
            pending?(result)
        }
    }

    /// Status, headers (without framing ones) and body of a whole response.
    static func parse(_ bytes: [UInt8]) -> HTTPResponse? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(bytes[(end + 4)...])
        let framing = headers.first { $0.name.lowercased() == "transfer-encoding" }?.value.lowercased()
        if framing == "chunked" {
            guard let decoded = dechunk(body) else { return nil }
            body = decoded
        } else if let length = headers.first(where: { $0.name.lowercased() == "content-length" }).flatMap({ Int($0.value) }) {
            guard length <= body.count else { return nil }
            body = Array(body.prefix(length))
        }
        let kept = headers.filter { !["transfer-encoding", "content-length", "connection"].contains($0.name.lowercased()) }
        return HTTPResponse(status: status, headers: kept, body: body)
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = (index..<max(index, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { return nil }
            if size == 0 { return output }
            let start = lineEnd + 2
            // Compared without adding, so a huge size from the pod cannot overflow.
            guard size <= bytes.count - start else { return nil }
            output += bytes[start..<start + size]
            index = start + size + 2
        }
        return nil
    }
}
