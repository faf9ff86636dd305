import MeshNet

/// Reads frames from bytes as they arrive, in pieces of any size, and applies the checks that need no stream
/// state (RFC 9113 sections 4 and 6): frame sizes, stream 0 rules, SETTINGS values, padding, window increments,
/// and that a header block's CONTINUATION frames follow it with nothing between.
public struct HTTP2FrameDecoder: Sendable {
    private var buffered = ByteBuffer()
    /// The largest payload accepted (this side's SETTINGS_MAX_FRAME_SIZE).
    public var maximumFrameSize: Int
    /// The stream whose header block is still open (a HEADERS or PUSH_PROMISE without END_HEADERS).
    private var continuationStream: UInt32?

    public init(maximumFrameSize: Int = 16_384) { self.maximumFrameSize = maximumFrameSize }

    /// Bytes held that do not make a whole frame yet.
    public var bufferedBytes: Int { buffered.readableBytes }

    public mutating func feed(_ bytes: ByteBuffer) {
        if buffered.readableBytes == 0 { buffered = bytes } else { buffered.writeBuffer(bytes) }
    }

    public mutating func feed(_ bytes: [UInt8]) { buffered.writeBytes(bytes) }

    /// The next whole frame, nil when more bytes are needed; throws the error the frame is, for the connection
    /// (streamID nil) or for one stream. After a connection error the decoder must not be used again.
    public mutating func next() throws(HTTP2Error) -> HTTP2Frame? {
        guard buffered.readableBytes >= 9 else { return nil }
        let header = buffered.withUnsafeReadableBytes { bytes in
            (length: Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2]), type: bytes[3], flags: bytes[4],
             streamID: (UInt32(bytes[5]) << 24 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 8 | UInt32(bytes[8])) & 0x7fff_ffff)
        }
        // Refused before its payload arrives, so a peer cannot make this side buffer 16 MiB.
        guard header.length <= maximumFrameSize else {
            throw .connection(.frameSizeError, "frame of \(header.length) bytes exceeds SETTINGS_MAX_FRAME_SIZE \(maximumFrameSize)")
        }
        guard buffered.readableBytes >= 9 + header.length else { return nil }
        buffered.moveReaderIndex(forwardBy: 9)
        let payload = buffered.readSlice(length: header.length)!
        if buffered.readableBytes == 0 { buffered = ByteBuffer() }
        if let open = continuationStream {
            guard header.type == FrameType.continuation, header.streamID == open else {
                throw .connection(.protocolError, "expected CONTINUATION on stream \(open), got frame type \(header.type) on stream \(header.streamID)")
            }
        } else if header.type == FrameType.continuation {
            throw .connection(.protocolError, "CONTINUATION on stream \(header.streamID) without an open header block")
        }
        let frame = try Self.parse(type: header.type, flags: header.flags, streamID: header.streamID, payload: payload)
        switch frame.payload {
        case .headers(let headers): continuationStream = headers.endHeaders ? nil : frame.streamID
        case .pushPromise(_, _, let endHeaders, _): continuationStream = endHeaders ? nil : frame.streamID
        case .continuation(_, let endHeaders): continuationStream = endHeaders ? nil : frame.streamID
        default: break
        }
        return frame
    }

    static func parse(type: UInt8, flags: UInt8, streamID: UInt32, payload: ByteBuffer) throws(HTTP2Error) -> HTTP2Frame {
        var payload = payload
        let length = payload.readableBytes
        func requireStream(_ name: String) throws(HTTP2Error) {
            if streamID == 0 { throw .connection(.protocolError, "\(name) frame on stream 0") }
        }
        func requireConnection(_ name: String) throws(HTTP2Error) {
            if streamID != 0 { throw .connection(.protocolError, "\(name) frame on stream \(streamID), must be stream 0") }
        }
        /// Removes the pad length byte and the padding; returns the padding length.
        func unpad(_ name: String) throws(HTTP2Error) -> Int? {
            guard flags & FrameFlag.padded != 0 else { return nil }
            guard let padLength = payload.readBytes(length: 1)?.first else { throw .connection(.frameSizeError, "padded \(name) frame without its pad length") }
            guard Int(padLength) <= payload.readableBytes else {
                throw .connection(.protocolError, "\(name) padding of \(padLength) bytes is not shorter than its payload")
            }
            payload = payload.slice(length: payload.readableBytes - Int(padLength))!
            return Int(padLength)
        }
        func readUInt32() -> UInt32 {
            let bytes = payload.readBytes(length: 4)!
            return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        }
        /// The priority fields; a HEADERS frame's are checked by the connection once its header block is decoded,
        /// so that a stream error does not skip the block and leave HPACK out of step.
        func readPriority(checkSelfDependency: Bool) throws(HTTP2Error) -> HTTP2Frame.Priority {
            guard payload.readableBytes >= 5 else { throw .connection(.frameSizeError, "priority fields cut short") }
            let word = readUInt32()
            let priority = HTTP2Frame.Priority(exclusive: word & 0x8000_0000 != 0, dependency: word & 0x7fff_ffff, weight: payload.readBytes(length: 1)![0])
            if checkSelfDependency && priority.dependency == streamID { throw .stream(streamID, .protocolError, "stream \(streamID) depends on itself") }
            return priority
        }

        switch type {
        case FrameType.data:
            try requireStream("DATA")
            let padding = try unpad("DATA")
            return HTTP2Frame(streamID: streamID, payload: .data(payload, endStream: flags & FrameFlag.endStream != 0, paddingLength: padding))
        case FrameType.headers:
            try requireStream("HEADERS")
            let padding = try unpad("HEADERS")
            let priority = flags & FrameFlag.priority != 0 ? try readPriority(checkSelfDependency: false) : nil
            return HTTP2Frame(streamID: streamID, payload: .headers(HTTP2Frame.HeadersPayload(
                fragment: payload, endStream: flags & FrameFlag.endStream != 0, endHeaders: flags & FrameFlag.endHeaders != 0,
                priority: priority, paddingLength: padding)))
        case FrameType.priority:
            try requireStream("PRIORITY")
            guard length == 5 else { throw .stream(streamID, .frameSizeError, "PRIORITY frame of \(length) bytes, must be 5") }
            return HTTP2Frame(streamID: streamID, payload: .priority(try readPriority(checkSelfDependency: true)))
        case FrameType.rstStream:
            try requireStream("RST_STREAM")
            guard length == 4 else { throw .connection(.frameSizeError, "RST_STREAM frame of \(length) bytes, must be 4") }
            return HTTP2Frame(streamID: streamID, payload: .rstStream(HTTP2ErrorCode(rawValue: readUInt32())))
        case FrameType.settings:
            try requireConnection("SETTINGS")
            let ack = flags & FrameFlag.ack != 0
            if ack && length != 0 { throw .connection(.frameSizeError, "SETTINGS acknowledgement with a \(length)-byte payload") }
            guard length % 6 == 0 else { throw .connection(.frameSizeError, "SETTINGS payload of \(length) bytes is not a multiple of 6") }
            var settings: [HTTP2Setting] = []
            while payload.readableBytes >= 6 {
                let id = payload.readBytes(length: 2)!
                let setting = HTTP2Setting(HTTP2Setting.Identifier(rawValue: UInt16(id[0]) << 8 | UInt16(id[1])), readUInt32())
                try validate(setting)
                settings.append(setting)
            }
            return HTTP2Frame(streamID: 0, payload: .settings(settings, ack: ack))
        case FrameType.pushPromise:
            try requireStream("PUSH_PROMISE")
            let padding = try unpad("PUSH_PROMISE")
            guard payload.readableBytes >= 4 else { throw .connection(.frameSizeError, "PUSH_PROMISE without its promised stream") }
            let promised = readUInt32() & 0x7fff_ffff
            return HTTP2Frame(streamID: streamID, payload: .pushPromise(promisedStreamID: promised, fragment: payload,
                                                                        endHeaders: flags & FrameFlag.endHeaders != 0, paddingLength: padding))
        case FrameType.ping:
            try requireConnection("PING")
            guard length == 8 else { throw .connection(.frameSizeError, "PING frame of \(length) bytes, must be 8") }
            let opaque = UInt64(readUInt32()) << 32 | UInt64(readUInt32())
            return HTTP2Frame(streamID: 0, payload: .ping(opaque: opaque, ack: flags & FrameFlag.ack != 0))
        case FrameType.goAway:
            try requireConnection("GOAWAY")
            guard length >= 8 else { throw .connection(.frameSizeError, "GOAWAY frame of \(length) bytes, needs at least 8") }
            let last = readUInt32() & 0x7fff_ffff
            let code = HTTP2ErrorCode(rawValue: readUInt32())
            return HTTP2Frame(streamID: 0, payload: .goAway(lastStreamID: last, code: code, debugData: payload))
        case FrameType.windowUpdate:
            guard length == 4 else { throw .connection(.frameSizeError, "WINDOW_UPDATE frame of \(length) bytes, must be 4") }
            let increment = readUInt32() & 0x7fff_ffff
            if increment == 0 {
                if streamID == 0 { throw .connection(.protocolError, "WINDOW_UPDATE with an increment of 0") }
                throw .stream(streamID, .protocolError, "WINDOW_UPDATE with an increment of 0")
            }
            return HTTP2Frame(streamID: streamID, payload: .windowUpdate(increment: increment))
        case FrameType.continuation:
            try requireStream("CONTINUATION")
            return HTTP2Frame(streamID: streamID, payload: .continuation(fragment: payload, endHeaders: flags & FrameFlag.endHeaders != 0))
        default:
            return HTTP2Frame(streamID: streamID, payload: .unknown(type: type, flags: flags, payload: payload))
        }
    }

    /// SETTINGS values RFC 9113 section 6.5.2 rules out.
    static func validate(_ setting: HTTP2Setting) throws(HTTP2Error) {
        switch setting.identifier {
        case .enablePush where setting.value > 1:
            throw .connection(.protocolError, "SETTINGS_ENABLE_PUSH of \(setting.value), must be 0 or 1")
        case .initialWindowSize where setting.value > 0x7fff_ffff:
            throw .connection(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE of \(setting.value) exceeds 2^31-1")
        case .maxFrameSize where setting.value < 16_384 || setting.value > 16_777_215:
            throw .connection(.protocolError, "SETTINGS_MAX_FRAME_SIZE of \(setting.value) is outside 16384-16777215")
        default:
            return
        }
    }
}
