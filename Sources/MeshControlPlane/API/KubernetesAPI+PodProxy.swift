import Foundation
import Manifests
import MeshNet
import MeshHTTP1

extension KubernetesAPI {
    /// The pod subresources this file serves: `proxy` (any port and path), `log`, and answers for `exec`,
    /// `attach` and `portforward`.
    static func servesPodSubresource(_ target: Target) -> Bool {
        target.type.plural == "pods" && target.namespace != nil && target.name != nil
            && ["proxy", "log", "exec", "attach", "portforward"].contains(target.subresource ?? "")
    }

    /// `pods/NAME[:PORT]/proxy/PATH` and `pods/NAME/log`, as kube-apiserver serves them.
    func podSubresource(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        switch target.subresource {
        case "log": try podLog(request, responder, target)
        case "proxy": try podProxy(request, responder, target)
        default: throw Self.noStreaming(target)
        }
    }

    /// exec, attach and port-forward need a stream into a container; local mode's containers are processes, so it
    /// says what to use instead (400, so kubectl prints the message and stops instead of trying another protocol).
    static func noStreaming(_ target: Target) -> APIError {
        let name = target.name ?? ""
        let namespace = target.namespace ?? "default"
        let advice: String
        switch target.subresource {
        case "portforward":
            advice = "pods in local mode listen on their own address, so connect to it directly (kubectl get pod \(name) -o wide shows it), "
                + "or send a request from inside local mode with: meshctl local curl --from \(name) -n \(namespace) URL"
        default:
            advice = "to send a request from this pod, use: meshctl local curl --from \(name) -n \(namespace) URL; "
                + "its output is in: kubectl logs \(name) -n \(namespace)"
        }
        return APIError(400, "BadRequest", "meshctl's local mode runs containers as local processes and does not serve \(target.subresource ?? ""): \(advice)")
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
            // As kube-apiserver: the first port of the first container that has one, else 80.
            let declared = (pod["spec"]?["containers"]?.array ?? []).lazy.compactMap { $0["ports"]?.array?.first?["containerPort"]?.int }.first
            port = declared ?? 80
            guard (1...65535).contains(port) else {
                throw APIError(400, "BadRequest", "pod \(name) declares container port \(port), which is not from 1 to 65535")
            }
        }
        guard let address = pod["status"]?["podIP"]?.string, !address.isEmpty else {
            throw APIError(503, "ServiceUnavailable", "pod \(name) has no IP address yet (status.podIP is empty)")
        }
        // Pods live on loopback in local mode; link-local (cloud metadata), multicast and unspecified addresses are
        // never a pod's, and are refused as kube-apiserver refuses them.
        guard PodAddress.mayProxy(to: address) else {
            throw APIError(400, "BadRequest", "address not allowed: pod \(name)'s IP \(address) is not one the API server proxies to")
        }
        // The path after .../proxy, with the query.
        let marker = "/pods/\(target.name ?? "")/proxy"
        let raw = request.target
        let rest = raw.range(of: marker).map { String(raw[$0.upperBound...]) } ?? "/"
        let path = rest.isEmpty || rest.hasPrefix("?") ? "/" + rest : rest
        // Hop-by-hop headers, credentials and framing stay here: the forwarder frames the body itself.
        let listedInConnection = Set((request.header("Connection") ?? "").split(separator: ",").map { String($0).trimmed.lowercased() })
        let dropped: Set<String> = ["host", "authorization", "connection", "content-length", "accept-encoding", "transfer-encoding", "te",
                                    "trailer", "upgrade", "keep-alive", "proxy-connection", "proxy-authorization", "expect"]
        let headers = request.headers.filter { !dropped.contains($0.name.lowercased()) && !listedInConnection.contains($0.name.lowercased()) }
        let destination = podPortOverride?(pod, port) ?? (address, port)
        PodHTTPForwarder.forward(method: request.method, host: destination.host, port: destination.port, path: path, headers: headers, body: request.body,
                                 loop: responder.loop) { result in
            switch result {
            case .success(let response):
                responder.respond(response)
            case .failure(let reason):
                self.send(responder, 503, APIError(503, "ServiceUnavailable", "error trying to reach service: dial tcp \(address):\(port): \(reason)").status)
            }
        }
    }

    /// A pod's container log: what the container's process wrote, read from the kubelet's log files, with
    /// kubectl's options (`follow`, `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps`, `previous`,
    /// `limitBytes`, `container`). A container that has not started is answered as kube-apiserver does (400).
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
        let container = request.query["container"] ?? containers.first ?? ""
        guard let logs = containerLogs else {
            throw APIError(400, "BadRequest", "container \"\(container)\" in pod \"\(name)\" is waiting to start: this control plane does not run containers "
                           + "(meshctl local up runs them)")
        }
        let files = logs.files(namespace: target.storageNamespace, name: name, uid: pod["metadata"]?["uid"]?.string ?? "", container: container)
        let query = request.query
        let previous = ["true", "1"].contains(query["previous"] ?? "")
        let status = ((pod["status"]?["containerStatuses"]?.array ?? []) + (pod["status"]?["initContainerStatuses"]?.array ?? []))
            .first { $0["name"]?.string == container }
        guard let file = previous ? (files.count >= 2 ? files[files.count - 2] : nil) : files.last else {
            if previous {
                throw APIError(400, "BadRequest", "previous terminated container \"\(container)\" in pod \"\(name)\" not found")
            }
            let waiting = status?["state"]?["waiting"]
            let reason = waiting?["reason"]?.string.map { " (\($0)\(waiting?["message"]?.string.map { ": \($0)" } ?? ""))" } ?? ""
            throw APIError(400, "BadRequest", "container \"\(container)\" in pod \"\(name)\" is waiting to start\(reason)")
        }
        let options = LogOptions(query, now: Date())
        let bytes = Array((try? Data(contentsOf: file)) ?? Data())
        var consumed = bytes.count
        if let last = bytes.lastIndex(of: 10) { consumed = last + 1 } else { consumed = 0 }
        let body = options.render(LogLine.parse(Array(bytes[..<consumed])), tail: true)
        let follow = ["true", "1"].contains(query["follow"] ?? "") && !previous
        guard follow else {
            responder.respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: body))
            return
        }
        let stream = responder.startStream(status: 200, headers: [("Content-Type", "text/plain"), ("Cache-Control", "no-cache")])
        stream.send(body)
        let loop = stream.loop
        let store = self.store, key = target.type.key, namespace = target.storageNamespace, uid = pod["metadata"]?["uid"]?.string ?? ""
        var offset = consumed
        var timer: EventLoop.TimerID?
        var ended = false
        var sent = body.count
        // New lines are sent as the process writes them; the stream ends when the container's run ends (the pod is
        // gone, or a newer run of the container has its own file) and what it wrote has been sent.
        func poll() {
            guard !ended else { return }
            let more = ContainerLogFiles.bytes(of: file, from: offset)
            if let last = more.lastIndex(of: 10) {
                var output = options.render(LogLine.parse(Array(more[...last])), tail: false)
                if let limit = options.limitBytes { output = Array(output.prefix(max(0, limit - sent))) }
                if !output.isEmpty { stream.send(output); sent += output.count }
                offset += last + 1
            }
            let current = try? store.get(key, namespace: namespace, name: name)
            let superseded = logs.files(namespace: namespace, name: name, uid: uid, container: container).last != file
            let running = ((current?["status"]?["containerStatuses"]?.array ?? []) + (current?["status"]?["initContainerStatuses"]?.array ?? []))
                .first { $0["name"]?.string == container }?["state"]?["running"] != nil
            if current?["metadata"]?["uid"]?.string != uid || superseded || !running || (options.limitBytes.map { sent >= $0 } ?? false) {
                ended = true
                stream.finish()
                return
            }
            timer = loop.schedule(after: 0.2) { poll() }
        }
        loop.execute {
            stream.onEnd = {
                ended = true
                if let timer { loop.cancel(timer) }
            }
            timer = loop.schedule(after: 0.2) { poll() }
        }
    }
}

/// kubectl logs' options, applied to a container's log lines.
struct LogOptions {
    let tailLines: Int?
    let since: Date?
    let timestamps: Bool
    let limitBytes: Int?

    init(_ query: [String: String], now: Date) {
        tailLines = query["tailLines"].flatMap(Int.init).map { max(0, $0) }
        if let seconds = query["sinceSeconds"].flatMap(Double.init) {
            since = now.addingTimeInterval(-seconds)
        } else {
            since = query["sinceTime"].flatMap(Timestamps.parse)
        }
        timestamps = ["true", "1"].contains(query["timestamps"] ?? "")
        limitBytes = query["limitBytes"].flatMap(Int.init).map { max(0, $0) }
    }

    /// The lines as kubectl shows them: after `since`, the last `tailLines` (when `tail`), with their timestamps if asked.
    func render(_ lines: [LogLine], tail: Bool) -> [UInt8] {
        let kept = lines.filter { line in since.map { line.time >= $0 } ?? true }
        // Lines written in parts (P) count as one line with the part that ends them.
        var groups: [[LogLine]] = []
        var current: [LogLine] = []
        for line in kept {
            current.append(line)
            if !line.partial { groups.append(current); current = [] }
        }
        if !current.isEmpty { groups.append(current) }
        if tail, let tailLines { groups = Array(groups.suffix(tailLines)) }
        var output: [UInt8] = []
        for line in groups.joined() {
            if timestamps { output += Array(line.timestampText.utf8) + [32] }
            output += line.content
            if !line.partial { output.append(10) }
        }
        if let limitBytes { output = Array(output.prefix(limitBytes)) }
        return output
    }
}

/// One HTTP/1.1 exchange with a pod: the request with `Connection: close`, the answer read to its end (by
/// Content-Length, chunks, or the close).
enum PodHTTPForwarder {
    /// Seconds a pod has to answer.
    static let timeout: Double = 30
    /// The largest answer taken from a pod (config dumps are large; an endless stream is not an answer).
    static let maximumResponseBytes = 64 << 20

    static func forward(method: String, host: String, port: Int, path: String, headers: [(name: String, value: String)], body: [UInt8],
                        loop: EventLoop, completion: @escaping @Sendable (Result<HTTPResponse, ForwardError>) -> Void) {
        let once = Once(completion)
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { once.call(.failure(ForwardError("i/o timeout"))) }
        TCPConnection.connect(host: host, port: port, loop: loop) { result in
            switch result {
            case .failure(let error):
                once.call(.failure(ForwardError(error.description.contains("111") || "\(error)".lowercased().contains("refused") ? "connect: connection refused" : "\(error)")))
            case .success(let connection):
                var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
                for header in headers { head += "\(header.name): \(header.value)\r\n" }
                var received: [UInt8] = []
                connection.onData = { bytes in
                    received += bytes.readableArray
                    if received.count > maximumResponseBytes {
                        once.call(.failure(ForwardError("the pod's answer is larger than \(maximumResponseBytes >> 20) MiB")))
                        connection.close()
                    }
                }
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

    /// Status, headers (without framing ones) and body of a whole response; interim 1xx answers are skipped.
    static func parse(_ bytes: [UInt8]) -> HTTPResponse? {
        guard let end = (0..<max(0, bytes.count - 3)).first(where: {
            bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10
        }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else { return nil }
        if (100...199).contains(status) && status != 101 { return parse(Array(bytes[(end + 4)...])) }
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
            guard length >= 0, length <= body.count else { return nil }
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

/// Which pod addresses the API server proxies to.
enum PodAddress {
    /// Loopback (local mode's pods) and ordinary unicast addresses; not link-local (169.254.0.0/16, fe80::/10: cloud
    /// metadata lives there), multicast, unspecified, or text that is no IP address.
    static func mayProxy(to address: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let octets = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            if octets[0] == 0 || (octets[0] == 169 && octets[1] == 254) || octets[0] >= 224 { return false }
            return true
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes.allSatisfy({ $0 == 0 }) || bytes[0] == 0xff || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80) { return false }
            return true
        }
        return false
    }
}
