import Foundation

/// A setting of the echo app's environment that cannot be used: which variable, what it holds, what it takes.
public struct EchoSettingError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ variable: String, _ value: String, _ expected: String) {
        description = "\(variable)=\(value): \(expected)"
    }
}

/// What the echo app serves and how, read from its environment (the container's env plus what local mode's
/// kubelet adds: PORT, PORTS, POD_IP, POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT, POD_VERSION).
public struct EchoSettings: Sendable {
    /// `h2c` serves HTTP/2 cleartext (prior knowledge or Upgrade) with HTTP/1.1's answers; `grpc` adds a gRPC echo
    /// on top of h2c.
    public enum WireProtocol: String, Sendable { case http1, h2c, grpc, tcp }

    public var ports: [Int]
    /// The address the listeners bind: ECHO_BIND, else POD_IP, else 127.0.0.1.
    public var bindAddress: String
    public var pod: String
    public var namespace: String
    public var serviceAccount: String
    public var version: String
    public var wireProtocol: WireProtocol
    public var tls: Bool
    /// Files with a certificate chain and key for ECHO_TLS (else a self-signed certificate is made at start).
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Seconds an idle keep-alive connection stays open.
    public var keepAliveTimeout: Double
    /// Fraction of requests answered 503.
    public var errorRate: Double
    /// Seconds every answer waits.
    public var delay: Double
    /// ECHO_CLOSE_AFTER: requests answered on one connection before the next one is dropped unanswered (the
    /// connection closed under it, as an app whose keep-alive ends before its client expects); nil: never.
    public var closeAfter: Int?
    /// The whole environment, for the service links and the names file `/call` resolves with.
    public var environment: [String: String]

    /// The port served when the container declares none.
    public static let defaultPort = 8080

    public init(environment: [String: String]) throws(EchoSettingError) {
        self.environment = environment
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let list = value("PORTS") {
            var ports: [Int] = []
            for item in list.split(separator: ",") {
                let text = item.trimmingCharacters(in: .whitespaces)
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw EchoSettingError("PORTS", list, "\"\(text)\" is not a port from 1 to 65535; give the ports as 8080,9090")
                }
                if !ports.contains(port) { ports.append(port) }
            }
            self.ports = ports
        } else if let text = value("PORT") {
            guard let port = Int(text), (1...65535).contains(port) else { throw EchoSettingError("PORT", text, "not a port from 1 to 65535") }
            ports = [port]
        } else {
            ports = [Self.defaultPort]
        }
        if ports.isEmpty { ports = [Self.defaultPort] }
        bindAddress = value("ECHO_BIND") ?? value("POD_IP") ?? "127.0.0.1"
        let bindVariable = value("ECHO_BIND") != nil ? "ECHO_BIND" : "POD_IP"
        guard IPAddress.isLiteral(bindAddress) else {
            throw EchoSettingError(bindVariable, bindAddress, "not an IP address; give one such as 127.0.0.1")
        }
        guard IPAddress.isLoopback(bindAddress) else {
            throw EchoSettingError(bindVariable, bindAddress, "local mode's pods listen on loopback only (127.0.0.0/8 or ::1), never on this machine's network")
        }
        pod = value("POD_NAME") ?? value("HOSTNAME") ?? "echo"
        namespace = value("POD_NAMESPACE") ?? "default"
        serviceAccount = value("SERVICE_ACCOUNT") ?? "default"
        version = value("POD_VERSION") ?? ""
        switch value("ECHO_PROTOCOL")?.lowercased() ?? "http1" {
        case "http1", "http", "http/1.1": wireProtocol = .http1
        case "tcp": wireProtocol = .tcp
        case "h2c", "http2": wireProtocol = .h2c
        case "grpc": wireProtocol = .grpc
        case let other: throw EchoSettingError("ECHO_PROTOCOL", other, "unknown protocol; use http1, h2c, grpc or tcp")
        }
        switch value("ECHO_TLS")?.lowercased() ?? "false" {
        case "true", "1", "yes": tls = true
        case "false", "0", "no": tls = false
        case let other: throw EchoSettingError("ECHO_TLS", other, "use true or false")
        }
        if tls && (wireProtocol == .h2c || wireProtocol == .grpc) {
            throw EchoSettingError("ECHO_TLS", value("ECHO_TLS")!, "ECHO_PROTOCOL=\(wireProtocol.rawValue) is served in cleartext only (HTTP/2 over TLS "
                                   + "is not built); drop ECHO_TLS, or use ECHO_PROTOCOL=http1 or tcp with it")
        }
        tlsCertificateFile = value("ECHO_TLS_CERT")
        tlsKeyFile = value("ECHO_TLS_KEY")
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            throw EchoSettingError(tlsCertificateFile == nil ? "ECHO_TLS_KEY" : "ECHO_TLS_CERT", tlsCertificateFile ?? tlsKeyFile!,
                                   "ECHO_TLS_CERT and ECHO_TLS_KEY go together (a PEM certificate chain and its key); set both or neither")
        }
        keepAliveTimeout = try Self.duration("ECHO_KEEPALIVE_TIMEOUT", value("ECHO_KEEPALIVE_TIMEOUT")) ?? 60
        guard keepAliveTimeout > 0 else { throw EchoSettingError("ECHO_KEEPALIVE_TIMEOUT", value("ECHO_KEEPALIVE_TIMEOUT")!, "must be longer than 0") }
        delay = try Self.duration("ECHO_DELAY", value("ECHO_DELAY")) ?? 0
        if let text = value("ECHO_CLOSE_AFTER") {
            guard let count = Int(text), count >= 0 else {
                throw EchoSettingError("ECHO_CLOSE_AFTER", text, "not a count of requests (0 or more: 1 answers one request per connection and drops the next)")
            }
            closeAfter = count
        }
        if let text = value("ECHO_ERROR_RATE") {
            guard let rate = Double(text), rate >= 0, rate <= 1 else {
                throw EchoSettingError("ECHO_ERROR_RATE", text, "not a fraction from 0 to 1 (0.25 answers a quarter of the requests with 503)")
            }
            errorRate = rate
        } else {
            errorRate = 0
        }
    }

    private static func duration(_ variable: String, _ text: String?) throws(EchoSettingError) -> Double? {
        guard let text else { return nil }
        guard let seconds = Duration.seconds(text) else {
            throw EchoSettingError(variable, text, "not a duration; write it as 250ms, 2s, 1.5s or 1m (at most \(Int(Duration.maximum)) s)")
        }
        return seconds
    }
}

/// Durations as Kubernetes and Go write them: `250ms`, `2s`, `1.5s`, `1m`, `1h`, `500us`; a bare number is seconds.
public enum Duration {
    /// The longest duration taken (10 minutes): a delay longer than that is a mistake.
    public static let maximum: Double = 600

    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(text.trimmingCharacters(in: .whitespaces))
        var scale = 1.0
        for (suffix, factor) in units where number.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            scale = factor
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else { return nil }
        let seconds = value * scale
        return seconds.isFinite && seconds >= 0 && seconds <= maximum ? seconds : nil
    }
}
