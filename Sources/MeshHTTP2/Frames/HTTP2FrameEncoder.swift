import MeshNet

/// Writes frames in wire format (RFC 9113 section 4.1).
public enum HTTP2FrameEncoder {
    /// Appends `frame` to `out`.
    public static func encode(_ frame: HTTP2Frame, into out: inout ByteBuffer) {
        let id = frame.streamID
        switch frame.payload {
        case .data(let data, let endStream, let padding):
            writePadded(type: FrameType.data, flags: endStream ? FrameFlag.endStream : 0, streamID: id, padding: padding,
                        prefix: [], body: data, into: &out)
        case .headers(let headers):
            var flags: UInt8 = 0
            if headers.endStream { flags |= FrameFlag.endStream }
            if headers.endHeaders { flags |= FrameFlag.endHeaders }
            var prefix: [UInt8] = []
            if let priority = headers.priority {
                flags |= FrameFlag.priority
                prefix = priorityBytes(priority)
            }
            writePadded(type: FrameType.headers, flags: flags, streamID: id, padding: headers.paddingLength, prefix: prefix,
                        body: headers.fragment, into: &out)
        case .priority(let priority):
            writeHeader(length: 5, type: FrameType.priority, flags: 0, streamID: id, into: &out)
            out.writeBytes(priorityBytes(priority))
        case .rstStream(let code):
            writeHeader(length: 4, type: FrameType.rstStream, flags: 0, streamID: id, into: &out)
            writeUInt32(code.rawValue, into: &out)
        case .settings(let settings, let ack):
            writeHeader(length: settings.count * 6, type: FrameType.settings, flags: ack ? FrameFlag.ack : 0, streamID: id, into: &out)
            for setting in settings {
                out.writeBytes([UInt8(setting.identifier.rawValue >> 8), UInt8(truncatingIfNeeded: setting.identifier.rawValue)])
                writeUInt32(setting.value, into: &out)
            }
        case .pushPromise(let promised, let fragment, let endHeaders, let padding):
            var prefix: [UInt8] = []
            appendUInt32(promised & 0x7fff_ffff, to: &prefix)
            writePadded(type: FrameType.pushPromise, flags: endHeaders ? FrameFlag.endHeaders : 0, streamID: id, padding: padding,
                        prefix: prefix, body: fragment, into: &out)
        case .ping(let opaque, let ack):
            writeHeader(length: 8, type: FrameType.ping, flags: ack ? FrameFlag.ack : 0, streamID: id, into: &out)
            writeUInt32(UInt32(truncatingIfNeeded: opaque >> 32), into: &out)
            writeUInt32(UInt32(truncatingIfNeeded: opaque), into: &out)
        case .goAway(let last, let code, let debug):
            writeHeader(length: 8 + debug.readableBytes, type: FrameType.goAway, flags: 0, streamID: id, into: &out)
            writeUInt32(last & 0x7fff_ffff, into: &out)
            writeUInt32(code.rawValue, into: &out)
            out.writeBuffer(debug)
        case .windowUpdate(let increment):
            writeHeader(length: 4, type: FrameType.windowUpdate, flags: 0, streamID: id, into: &out)
            writeUInt32(increment & 0x7fff_ffff, into: &out)
        case .continuation(let fragment, let endHeaders):
            writeHeader(length: fragment.readableBytes, type: FrameType.continuation, flags: endHeaders ? FrameFlag.endHeaders : 0,
                        streamID: id, into: &out)
            out.writeBuffer(fragment)
        case .unknown(let type, let flags, let payload):
            writeHeader(length: payload.readableBytes, type: type, flags: flags, streamID: id, into: &out)
            out.writeBuffer(payload)
        }
    }

    public static func encode(_ frame: HTTP2Frame) -> ByteBuffer {
        var out = ByteBuffer(capacity: 9 + 64)
        encode(frame, into: &out)
        return out
    }

    /// The 9-byte frame header.
    static func writeHeader(length: Int, type: UInt8, flags: UInt8, streamID: UInt32, into out: inout ByteBuffer) {
        out.writeBytes([UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
                        type, flags])
        writeUInt32(streamID & 0x7fff_ffff, into: &out)
    }

    private static func writePadded(type: UInt8, flags: UInt8, streamID: UInt32, padding: Int?, prefix: [UInt8], body: ByteBuffer,
                                    into out: inout ByteBuffer) {
        var flags = flags
        var length = prefix.count + body.readableBytes
        if let padding {
            flags |= FrameFlag.padded
            length += padding + 1
        }
        writeHeader(length: length, type: type, flags: flags, streamID: streamID, into: &out)
        if let padding { out.writeBytes([UInt8(padding)]) }
        out.writeBytes(prefix)
        out.writeBuffer(body)
        if let padding, padding > 0 { out.writeBytes(repeatElement(UInt8(0), count: padding)) }
    }

    private static func priorityBytes(_ priority: HTTP2Frame.Priority) -> [UInt8] {
        var bytes: [UInt8] = []
        appendUInt32((priority.dependency & 0x7fff_ffff) | (priority.exclusive ? 0x8000_0000 : 0), to: &bytes)
        bytes.append(priority.weight)
        return bytes
    }

    private static func writeUInt32(_ value: UInt32, into out: inout ByteBuffer) {
        out.writeBytes([UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }

    private static func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }
}
