import ConfigValues
import Foundation
import MeshHTTP2
import MeshNet
import MeshHTTP1

/// What a request path asks of the echo app.
enum EchoRoute: Equatable {
    /// The echo of the request, with this status.
    case echo(status: Int)
    case headers
    case close
    case delay(Double)
    case call(String)
    /// A path the app cannot take, with why.
    case refused(String)

    init(_ request: HTTPRequest) {
        let segments = request.pathSegments
        switch (segments.first, segments.count) {
        case ("status", 2):
            guard let code = Int(segments[1]), (200...599).contains(code) else {
                self = .refused("/status/\(segments[1]): the status must be a number from 200 to 599, as in /status/503")
                return
            }
            self = .echo(status: code)
        case ("delay", 2):
            guard let seconds = Duration.seconds(segments[1]) else {
                self = .refused("/delay/\(segments[1]): not a duration; write it as 250ms, 2s or 1m (at most \(Int(Duration.maximum)) s)")
                return
            }
            self = .delay(seconds)
        case ("headers", 1): self = .headers
        case ("close", 1): self = .close
        case ("call", 1):
            guard let url = request.query["url"], !url.isEmpty else {
                self = .refused("/call needs the URL to call: /call?url=http://SERVICE[:PORT]/PATH")
                return
            }
            self = .call(url)
        default: self = .echo(status: 200)
        }
    }
}

/// What the echo app answers through: an HTTP/1.1 responder or an HTTP/2 stream's.
protocol EchoResponder: Sendable {
    var loop: EventLoop { get }
    var peerAddress: String? { get }
    var localAddress: String? { get }
    func respond(_ response: HTTPResponse)
    /// Gives up without answering: closes the HTTP/1.1 connection, resets the HTTP/2 stream.
    func abort()
}

extension HTTPResponder: EchoResponder {}

extension HTTP2Responder: EchoResponder {
    func abort() { reset(code: .cancel) }
}

extension HTTPRequest {
    /// The protocol as a request line writes it: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`.
    var protocolName: String {
        switch version {
        case 10: "HTTP/1.0"
        case 20: "HTTP/2"
        default: "HTTP/1.1"
        }
    }
}

extension EchoServer {
    func handle(_ request: HTTPRequest, _ responder: some EchoResponder) {
        began()
        let started = DispatchTime.now()
        let client = responder.peerAddress ?? "-", server = responder.localAddress ?? "-"
        let route = EchoRoute(request)
        let json = request.header("Accept")?.contains("application/json") == true
        let requestLine = "\(request.method) \(request.target) \(request.protocolName)"
        let finish: @Sendable (HTTPResponse?) -> Void = { [self] response in
            if let response {
                var answer = response
                if request.method == "HEAD" || answer.status == 204 || answer.status == 304 { answer.body = [] }
                responder.respond(answer)
                log(EchoLog.line(client: client, server: server, what: requestLine, status: String(answer.status), bytes: answer.body.count, since: started))
            } else {
                responder.abort()
                log(EchoLog.line(client: client, server: server, what: requestLine, status: "closed", bytes: 0, since: started))
            }
            ended()
        }
        var wait = settings.delay
        if case .delay(let seconds) = route { wait += seconds }
        let injectFailure = settings.errorRate > 0 && Double.random(in: 0..<1) < settings.errorRate
        let answer = { [self] in
            if injectFailure {
                return finish(HTTPResponse(status: 503, contentType: "text/plain",
                                           text: "echo: failure injected by ECHO_ERROR_RATE=\(settings.errorRate) in pod \(settings.pod)\n"))
            }
            let view = EchoView(settings: settings, request: request, client: client, server: server, json: json)
            switch route {
            case .echo(let status): finish(view.response(status: status))
            case .delay: finish(view.response(status: 200))
            case .headers: finish(view.headersResponse())
            case .close: finish(nil)
            case .refused(let reason): finish(HTTPResponse(status: 400, contentType: "text/plain", text: "echo: \(reason)\n"))
            case .call(let url): call(url, view: view, finish: finish)
            }
        }
        if wait > 0 { responder.loop.schedule(after: wait, answer) } else { answer() }
    }

    /// `/call?url=URL`: the request made from this pod's address, its answer shown in the response.
    private func call(_ text: String, view: EchoView, finish: @escaping @Sendable (HTTPResponse?) -> Void) {
        let target: CallURL, address: String
        do {
            target = try CallURL(text)
            address = try ClusterNames.known(environment: settings.environment, namespace: settings.namespace)
                .resolve(target.host, namespace: settings.namespace)[0]
        } catch {
            return finish(view.callResponse(url: text, address: nil, result: .failure(HTTPCall.Failure(error.description))))
        }
        let podAddress = settings.environment["POD_IP"].flatMap { IPAddress.isLoopback($0) ? $0 : nil }
        HTTPCall.perform(HTTPCall.Request(url: target), address: address, source: podAddress, through: OutboundProxy(environment: settings.environment),
                         loop: loop) { result in
            finish(view.callResponse(url: text, address: "\(address):\(target.port)", result: result))
        }
    }
}

/// The echo app's answers, as text (`key=value` lines) or as JSON when the client accepts `application/json`.
struct EchoView: Sendable {
    let settings: EchoSettings
    let request: HTTPRequest
    let client: String
    let server: String
    let json: Bool

    private var identity: [(String, String)] {
        [("pod", settings.pod), ("namespace", settings.namespace), ("serviceAccount", settings.serviceAccount), ("version", settings.version),
         ("server", server), ("client", client)]
    }

    func response(status: Int) -> HTTPResponse {
        let requestLine = "\(request.method) \(request.target) \(request.protocolName)"
        if json {
            var pairs: [(key: String, value: JSONValue)] = identity.map { ($0.0, .string($0.1)) }
            pairs += [("status", .int(status)), ("method", .string(request.method)), ("target", .string(request.target)),
                      ("protocol", .string(request.protocolName)), ("headers", headersObject)]
            return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: JSONValue.object(pairs).serializedBytes + [10])
        }
        var lines = identity.map { "\($0.0)=\($0.1)" }
        lines.append("status=\(status)")
        lines.append("request=\(requestLine)")
        lines += request.headers.map { "header=\($0.name): \($0.value)" }
        return HTTPResponse(status: status, contentType: "text/plain", text: lines.joined(separator: "\n") + "\n")
    }

    func headersResponse() -> HTTPResponse {
        if json { return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: headersObject.serializedBytes + [10]) }
        return HTTPResponse(status: 200, contentType: "text/plain", text: request.headers.map { "\($0.name): \($0.value)\n" }.joined())
    }

    /// The request's headers by name; a name sent more than once has its values joined with `, `.
    private var headersObject: JSONValue {
        var pairs: [(key: String, value: JSONValue)] = []
        for (name, value) in request.headers {
            if let index = pairs.firstIndex(where: { $0.key.lowercased() == name.lowercased() }) {
                pairs[index].value = .string((pairs[index].value.string ?? "") + ", " + value)
            } else {
                pairs.append((name, .string(value)))
            }
        }
        return .object(pairs)
    }

    /// 200 with the called server's status, headers and body; 502 with the reason when no answer came.
    func callResponse(url: String, address: String?, result: Result<HTTPCall.Response, HTTPCall.Failure>) -> HTTPResponse {
        switch result {
        case .success(let answer):
            let body = String(decoding: answer.body, as: UTF8.self)
            if json {
                let headers = JSONValue.object(answer.head.headers.map { ($0.name, .string($0.value)) })
                let document = JSONValue.object([("pod", .string(settings.pod)), ("url", .string(url)), ("address", .string(address ?? "")),
                                                 ("status", .int(answer.head.status)), ("headers", headers), ("body", .string(body))])
                return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: document.serializedBytes + [10])
            }
            var lines = ["call=GET \(url) (\(address ?? "-")) from pod \(settings.pod)", "status=\(answer.head.status) \(answer.head.reason)"]
            lines += answer.head.headers.map { "header=\($0.name): \($0.value)" }
            return HTTPResponse(status: 200, contentType: "text/plain", text: lines.joined(separator: "\n") + "\n\n" + body)
        case .failure(let failure):
            if json {
                let document = JSONValue.object([("pod", .string(settings.pod)), ("url", .string(url)), ("address", .string(address ?? "")),
                                                 ("error", .string(failure.description))])
                return HTTPResponse(status: 502, headers: [("Content-Type", "application/json")], body: document.serializedBytes + [10])
            }
            return HTTPResponse(status: 502, contentType: "text/plain",
                                text: "call=GET \(url) (\(address ?? "-")) from pod \(settings.pod)\nerror=\(failure.description)\n")
        }
    }
}
