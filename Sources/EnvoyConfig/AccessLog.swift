import ConfigValues

/// One line of a proxy's access log in Istio's default text format (meshConfig `accessLogFormat` unset,
/// `accessLogEncoding: TEXT`), or in its JSON encoding (`accessLogEncoding: JSON`) with Istio's default keys.
///
/// The text format has 22 fields: `[START_TIME] "METHOD PATH PROTOCOL" RESPONSE_CODE RESPONSE_FLAGS
/// RESPONSE_CODE_DETAILS CONNECTION_TERMINATION_DETAILS "UPSTREAM_TRANSPORT_FAILURE_REASON" BYTES_RECEIVED BYTES_SENT
/// DURATION UPSTREAM_SERVICE_TIME "X-FORWARDED-FOR" "USER-AGENT" "X-REQUEST-ID" "AUTHORITY" "UPSTREAM_HOST"
/// UPSTREAM_CLUSTER UPSTREAM_LOCAL_ADDRESS DOWNSTREAM_LOCAL_ADDRESS DOWNSTREAM_REMOTE_ADDRESS REQUESTED_SERVER_NAME
/// ROUTE_NAME`. Envoy writes `-` for a value it does not have; such values read as "" here.
public struct AccessLogEntry: Sendable, Equatable {
    public var startTime = ""
    public var method = ""
    public var path = ""
    public var httpProtocol = ""
    /// 0 when no HTTP response was sent (a TCP connection, or one the proxy closed).
    public var responseCode = 0
    /// `%RESPONSE_FLAGS%` split on `,`; empty for `-`.
    public var responseFlags: [String] = []
    public var responseCodeDetails = ""
    public var connectionTerminationDetails = ""
    public var upstreamTransportFailureReason = ""
    public var bytesReceived = 0
    public var bytesSent = 0
    /// Milliseconds; nil for `-`.
    public var duration: Int?
    public var upstreamServiceTime = ""
    public var forwardedFor = ""
    public var userAgent = ""
    public var requestID = ""
    public var authority = ""
    public var upstreamHost = ""
    public var upstreamCluster = ""
    public var upstreamLocalAddress = ""
    public var downstreamLocalAddress = ""
    public var downstreamRemoteAddress = ""
    public var requestedServerName = ""
    public var routeName = ""

    public init() {}

    /// The fields of the text format in order: the name used in explanations and the Envoy operator that fills it.
    public static let textFields: [(name: String, envoyOperator: String)] = [
        ("start time", "%START_TIME%"), ("request", "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"),
        ("response code", "%RESPONSE_CODE%"), ("response flags", "%RESPONSE_FLAGS%"),
        ("response code details", "%RESPONSE_CODE_DETAILS%"), ("connection termination details", "%CONNECTION_TERMINATION_DETAILS%"),
        ("upstream transport failure reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"), ("bytes received", "%BYTES_RECEIVED%"),
        ("bytes sent", "%BYTES_SENT%"), ("duration", "%DURATION%"), ("upstream service time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"),
        ("x-forwarded-for", "%REQ(X-FORWARDED-FOR)%"), ("user agent", "%REQ(USER-AGENT)%"), ("request id", "%REQ(X-REQUEST-ID)%"),
        ("authority", "%REQ(:AUTHORITY)%"), ("upstream host", "%UPSTREAM_HOST%"), ("upstream cluster", "%UPSTREAM_CLUSTER_RAW%"),
        ("upstream local address", "%UPSTREAM_LOCAL_ADDRESS%"), ("downstream local address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
        ("downstream remote address", "%DOWNSTREAM_REMOTE_ADDRESS%"), ("requested server name", "%REQUESTED_SERVER_NAME%"),
        ("route name", "%ROUTE_NAME%"),
    ]

    /// The values in `textFields` order, as they appear in a text line ("-" for an empty value).
    public var textValues: [String] {
        func shown(_ text: String) -> String { text.isEmpty ? "-" : text }
        return [startTime, "\(shown(method)) \(shown(path)) \(shown(httpProtocol))", String(responseCode),
                responseFlags.isEmpty ? "-" : responseFlags.joined(separator: ","), shown(responseCodeDetails),
                shown(connectionTerminationDetails), shown(upstreamTransportFailureReason), String(bytesReceived), String(bytesSent),
                duration.map(String.init) ?? "-", shown(upstreamServiceTime), shown(forwardedFor), shown(userAgent), shown(requestID),
                shown(authority), shown(upstreamHost), shown(upstreamCluster), shown(upstreamLocalAddress), shown(downstreamLocalAddress),
                shown(downstreamRemoteAddress), shown(requestedServerName), shown(routeName)]
    }

    /// Reads one line, text or JSON. Errors say which field is wrong and at which column (1-based).
    public init(line rawLine: String) throws(AccessLogError) {
        let line = rawLine.trimmingTrailingNewline
        if line.first == "{" {
            try self.init(jsonLine: line)
            return
        }
        self.init()
        let tokens = try Self.tokens(line)
        guard tokens.count == Self.textFields.count else {
            throw AccessLogError(column: tokens.last.map { $0.column } ?? 1,
                                 problem: "found \(tokens.count) fields, Istio's default access-log format has \(Self.textFields.count)"
                                    + " (\(Self.textFields.map(\.name).joined(separator: ", ")))")
        }
        func value(_ index: Int) -> String { tokens[index].text == "-" ? "" : tokens[index].text }
        guard tokens[0].bracketed else {
            throw AccessLogError(column: tokens[0].column, problem: "the start time must be in brackets, like [2026-11-30T19:44:32.802Z]")
        }
        guard tokens[1].quoted else {
            throw AccessLogError(column: tokens[1].column, problem: "the request must be quoted, like \"GET /path HTTP/1.1\"")
        }
        startTime = tokens[0].text
        let request = tokens[1].text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard request.count == 3 else {
            throw AccessLogError(column: tokens[1].column, problem: "the request \"\(tokens[1].text)\" is not \"METHOD PATH PROTOCOL\"")
        }
        method = request[0] == "-" ? "" : request[0]
        path = request[1] == "-" ? "" : request[1]
        httpProtocol = request[2] == "-" ? "" : request[2]
        responseCode = try Self.number(tokens[2], field: "response code") ?? 0
        responseFlags = value(3).isEmpty ? [] : value(3).split(separator: ",").map(String.init)
        for field in Self.textValued { self[keyPath: field.keyPath] = value(field.index) }
        bytesReceived = try Self.number(tokens[7], field: "bytes received") ?? 0
        bytesSent = try Self.number(tokens[8], field: "bytes sent") ?? 0
        duration = try Self.number(tokens[9], field: "duration")
    }

    /// Istio's JSON access-log keys (`accessLogEncoding: JSON`).
    init(jsonLine line: String) throws(AccessLogError) {
        let object: JSONValue
        do {
            object = try JSONValue.parse(line)
        } catch {
            throw AccessLogError(column: error.column, problem: "not a JSON access-log line: \(error.message)")
        }
        guard object.object != nil else { throw AccessLogError(column: 1, problem: "a JSON access-log line must be an object") }
        func text(_ key: String) -> String {
            guard let value = object[key] else { return "" }
            if let string = value.string { return string == "-" ? "" : string }
            return value.isNull ? "" : value.serialized
        }
        func number(_ key: String) -> Int? { object[key]?.int ?? Int(text(key)) }
        startTime = text("start_time")
        method = text("method")
        path = text("path")
        httpProtocol = text("protocol")
        responseCode = number("response_code") ?? 0
        responseFlags = text("response_flags").isEmpty ? [] : text("response_flags").split(separator: ",").map(String.init)
        for field in Self.textValued { self[keyPath: field.keyPath] = text(field.jsonKey) }
        bytesReceived = number("bytes_received") ?? 0
        bytesSent = number("bytes_sent") ?? 0
        duration = number("duration")
    }

    /// The fields that are text as they stand: their place in the text format and their key in the JSON encoding.
    nonisolated(unsafe) static let textValued: [(keyPath: WritableKeyPath<AccessLogEntry, String>, index: Int, jsonKey: String)] = [
        (\.responseCodeDetails, 4, "response_code_details"), (\.connectionTerminationDetails, 5, "connection_termination_details"),
        (\.upstreamTransportFailureReason, 6, "upstream_transport_failure_reason"), (\.upstreamServiceTime, 10, "upstream_service_time"),
        (\.forwardedFor, 11, "x_forwarded_for"), (\.userAgent, 12, "user_agent"), (\.requestID, 13, "request_id"),
        (\.authority, 14, "authority"), (\.upstreamHost, 15, "upstream_host"), (\.upstreamCluster, 16, "upstream_cluster"),
        (\.upstreamLocalAddress, 17, "upstream_local_address"), (\.downstreamLocalAddress, 18, "downstream_local_address"),
        (\.downstreamRemoteAddress, 19, "downstream_remote_address"), (\.requestedServerName, 20, "requested_server_name"),
        (\.routeName, 21, "route_name"),
    ]

    /// Whether the line looks like an access-log line at all (Envoy's own log lines in the same stream do not).
    public static func looksLikeEntry(_ line: String) -> Bool {
        let trimmed = line.trimmingTrailingNewline
        return trimmed.hasPrefix("[") || (trimmed.hasPrefix("{") && trimmed.contains("\"response_code\""))
    }

    // MARK: Tokens

    struct Token {
        var text: String
        var column: Int
        var quoted = false
        var bracketed = false
    }

    /// Splits on single spaces; `"..."` and `[...]` are one token each (Envoy replaces spaces in other values).
    static func tokens(_ line: String) throws(AccessLogError) -> [Token] {
        let characters = Array(line)
        var tokens: [Token] = []
        var index = 0
        while index < characters.count {
            if characters[index] == " " { index += 1; continue }
            let start = index
            if characters[index] == "\"" || characters[index] == "[" {
                let close: Character = characters[index] == "\"" ? "\"" : "]"
                guard let end = characters[(index + 1)...].firstIndex(of: close) else {
                    throw AccessLogError(column: start + 1, problem: "the \(close == "\"" ? "quote" : "bracket") opened here is never closed")
                }
                tokens.append(Token(text: String(characters[(index + 1)..<end]), column: start + 1,
                                    quoted: close == "\"", bracketed: close == "]"))
                index = end + 1
                if index < characters.count && characters[index] != " " {
                    throw AccessLogError(column: index + 1, problem: "a space must follow the closing \(close)")
                }
            } else {
                while index < characters.count && characters[index] != " " { index += 1 }
                tokens.append(Token(text: String(characters[start..<index]), column: start + 1))
            }
        }
        return tokens
    }

    static func number(_ token: Token, field: String) throws(AccessLogError) -> Int? {
        if token.text == "-" { return nil }
        guard let value = Int(token.text), value >= 0 else {
            throw AccessLogError(column: token.column, problem: "the \(field) \"\(token.text)\" is not a number")
        }
        return value
    }
}

/// A line that is not an access-log line of the expected format: the column and what is wrong.
public struct AccessLogError: Error, Sendable, Equatable, CustomStringConvertible {
    public var column: Int
    public var problem: String
    public var description: String { "column \(column): \(problem)" }
}

extension String {
    var trimmingTrailingNewline: String {
        var text = self
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }
}
