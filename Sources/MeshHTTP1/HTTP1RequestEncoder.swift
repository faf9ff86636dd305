import MeshNet

/// The client side of the streaming HTTP/1.1 codec, outbound: a request head, then body parts as they come, then
/// the end. A body without a Content-Length goes chunked; the parts themselves are passed on, not copied, so a
/// connection can gather framing and data into one `writev`.
public struct HTTP1RequestEncoder {
    private var chunked = false
    private var inMessage = false

    public init() {}

    /// The head, ending with the blank line. With `hasBody` and no Content-Length among the headers, the body is
    /// sent chunked and `Transfer-Encoding: chunked` is added.
    public mutating func head(_ head: HTTPRequestHead, hasBody: Bool) -> ByteBuffer {
        var out = ByteBuffer()
        encodeHead(head, hasBody: hasBody, into: &out)
        return out
    }

    /// The head written into `out`, emptied first: its storage is kept when nobody else holds it and it has room
    /// for the head and `reservingBody` more bytes, so a connection's heads can reuse one buffer. `contentLength`
    /// adds a `content-length` field after the head's own (a whole body's, sent with the head). Otherwise as `head`.
    public mutating func encodeHead(_ head: HTTPRequestHead, hasBody: Bool, contentLength: Int? = nil, into out: inout ByteBuffer,
                                    reservingBody: Int = 0) {
        precondition(!inMessage, "a request head before the previous request's end")
        inMessage = true
        var sawLength = false, sawCoding = false
        // method SP target SP HTTP/1.x CRLF, then "name: value" CRLF per field, then the blank line.
        var size = head.method.utf8.count + head.target.utf8.count + 12 + 2
        for (name, value) in head.headers {
            size += name.utf8.count + value.utf8.count + 4
            if hasBody {
                if name.utf8.count == 14 && name.caseInsensitiveEquals("Content-Length") { sawLength = true }
                if name.utf8.count == 17 && name.caseInsensitiveEquals("Transfer-Encoding") { sawCoding = true }
            }
        }
        chunked = hasBody && !sawLength && !sawCoding
        if chunked { size += 28 }
        if contentLength != nil { size += 16 + 2 + 20 }
        out.reuse(minimumCapacity: max(size + reservingBody, 256))
        out.write(reserving: size) { cursor in
            cursor.write(head.method)
            cursor.write(" " as StaticString)
            cursor.write(head.target)
            cursor.write(head.version == 10 ? " HTTP/1.0\r\n" as StaticString : " HTTP/1.1\r\n")
            for (name, value) in head.headers {
                cursor.write(name)
                cursor.write(": " as StaticString)
                cursor.write(value)
                cursor.write("\r\n" as StaticString)
            }
            if let contentLength {
                cursor.write("content-length: " as StaticString)
                cursor.writeDecimal(contentLength)
                cursor.write("\r\n" as StaticString)
            }
            cursor.write(chunked ? "Transfer-Encoding: chunked\r\n\r\n" as StaticString : "\r\n")
        }
    }

    /// A body part, framed: the buffers to send, in order (the part itself among them, uncopied).
    public func body(_ part: ByteBuffer) -> [ByteBuffer] {
        precondition(inMessage, "a body part outside a request")
        guard part.readableBytes > 0 else { return [] }
        guard chunked else { return [part] }
        return [ByteBuffer(string: String(part.readableBytes, radix: 16) + "\r\n"), part, ByteBuffer(string: "\r\n")]
    }

    /// The end of the request: the last chunk for a chunked body, nothing otherwise.
    public mutating func end() -> ByteBuffer? {
        precondition(inMessage, "a request end outside a request")
        inMessage = false
        return chunked ? ByteBuffer(string: "0\r\n\r\n") : nil
    }
}
