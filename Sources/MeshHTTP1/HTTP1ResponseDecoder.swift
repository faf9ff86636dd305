import MeshNet

/// The client side of the streaming HTTP/1.1 codec: reads responses from a connection's bytes as they arrive, as
/// a head, body parts (slices of what was read: no whole-body buffering) and an end. Heads with a bare LF, a bare
/// CR, a NUL or an obs-fold line are refused (RFC 9112 sections 2.2 and 5.2), and the search for a head's end
/// resumes where the last read left it.
public struct HTTP1ResponseDecoder {
    /// One piece of a response.
    public enum Part: Equatable {
        case head(HTTPResponseHead)
        case body(ByteBuffer)
        /// The response is complete; the next bytes belong to the next one.
        case end
    }

    public let maxHeadBytes: Int
    private var buffer = ByteBuffer()
    /// Bytes after the reader index already searched for the head's end.
    private var scanned = 0
    private var body: HTTP1BodyDecoder?
    /// Whether each request sent and not yet answered was a HEAD (its answer has no body), oldest first.
    private var headRequests: [Bool] = []

    public init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Bytes read and not yet returned as parts.
    public var bufferedBytes: Int { buffer.readableBytes }

    /// Tells the decoder a request went out, so it knows which answers have no body (those to HEAD).
    public mutating func requestSent(method: String) {
        headRequests.append(method == "HEAD")
    }

    /// Bytes from the connection. A buffer that arrives while nothing is pending is kept as it is (no copy).
    public mutating func feed(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeBuffer(bytes) }
    }

    /// Takes the bytes read past the last part (a connection that stops speaking HTTP after a 101).
    public mutating func takeBuffered() -> ByteBuffer {
        let rest = buffer
        buffer = ByteBuffer()
        body = nil
        scanned = 0
        return rest
    }

    /// The next part, or nil until more bytes arrive.
    public mutating func next() throws(HTTP1CodecError) -> Part? {
        if body != nil {
            switch try body!.next(from: &buffer) {
            case .needMore: return nil
            case .body(let part): return .body(part)
            case .end:
                body = nil
                return .end
            }
        }
        guard let headLength = try findHeadEnd() else { return nil }
        let parsed = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(HTTP1CodecError) in try Self.parseHead(UnsafeRawBufferPointer(rebasing: bytes[..<headLength])) }
        }
        let head = try parsed.get()
        buffer.moveReaderIndex(forwardBy: headLength + 4)
        scanned = 0
        if (100..<200).contains(head.status) && head.status != 101 {
            return .head(head)  // interim: the final response follows, for the same request
        }
        let answersHEAD = headRequests.isEmpty ? false : headRequests.removeFirst()
        body = HTTP1BodyDecoder(try Self.framing(of: head, answersHEAD: answersHEAD))
        return .head(head)
    }

    /// The connection closed: ends a body that runs until close; nil when no response was under way; an error
    /// when one was cut short.
    public mutating func finishAtClose() throws(HTTP1CodecError) -> Part? {
        if body != nil {
            _ = try body!.finishAtClose()
            body = nil
            return .end
        }
        guard buffer.readableBytes == 0 else { throw HTTP1CodecError("the connection closed in the middle of a response head") }
        return nil
    }

    /// The length of the head before its CRLF CRLF, or nil while it is incomplete.
    private mutating func findHeadEnd() throws(HTTP1CodecError) -> Int? {
        let scan = buffer.withUnsafeReadableBytes { HeadSyntax.scanHead($0, from: scanned) }
        switch scan {
        case .end(let length):
            return length
        case .invalid(let byte):
            throw HTTP1CodecError(byte.reason(in: "response"))
        case .incomplete(let resumeAt):
            scanned = resumeAt
            if buffer.readableBytes > maxHeadBytes { throw HTTP1CodecError("response head is larger than \(maxHeadBytes) bytes") }
            return nil
        }
    }

    private static func parseHead(_ bytes: UnsafeRawBufferPointer) throws(HTTP1CodecError) -> HTTPResponseHead {
        var lines = HeadSyntax.Lines(bytes)
        guard let statusLine = lines.next() else { throw HTTP1CodecError("empty response head") }
        // HTTP-version SP 3DIGIT SP [reason]
        let version: Int
        if statusLine.starts(with: "HTTP/1.1 ".utf8) {
            version = 11
        } else if statusLine.starts(with: "HTTP/1.0 ".utf8) {
            version = 10
        } else {
            throw HTTP1CodecError("not an HTTP/1.x status line: \(String(decoding: statusLine.prefix(40), as: UTF8.self))")
        }
        let code = statusLine.dropFirst(9).prefix(3)
        guard code.count == 3, code.allSatisfy({ (48...57).contains($0) }),
              statusLine.count == 12 || statusLine[statusLine.startIndex + 12] == HeadSyntax.space else {
            throw HTTP1CodecError("bad status code in \(String(decoding: statusLine, as: UTF8.self))")
        }
        let status = code.reduce(0) { $0 * 10 + Int($1 - 48) }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(8)
        while let line = lines.next() {
            guard let field = HeadSyntax.field(line) else {
                throw HTTP1CodecError("malformed header line \(String(decoding: line.prefix(60), as: UTF8.self))")
            }
            headers.append((HeadSyntax.commonString(UnsafeRawBufferPointer(rebasing: field.name)), String(decoding: field.value, as: UTF8.self)))
        }
        return HTTPResponseHead(status: status, reason: String(decoding: statusLine.dropFirst(13), as: UTF8.self), version: version, headers: headers)
    }

    /// The common answer's framing read without building anything: exactly one `Content-Length` of plain digits
    /// and no `Transfer-Encoding`. Nil sends every other case through the full reading below.
    private static func singleContentLength(_ head: HTTPResponseHead) -> Int? {
        var length: Int?
        for header in head.headers {
            if header.name.caseInsensitiveEquals("Transfer-Encoding") { return nil }
            guard header.name.caseInsensitiveEquals("Content-Length") else { continue }
            guard length == nil else { return nil }
            var value = 0, digits = 0
            for byte in header.value.utf8 {
                guard byte >= 48 && byte <= 57, digits < 18 else { return nil }
                value = value * 10 + Int(byte - 48)
                digits += 1
            }
            guard digits > 0 else { return nil }
            length = value
        }
        return length
    }

    /// RFC 9112 section 6.3, in its order: no body for HEAD, 1xx, 204 and 304; chunked when the last coding is;
    /// otherwise Content-Length (one value, even if repeated); otherwise until the connection closes.
    private static func framing(of head: HTTPResponseHead, answersHEAD: Bool) throws(HTTP1CodecError) -> HTTP1BodyDecoder.Framing {
        if answersHEAD || head.status == 204 || head.status == 304 || (100..<200).contains(head.status) { return .none }
        if let length = singleContentLength(head) { return .length(length) }
        let codings = head.headers.filter { $0.name.caseInsensitiveEquals("Transfer-Encoding") }
            .flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: " \t") } }
        if !codings.isEmpty { return codings.last == "chunked" ? .chunked : .untilClose }
        let lengths = Set(head.headers.filter { $0.name.caseInsensitiveEquals("Content-Length") }
            .flatMap { $0.value.split(separator: ",").map { $0.trimmingCharacters(in: " \t") } })
        guard let text = lengths.first else { return .untilClose }
        guard lengths.count == 1, !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let length = Int(text) else {
            throw HTTP1CodecError("bad Content-Length \(lengths.sorted().joined(separator: ", "))")
        }
        return .length(length)
    }
}
