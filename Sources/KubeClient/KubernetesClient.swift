import Manifests
#if canImport(Glibc)
import Glibc
#endif

/// An error the API server answered with (a `Status`), worded as kubectl words it.
public struct APIStatusError: Error, CustomStringConvertible, Sendable {
    public let code: Int
    public let reason: String
    public let message: String
    public var description: String { "Error from server (\(reason)): \(message)" }
}

/// A Kubernetes API client over libcurl for one cluster access: requests with the right credentials, Status
/// errors decoded, retries for 429/503, kubectl's `-v` logging with secrets masked.
/// Threads may share one client: its state is immutable or locked (the discovery cache), and `CurlClient` lets
/// requests take turns on its handle (a transport given for tests must be as safe, or used from one thread).
public final class KubernetesClient: @unchecked Sendable {
    public let access: ClusterAccess
    private let transport: any HTTPTransport
    private let verbosity: Int
    private let log: (String) -> Void
    private let variables: [String: String]
    let discoveryCache = Locked<[ResourceLocation]?>(nil)
    /// The URL requests go to (the server, or its tls-server-name when it has one).
    private let requestBase: String

    public init(access: ClusterAccess, requestTimeoutSeconds: Int = 30, verbosity: Int = 0, variables: [String: String] = [:],
                log: @escaping (String) -> Void = { _ in }) throws {
        self.access = access
        self.verbosity = verbosity
        self.log = log
        self.variables = variables
        var options = CurlOptions(certificateAuthorities: access.certificateAuthority, timeoutSeconds: requestTimeoutSeconds)
        options.connectTimeoutSeconds = min(10, requestTimeoutSeconds)
        options.insecureSkipVerify = access.insecureSkipTLSVerify
        options.proxy = access.proxyURL
        var access = access
        if let name = access.tlsServerName, let authority = Self.authority(access.server) {
            // Verify the certificate for tls-server-name while connecting to the server's own address.
            options.connectTo = "\(name):\(authority.port):\(authority.host):\(authority.port)"
            access.server = "https://\(name):\(authority.port)" + authority.path
        }
        self.requestBase = access.server
        switch access.credentials {
        case .clientCertificate(let certificate, let key):
            options.clientCertificate = certificate
            options.clientKey = key
        case .exec(let plugin):
            let credential = try ExecCredentials.shared.credential(for: plugin, server: access.server, variables: variables)
            options.clientCertificate = credential.clientCertificate
            options.clientKey = credential.clientKey
        default: break
        }
        transport = try CurlClient(options: options)
    }

    /// A client over another transport (unit tests).
    public init(access: ClusterAccess, transport: any HTTPTransport, verbosity: Int = 0, log: @escaping (String) -> Void = { _ in }) {
        self.access = access
        self.transport = transport
        self.verbosity = verbosity
        self.log = log
        self.variables = [:]
        self.requestBase = access.server
    }

    /// host, port and path of an https URL.
    static func authority(_ url: String) -> (host: String, port: String, path: String)? {
        guard url.hasPrefix("https://") else { return nil }
        let rest = url.dropFirst("https://".count)
        let hostPort = rest.prefix { $0 != "/" }
        let path = String(rest.dropFirst(hostPort.count))
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            let host = String(hostPort[...close])
            let port = hostPort[hostPort.index(after: close)...].dropFirst()
            return (host, port.isEmpty ? "443" : String(port), path)
        }
        let parts = hostPort.split(separator: ":", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "443", path)
    }

    /// GET a path (`/api/v1/namespaces/default`) as JSON.
    public func get(_ path: String) throws -> JSONValue {
        try send("GET", path)
    }

    /// Every item of a list, following `continue` tokens page by page.
    public func list(_ path: String, limit: Int = 500) throws -> [JSONValue] {
        var items: [JSONValue] = []
        var token: String?
        repeat {
            let separator = path.contains("?") ? "&" : "?"
            let page = try send("GET", path + separator + "limit=\(limit)" + (token.map { "&continue=\(Self.percentEncoded($0))" } ?? ""))
            items += page["items"]?.array ?? []
            token = page["metadata"]?["continue"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return items
    }

    /// GET (or `method`) through the API server's pod proxy: `/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH`
    /// (a sidecar's admin port).
    public func proxyGet(pod: String, namespace: String, port: Int, path: String, method: String = "GET") throws -> [UInt8] {
        let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
        return try raw(method, "/api/v1/namespaces/\(namespace)/pods/\(pod):\(port)/proxy/\(trimmed)")
    }

    /// The body of a request whose answer is not JSON (a pod's log, a proxied admin page); non-2xx answers throw
    /// `APIStatusError` with the server's Status when there is one.
    public func raw(_ method: String, _ path: String) throws -> [UInt8] {
        let headers = try requestHeaders(accept: "*/*")
        let response = try perform(HTTPClientRequest(method: method, url: requestBase + path, headers: headers))
        guard (200..<300).contains(response.status) else {
            throw Self.statusError(response.status, body: response.body, fallback: "the server answered \(response.status) for \(method) \(path)")
        }
        return response.body
    }

    /// One event of a watch.
    public struct WatchEvent: Sendable {
        public var type: String
        public var object: JSONValue
    }

    /// Watches a collection (`/api/v1/namespaces/shop/configmaps`) from `resourceVersion` (nil: from now, after
    /// the current objects as ADDED), calling `handler` per event until it returns false. When the server ends a
    /// stream, the watch resumes from the last version seen; a version too old (410) is an error.
    public func watch(_ path: String, resourceVersion: String? = nil, timeoutSeconds: Int = 300,
                      handler: @escaping (WatchEvent) -> Bool) throws {
        var version = resourceVersion
        while true {
            var query = "watch=true&allowWatchBookmarks=true&timeoutSeconds=\(timeoutSeconds)"
            if let version { query += "&resourceVersion=\(version)" }
            let headers = try requestHeaders(accept: "application/json")
            var pending: [UInt8] = []
            var notEvents: [UInt8] = []  // what is not an event line: a refusal's Status
            var stopped = false
            var failure: Error?
            let request = HTTPClientRequest(url: requestBase + path + (path.contains("?") ? "&" : "?") + query, headers: headers)
            let response = try transport.performStreaming(request) { piece in
                pending += piece
                while let newline = pending.firstIndex(of: 10) {
                    let line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    guard let event = try? JSONValue.parse(line), let type = event["type"]?.string, let object = event["object"] else {
                        if notEvents.count < 65_536 { notEvents += line + [10] }
                        continue
                    }
                    if let seen = object["metadata"]?["resourceVersion"]?.string { version = seen }
                    if type == "BOOKMARK" { continue }
                    if type == "ERROR" {
                        failure = APIStatusError(code: object["code"]?.int ?? 500, reason: object["reason"]?.string ?? "Unknown",
                                                 message: object["message"]?.string ?? "watch error")
                        return false
                    }
                    if !handler(WatchEvent(type: type, object: object)) { stopped = true; return false }
                }
                return true
            }
            if let failure { throw failure }
            if stopped { return }
            guard (200..<300).contains(response.status) else {
                throw Self.statusError(response.status, body: notEvents + pending, fallback: "the server refused the watch of \(path)")
            }
        }
    }

    /// Sends a request with a JSON body and returns the JSON answer; non-2xx answers throw `APIStatusError`.
    @discardableResult
    public func send(_ method: String, _ path: String, body: JSONValue? = nil, contentType: String = "application/json",
                     accept: String = "application/json") throws -> JSONValue {
        var headers = try requestHeaders(accept: accept)
        if body != nil { headers.append(("Content-Type", contentType)) }
        let request = HTTPClientRequest(method: method, url: requestBase + path, headers: headers, body: body?.serializedBytes ?? [])
        let response = try perform(request)
        let parsed = (try? JSONValue.parse(response.body)) ?? .null
        guard (200..<300).contains(response.status) else {
            if case .exec(let plugin) = access.credentials, response.status == 401 { ExecCredentials.shared.forget(plugin) }
            throw Self.statusError(response.status, body: response.body, fallback: "the server answered \(response.status) for \(method) \(path)")
        }
        return parsed
    }

    /// Seconds to wait before trying again: the server's Retry-After when it is a number of seconds, else the
    /// attempt number; never negative, NaN or more than 10 (a hostile header cannot stall or crash the client).
    static func retryDelay(_ header: String?, attempt: Int) -> Double {
        guard let asked = header.flatMap({ Double($0.trimmed) }), asked.isFinite, asked >= 0 else { return Double(min(attempt, 10)) }
        return min(asked, 10)
    }

    /// The error for a refused request: the server's Status when the body is one, else the HTTP status with the
    /// reason kube-apiserver gives that code and the start of the body.
    static func statusError(_ code: Int, body: [UInt8], fallback: String) -> APIStatusError {
        let parsed = (try? JSONValue.parse(body)) ?? .null
        if parsed["kind"]?.string == "Status" {
            return APIStatusError(code: code, reason: parsed["reason"]?.string ?? reason(forCode: code),
                                  message: parsed["message"]?.string ?? fallback)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmed
        return APIStatusError(code: code, reason: reason(forCode: code), message: text.isEmpty ? fallback : text)
    }

    /// The Status reason kube-apiserver uses for an HTTP status code.
    static func reason(forCode code: Int) -> String {
        switch code {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 405: return "MethodNotAllowed"
        case 406: return "NotAcceptable"
        case 409: return "Conflict"
        case 410: return "Expired"
        case 413: return "RequestEntityTooLarge"
        case 415: return "UnsupportedMediaType"
        case 422: return "Invalid"
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        case 504: return "Timeout"
        default: return "Unknown"
        }
    }

    /// The request with retries: 429 and 503 wait for Retry-After (at most 3 tries); GETs that lose their
    /// connection are tried again once.
    private func perform(_ request: HTTPClientRequest) throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            attempt += 1
            let start = Self.now()
            do {
                let response = try transport.perform(request)
                logExchange(request, response, milliseconds: Int((Self.now() - start) * 1000))
                if [429, 503].contains(response.status), attempt < 3 {
                    usleep(UInt32(Self.retryDelay(response.header("Retry-After"), attempt: attempt) * 1_000_000))
                    continue
                }
                return response
            } catch let error as TransportError {
                if verbosity >= 6 { log("\(request.method) \(request.url) failed in \(Int((Self.now() - start) * 1000)) ms: \(error)") }
                if request.method == "GET" && attempt < 2 && error.failure == .connectionLost { continue }
                throw TransportError(reason: "cannot reach the Kubernetes API at \(access.server) (context \(access.contextName) in "
                                     + "\(access.source)): \(error.reason)", failure: error.failure)
            }
        }
    }

    /// Accept, User-Agent and the credentials every request carries.
    private func requestHeaders(accept: String) throws -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Accept", accept), ("User-Agent", "meshctl")]
        if let authorization = try authorization() { headers.append(("Authorization", authorization)) }
        return headers
    }

    private func authorization() throws -> String? {
        switch access.credentials {
        case .token(let token): return "Bearer \(token)"
        case .tokenFile(let path):
            guard let token = Kubeconfig.readFile(path)?.trimmed, !token.isEmpty else {
                throw KubeconfigError("cannot read the token file \(path)")
            }
            return "Bearer \(token)"
        case .basic(let username, let password): return "Basic \(Base64.encode(Array("\(username):\(password)".utf8)))"
        case .exec(let plugin):
            return try ExecCredentials.shared.credential(for: plugin, server: access.server, variables: variables).token.map { "Bearer \($0)" }
        case .none, .clientCertificate: return nil
        }
    }

    /// kubectl's levels: 6 logs method, URL, status and time; 8 adds headers and bodies. Credentials never appear.
    private func logExchange(_ request: HTTPClientRequest, _ response: HTTPClientResponse, milliseconds: Int) {
        guard verbosity >= 6 else { return }
        log("\(request.method) \(request.url) \(response.status) in \(milliseconds) milliseconds")
        guard verbosity >= 8 else { return }
        for (name, value) in request.headers { log("    \(name): \(Self.masked(name, value))") }
        if !request.body.isEmpty { log("Request Body: " + Self.maskedBody(request.body)) }
        for (name, value) in response.headers { log("    \(name): \(Self.masked(name, value))") }
        log("Response Body: " + Self.maskedBody(response.body))
    }

    static func masked(_ name: String, _ value: String) -> String {
        guard ["authorization", "proxy-authorization", "cookie", "set-cookie"].contains(name.lowercased()) else { return value }
        let scheme = value.split(separator: " ").first.map(String.init) ?? ""
        return scheme.isEmpty || scheme == value ? "<masked>" : "\(scheme) <masked>"
    }

    /// A body for the log, with Secret data, tokens and keys masked, cut at 1 KiB.
    static func maskedBody(_ body: [UInt8]) -> String {
        guard var value = try? JSONValue.parse(body) else { return "<\(body.count) bytes, not JSON>" }
        value = maskSecrets(value)
        let text = value.serialized
        return text.count > 1024 ? String(text.prefix(1024)) + "... (\(text.count) bytes)" : text
    }

    /// Keys whose values are credentials wherever they appear.
    private static let credentialKeys: Set<String> = ["token", "password", "client-key-data", "clientKeyData", "tls.key", "privateKey"]
    /// Annotations that hold a whole object as JSON text (kubectl's client-side apply keeps the applied file there).
    private static let embeddedObjectAnnotations: Set<String> = ["kubectl.kubernetes.io/last-applied-configuration"]

    /// The value with Secret data and credentials masked: Secrets, the items of Secret lists (whose items carry
    /// no kind), and objects embedded as JSON text in annotations.
    static func maskSecrets(_ value: JSONValue, isSecret inheritedSecret: Bool = false) -> JSONValue {
        switch value {
        case .object(let pairs):
            let kind = pairs.first { $0.key == "kind" }?.value.string
            let isSecret = inheritedSecret || kind == "Secret"
            let itemsAreSecrets = kind == "SecretList"
            return .object(pairs.map { pair in
                if (isSecret && (pair.key == "data" || pair.key == "stringData")) || credentialKeys.contains(pair.key) {
                    return (pair.key, .string("<masked>"))
                }
                if pair.key == "items" { return (pair.key, maskSecrets(pair.value, isSecret: itemsAreSecrets)) }
                if pair.key == "annotations", case .object(let annotations) = pair.value {
                    return (pair.key, .object(annotations.map { annotation in
                        guard embeddedObjectAnnotations.contains(annotation.key), let text = annotation.value.string else {
                            return annotation
                        }
                        guard let embedded = try? JSONValue.parse(Array(text.utf8)) else { return (annotation.key, .string("<masked>")) }
                        return (annotation.key, .string(maskSecrets(embedded).serialized))
                    }))
                }
                return (pair.key, maskSecrets(pair.value))
            })
        case .array(let items): return .array(items.map { maskSecrets($0, isSecret: inheritedSecret) })
        default: return value
        }
    }

    public static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || [45, 46, 95, 126].contains(byte) {
                result.append(Character(Unicode.Scalar(byte)))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return result
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
