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
        precondition(!inMessage, "a request head before the previous request's end")
        inMessage = true
        chunked = hasBody && head.header("Content-Length") == nil && head.header("Transfer-Encoding") == nil
        var out = ByteBuffer(capacity: 64 + head.target.utf8.count + head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        out.writeString(head.method)
        out.writeString(" ")
        out.writeString(head.target)
        out.writeString(head.version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")
        for (name, value) in head.headers {
            out.writeString(name)
            out.writeString(": ")
            out.writeString(value)
            out.writeString("\r\n")
        }
        out.writeString(chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "\r\n")
        return out
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
