import Foundation
import MeshHTTP2
import MeshNet
import MeshHTTP1

/// The gRPC status codes the echo app answers with.
enum GRPCStatus {
    static let ok = 0
    static let deadlineExceeded = 4
    static let internalError = 13
    static let unavailable = 14
}

/// What a gRPC call to the echo app gets: its messages back and a status, or a status alone.
struct GRPCEchoAnswer: Equatable {
    var messages: [UInt8]
    var status: Int
    var message: String?

    /// Checks the call's framing and its `x-echo-grpc-status` header; the messages come back unchanged.
    init(_ request: HTTPRequest) {
        if let asked = request.header("x-echo-grpc-status") {
            guard let code = Int(asked.trimmingCharacters(in: .whitespaces)), (0...16).contains(code) else {
                self.init(status: GRPCStatus.internalError, "x-echo-grpc-status: \(asked): give a gRPC status code from 0 to 16")
                return
            }
            if code != GRPCStatus.ok {
                self.init(status: code, "echo: status \(code) asked by x-echo-grpc-status")
                return
            }
        }
        guard Self.isFramed(request.body) else {
            self.init(status: GRPCStatus.internalError,
                      "echo: the request body (\(request.body.count) bytes) is not a series of length-prefixed gRPC messages")
            return
        }
        self.init(status: GRPCStatus.ok, nil)
        messages = request.body
    }

    init(status: Int, _ message: String?) {
        messages = []
        self.status = status
        self.message = message
    }

    /// Whether `body` is whole messages, each a flag byte (0 or 1), a 4-byte big-endian length and that many bytes.
    static func isFramed(_ body: [UInt8]) -> Bool {
        var index = 0
        while index < body.count {
            guard body.count - index >= 5, body[index] <= 1 else { return false }
            let length = body[(index + 1)...(index + 4)].reduce(0) { $0 << 8 | Int($1) }
            index += 5
            guard body.count - index >= length else { return false }
            index += length
        }
        return true
    }

    /// A `grpc-timeout` value in seconds: up to 8 digits and a unit (H, M, S, m, u, n); nil when malformed.
    static func timeout(_ text: String) -> Double? {
        let units: [Character: Double] = ["H": 3600, "M": 60, "S": 1, "m": 1e-3, "u": 1e-6, "n": 1e-9]
        guard let unit = text.last, let scale = units[unit] else { return nil }
        let digits = text.dropLast()
        guard (1...8).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Double(digits) else { return nil }
        return value * scale
    }
}

extension EchoServer {
    /// A gRPC call: a POST whose content-type is application/grpc (or application/grpc+FORMAT).
    static func isGRPC(_ request: HTTPRequest) -> Bool {
        request.method == "POST" && (request.header("content-type")?.lowercased().hasPrefix("application/grpc") ?? false)
    }

    /// Answers a gRPC call after ECHO_DELAY: its messages back with `grpc-status: 0`, or the status asked for; a
    /// `grpc-timeout` shorter than the delay ends the call with DEADLINE_EXCEEDED when it runs out.
    func handleGRPC(_ request: HTTPRequest, _ responder: HTTP2Responder) {
        began()
        let started = DispatchTime.now()
        let client = responder.peerAddress ?? "-", server = responder.localAddress ?? "-"
        let what = "\(request.method) \(request.target) HTTP/2 grpc"
        let finish: @Sendable (GRPCEchoAnswer) -> Void = { [self] answer in
            responder.startStream(status: 200, headers: [("content-type", "application/grpc")])
            if !answer.messages.isEmpty { responder.sendBody(ByteBuffer(bytes: answer.messages)) }
            var trailers = [(name: "grpc-status", value: String(answer.status))]
            if let message = answer.message { trailers.append(("grpc-message", message)) }
            responder.finish(trailers: trailers)
            log(EchoLog.line(client: client, server: server, what: what, status: "grpc-status=\(answer.status)", bytes: answer.messages.count,
                             since: started))
            ended()
        }
        var deadline: Double?
        if let text = request.header("grpc-timeout") {
            guard let seconds = GRPCEchoAnswer.timeout(text) else {
                return finish(GRPCEchoAnswer(status: GRPCStatus.internalError,
                                             "grpc-timeout: \(text): write it as up to 8 digits and a unit (H, M, S, m, u, n), as in 500m"))
            }
            deadline = seconds
        }
        if let deadline, deadline < settings.delay {
            let answer = GRPCEchoAnswer(status: GRPCStatus.deadlineExceeded, "echo: grpc-timeout \(request.header("grpc-timeout") ?? "") ran out "
                                        + "before ECHO_DELAY's \(settings.delay) s")
            responder.loop.schedule(after: deadline) { finish(answer) }
            return
        }
        let answer: GRPCEchoAnswer
        if settings.errorRate > 0 && Double.random(in: 0..<1) < settings.errorRate {
            answer = GRPCEchoAnswer(status: GRPCStatus.unavailable, "echo: failure injected by ECHO_ERROR_RATE=\(settings.errorRate) in pod \(settings.pod)")
        } else {
            answer = GRPCEchoAnswer(request)
        }
        if settings.delay > 0 { responder.loop.schedule(after: settings.delay) { finish(answer) } } else { finish(answer) }
    }
}
