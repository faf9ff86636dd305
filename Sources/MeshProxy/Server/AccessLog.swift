import Foundation

/// An access log line format: Envoy's text format with `%COMMAND%` operators, parsed once.
public struct AccessLogFormat: Sendable {
    enum Piece: Sendable {
        case text(String)
        case startTime
        case requestHeader(String, fallback: String?)
        case responseHeader(String)
        case field(Field)
    }

    enum Field: String, Sendable, CaseIterable {
        case protocolName = "PROTOCOL", responseCode = "RESPONSE_CODE", responseFlags = "RESPONSE_FLAGS"
        case responseCodeDetails = "RESPONSE_CODE_DETAILS", connectionTerminationDetails = "CONNECTION_TERMINATION_DETAILS"
        case upstreamTransportFailureReason = "UPSTREAM_TRANSPORT_FAILURE_REASON", bytesReceived = "BYTES_RECEIVED", bytesSent = "BYTES_SENT"
        case duration = "DURATION", upstreamHost = "UPSTREAM_HOST", upstreamCluster = "UPSTREAM_CLUSTER", upstreamClusterRaw = "UPSTREAM_CLUSTER_RAW"
        case upstreamLocalAddress = "UPSTREAM_LOCAL_ADDRESS", downstreamLocalAddress = "DOWNSTREAM_LOCAL_ADDRESS"
        case downstreamRemoteAddress = "DOWNSTREAM_REMOTE_ADDRESS", requestedServerName = "REQUESTED_SERVER_NAME", routeName = "ROUTE_NAME"
        case downstreamPeerURISAN = "DOWNSTREAM_PEER_URI_SAN"
    }

    let pieces: [Piece]

    /// Envoy's default format, used when a file access log names none.
    public static let envoyDefault = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n"

    /// Parses a format; the error names the operator the proxy does not know.
    public init(_ format: String) throws(AccessLogFormatError) {
        var pieces: [Piece] = []
        var text = ""
        var rest = Substring(format)
        while let start = rest.firstIndex(of: "%") {
            text += rest[..<start]
            let after = rest[rest.index(after: start)...]
            guard let end = after.firstIndex(of: "%") else { throw AccessLogFormatError(operator: String(rest[start...])) }
            let command = String(after[..<end])
            rest = after[after.index(after: end)...]
            if command.isEmpty { text += "%"; continue }
            if !text.isEmpty { pieces.append(.text(text)); text = "" }
            pieces.append(try Self.piece(command))
        }
        text += rest
        if !text.isEmpty { pieces.append(.text(text)) }
        self.pieces = pieces
    }

    private static func piece(_ command: String) throws(AccessLogFormatError) -> Piece {
        if command == "START_TIME" { return .startTime }
        if let field = Field(rawValue: command) { return .field(field) }
        func argument(_ name: String) -> String? {
            guard command.hasPrefix(name + "("), let close = command.lastIndex(of: ")") else { return nil }
            return String(command[command.index(command.startIndex, offsetBy: name.count + 1)..<close])
        }
        if let header = argument("REQ") {
            let parts = header.split(separator: "?", maxSplits: 1).map { $0.lowercased() }
            return .requestHeader(parts[0], fallback: parts.count > 1 ? parts[1] : nil)
        }
        if let header = argument("RESP") { return .responseHeader(header.lowercased()) }
        throw AccessLogFormatError(operator: "%\(command)%")
    }

    /// The line for one finished exchange.
    public func render(_ entry: AccessLogEntry) -> String {
        var line = ""
        for piece in pieces {
            switch piece {
            case .text(let text): line += text
            case .startTime: line += Self.timestamp(entry.startTime)
            case .requestHeader(let name, let fallback):
                line += entry.requestHeader(name) ?? fallback.flatMap(entry.requestHeader) ?? "-"
            case .responseHeader(let name):
                line += entry.responseHeaders.first { $0.name.lowercased() == name }?.value ?? "-"
            case .field(let field): line += value(field, entry)
            }
        }
        return line
    }

    private func value(_ field: Field, _ entry: AccessLogEntry) -> String {
        func dash(_ text: String?) -> String { text.map { $0.isEmpty ? "-" : $0 } ?? "-" }
        switch field {
        case .protocolName: return entry.protocolName ?? "-"
        case .responseCode: return String(entry.responseCode)
        case .responseFlags: return entry.flags.isEmpty ? "-" : entry.flags.map(\.rawValue).joined(separator: ",")
        case .responseCodeDetails: return dash(entry.details?.replacingOccurrences(of: " ", with: "_"))
        case .connectionTerminationDetails: return dash(entry.connectionTerminationDetails)
        case .upstreamTransportFailureReason: return dash(entry.transportFailureReason?.replacingOccurrences(of: " ", with: "_"))
        case .bytesReceived: return String(entry.bytesReceived)
        case .bytesSent: return String(entry.bytesSent)
        case .duration: return String(Int(entry.duration * 1000))
        case .upstreamHost: return dash(entry.upstreamHost)
        case .upstreamCluster, .upstreamClusterRaw: return dash(entry.upstreamCluster)
        case .upstreamLocalAddress: return dash(entry.upstreamLocalAddress)
        case .downstreamLocalAddress: return dash(entry.downstreamLocalAddress)
        case .downstreamRemoteAddress: return dash(entry.downstreamRemoteAddress)
        case .requestedServerName: return dash(entry.requestedServerName)
        case .downstreamPeerURISAN: return dash(entry.downstreamPeerURISAN)
        case .routeName: return dash(entry.routeName)
        }
    }

    /// `2026-11-27T16:41:52.176Z`: UTC with milliseconds, as Envoy's `%START_TIME%`.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = milliseconds % 1000
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }
}

public struct AccessLogFormatError: Error, Sendable, CustomStringConvertible {
    public let `operator`: String
    public var description: String { "\(`operator`) is not an access log operator meshctl's proxy supports" }
}

/// Envoy's response flags (`%RESPONSE_FLAGS%`), in the order Envoy prints them.
public enum ResponseFlag: String, Sendable, CaseIterable, Comparable {
    case failedLocalHealthCheck = "LH", noHealthyUpstream = "UH", upstreamRequestTimeout = "UT", localReset = "LR"
    case upstreamRemoteReset = "UR", upstreamConnectionFailure = "UF", upstreamConnectionTermination = "UC"
    case upstreamOverflow = "UO", noRouteFound = "NR", delayInjected = "DI", faultInjected = "FI", rateLimited = "RL"
    case upstreamRetryLimitExceeded = "URX", noClusterFound = "NC", downstreamConnectionTermination = "DC"
    case streamIdleTimeout = "SI", dropOverload = "DO", unconditionalDropOverload = "UDO", downstreamProtocolError = "DPE"

    private static let order: [ResponseFlag] = allCases
    public static func < (a: ResponseFlag, b: ResponseFlag) -> Bool {
        // Envoy prints the retry limit before the failure that ended it (`URX,UF`).
        let rank: [ResponseFlag: Int] = [.upstreamRetryLimitExceeded: -1]
        return (rank[a] ?? order.firstIndex(of: a)!) < (rank[b] ?? order.firstIndex(of: b)!)
    }
}

/// What one exchange leaves for the access log.
public struct AccessLogEntry: Sendable {
    public var startTime = Date()
    public var requestHeaders: [(name: String, value: String)] = []
    /// The `x-request-id` the proxy made for a request that came without one (read as if it were among `requestHeaders`).
    public var madeRequestID: String?
    public var method: String?
    public var path: String?
    public var authority: String?
    public var protocolName: String?
    public var responseCode = 0
    public var responseHeaders: [(name: String, value: String)] = []
    /// The answer's trailers (HTTP/2 hosts), where a gRPC answer's `grpc-status` usually is.
    public var responseTrailers: [(name: String, value: String)] = []
    public var flags: [ResponseFlag] = []
    public var details: String?
    /// Why the proxy closed the connection (`rbac_access_denied_matched_policy[...]` from the network RBAC filter).
    public var connectionTerminationDetails: String?
    public var transportFailureReason: String?
    public var bytesReceived = 0
    public var bytesSent = 0
    public var duration: Double = 0
    public var upstreamHost: String?
    public var upstreamCluster: String?
    public var upstreamLocalAddress: String?
    public var downstreamLocalAddress: String?
    public var downstreamRemoteAddress: String?
    /// The SNI a TLS client asked for.
    public var requestedServerName: String?
    /// The client certificate's first URI SAN (its SPIFFE identity).
    public var downstreamPeerURISAN: String?
    public var routeName: String?

    public init() {}

    func requestHeader(_ name: String) -> String? {
        switch name {
        case ":method": return method
        case ":path": return path
        case ":authority": return authority
        default:
            if let value = requestHeaders.first(where: { $0.name.lowercased() == name })?.value { return value }
            return name == "x-request-id" ? madeRequestID : nil
        }
    }

    mutating func add(_ flag: ResponseFlag) {
        guard !flags.contains(flag) else { return }
        flags.append(flag)
        flags.sort()
    }
}

/// Appends lines to access log files, one writer per path shared by every loop.
public final class AccessLogWriter: @unchecked Sendable {
    private let lock = NSLock()
    private var handles: [String: FileHandle] = [:]

    public init() {}

    public func write(_ line: String, to path: String) {
        lock.lock(); defer { lock.unlock() }
        let handle: FileHandle
        if let open = handles[path] {
            handle = open
        } else {
            // O_APPEND instead of a seek: the path may be a pipe (`/dev/stdout` of a sidecar whose output the
            // kubelet reads), where a seek fails, and every write lands at the end even when other proxies (or
            // Envoy standing in for a sidecar) append to the same file.
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return }
            let opened = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            handles[path] = opened
            handle = opened
        }
        // A reader that went away (a closed pipe) loses the line; it never stops the proxy.
        try? handle.write(contentsOf: Data(line.utf8))
    }

    public func close() {
        lock.lock(); defer { lock.unlock() }
        for handle in handles.values { try? handle.close() }
        handles.removeAll()
    }
}
