import MeshNet

/// An HTTP/2 error code (RFC 9113 section 7), as sent in RST_STREAM and GOAWAY.
public struct HTTP2ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let noError = Self(rawValue: 0x0)
    public static let protocolError = Self(rawValue: 0x1)
    public static let internalError = Self(rawValue: 0x2)
    public static let flowControlError = Self(rawValue: 0x3)
    public static let settingsTimeout = Self(rawValue: 0x4)
    public static let streamClosed = Self(rawValue: 0x5)
    public static let frameSizeError = Self(rawValue: 0x6)
    public static let refusedStream = Self(rawValue: 0x7)
    public static let cancel = Self(rawValue: 0x8)
    public static let compressionError = Self(rawValue: 0x9)
    public static let connectError = Self(rawValue: 0xa)
    public static let enhanceYourCalm = Self(rawValue: 0xb)
    public static let inadequateSecurity = Self(rawValue: 0xc)
    public static let http11Required = Self(rawValue: 0xd)

    public var description: String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
                     "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
                     "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return rawValue < names.count ? names[Int(rawValue)] : "error 0x\(String(rawValue, radix: 16))"
    }
}

/// A protocol violation: for the whole connection (answered with GOAWAY) when `streamID` is nil, else for one
/// stream (answered with RST_STREAM).
public struct HTTP2Error: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: HTTP2ErrorCode
    public var streamID: UInt32?
    public var reason: String

    public static func connection(_ code: HTTP2ErrorCode, _ reason: String) -> Self { Self(code: code, streamID: nil, reason: reason) }
    public static func stream(_ id: UInt32, _ code: HTTP2ErrorCode, _ reason: String) -> Self { Self(code: code, streamID: id, reason: reason) }

    public var description: String {
        streamID.map { "stream \($0): \(code): \(reason)" } ?? "connection: \(code): \(reason)"
    }
}

/// A SETTINGS parameter (RFC 9113 section 6.5.2).
public struct HTTP2Setting: Equatable, Sendable {
    public struct Identifier: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let headerTableSize = Self(rawValue: 0x1)
        public static let enablePush = Self(rawValue: 0x2)
        public static let maxConcurrentStreams = Self(rawValue: 0x3)
        public static let initialWindowSize = Self(rawValue: 0x4)
        public static let maxFrameSize = Self(rawValue: 0x5)
        public static let maxHeaderListSize = Self(rawValue: 0x6)
    }

    public var identifier: Identifier
    public var value: UInt32

    public init(_ identifier: Identifier, _ value: UInt32) {
        self.identifier = identifier
        self.value = value
    }
}

/// One HTTP/2 frame (RFC 9113 sections 4 and 6).
public struct HTTP2Frame: Equatable, Sendable {
    public var streamID: UInt32
    public var payload: Payload

    public init(streamID: UInt32, payload: Payload) {
        self.streamID = streamID
        self.payload = payload
    }

    /// The frame types' contents. Header block fragments stay encoded: HPACK state belongs to the connection.
    public enum Payload: Equatable, Sendable {
        /// `paddingLength` nil: not padded; n: n padding bytes (plus the length byte) count against flow control.
        case data(ByteBuffer, endStream: Bool, paddingLength: Int? = nil)
        case headers(HeadersPayload)
        case priority(Priority)
        case rstStream(HTTP2ErrorCode)
        case settings([HTTP2Setting], ack: Bool)
        case pushPromise(promisedStreamID: UInt32, fragment: ByteBuffer, endHeaders: Bool, paddingLength: Int? = nil)
        case ping(opaque: UInt64, ack: Bool)
        case goAway(lastStreamID: UInt32, code: HTTP2ErrorCode, debugData: ByteBuffer)
        case windowUpdate(increment: UInt32)
        case continuation(fragment: ByteBuffer, endHeaders: Bool)
        /// A type this side does not know: ignored, as RFC 9113 section 4.1 says.
        case unknown(type: UInt8, flags: UInt8, payload: ByteBuffer)
    }

    public struct HeadersPayload: Equatable, Sendable {
        public var fragment: ByteBuffer
        public var endStream: Bool
        public var endHeaders: Bool
        public var priority: Priority?
        public var paddingLength: Int?

        public init(fragment: ByteBuffer, endStream: Bool, endHeaders: Bool = true, priority: Priority? = nil, paddingLength: Int? = nil) {
            self.fragment = fragment
            self.endStream = endStream
            self.endHeaders = endHeaders
            self.priority = priority
            self.paddingLength = paddingLength
        }
    }

    /// RFC 7540's priority fields, still on the wire (RFC 9113 deprecates their meaning; they are parsed and ignored).
    public struct Priority: Equatable, Sendable {
        public var exclusive: Bool
        public var dependency: UInt32
        public var weight: UInt8

        public init(exclusive: Bool, dependency: UInt32, weight: UInt8) {
            self.exclusive = exclusive
            self.dependency = dependency
            self.weight = weight
        }
    }

    /// Bytes this frame counts against flow-control windows: a DATA frame's whole payload, padding included.
    public var flowControlledLength: Int {
        guard case .data(let data, _, let padding) = payload else { return 0 }
        return data.readableBytes + (padding.map { $0 + 1 } ?? 0)
    }
}

/// Frame type codes and flag bits.
enum FrameType {
    static let data: UInt8 = 0x0, headers: UInt8 = 0x1, priority: UInt8 = 0x2, rstStream: UInt8 = 0x3, settings: UInt8 = 0x4
    static let pushPromise: UInt8 = 0x5, ping: UInt8 = 0x6, goAway: UInt8 = 0x7, windowUpdate: UInt8 = 0x8, continuation: UInt8 = 0x9
}

enum FrameFlag {
    static let endStream: UInt8 = 0x1, ack: UInt8 = 0x1, endHeaders: UInt8 = 0x4, padded: UInt8 = 0x8, priority: UInt8 = 0x20
}

/// The 24 bytes a client sends before its first frame.
public enum HTTP2Preface {
    public static let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
}
