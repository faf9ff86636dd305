import MeshNet

/// The server side of the streaming HTTP/1.1 codec: reads requests from a connection's bytes as they arrive, as a
/// head, body parts (slices of what was read: no whole-body buffering) and an end; pipelined requests follow one
/// another. The search for a head's end resumes where the last read left it. Refused, with the status to answer
/// and why: a bare LF, a bare CR or a NUL in the head, an obs-fold line, Transfer-Encoding with Content-Length, two
/// Content-Lengths (400); a head over `maxHeadBytes` (431); a transfer coding other than chunked (501); a version
/// other than HTTP/1.0 and 1.1 (505). After a refusal the connection cannot be read further.
public struct HTTP1RequestDecoder {
    /// One piece of a request.
    public enum Part {
        case head(HTTPRequestHead)
        case body(ByteBuffer)
        /// The request is complete; the next bytes belong to the next one.
        case end
    }

    /// Why a request cannot be served: what is wrong (`kind`, for code that answers each differently), the status to
    /// answer (the connection closes after it) and the reason in words (which may quote the client's bytes).
    public struct Rejection: Error, Equatable, CustomStringConvertible, Sendable {
        public let kind: Kind
        public let reason: String
        public var status: Int { kind.status }
        public var description: String { "\(status) \(reason)" }
        init(_ kind: Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }
    }

    /// What a refused request got wrong.
    public enum Kind: Sendable, Equatable, CaseIterable {
        /// A NUL byte in the head.
        case nulInHead
        /// A CR without its LF or an LF without its CR in the head.
        case bareLineBreak
        /// The head is longer than `maxHeadBytes` (431).
        case headTooLarge
        /// Nothing but empty lines before the head's end.
        case emptyHead
        /// Not METHOD SP TARGET SP VERSION.
        case malformedRequestLine
        /// A version other than HTTP/1.0 and HTTP/1.1 (505).
        case unsupportedVersion
        /// A header line that starts with whitespace (obs-fold).
        case foldedHeaderLine
        /// Not NAME: VALUE, or a name that is not a token.
        case malformedHeaderLine
        /// Two Content-Length fields.
        case repeatedContentLength
        /// A Content-Length that is not one decimal number.
        case badContentLength
        /// Transfer-Encoding and Content-Length both.
        case contentLengthWithTransferEncoding
        /// A transfer coding other than chunked alone (501).
        case unsupportedTransferEncoding
        /// A chunked body whose framing cannot be read (a bad chunk size, a chunk without its CRLF, an overlong line).
        case badChunkedBody

        /// The status a server answers it with.
        public var status: Int {
            switch self {
            case .headTooLarge: return 431
            case .unsupportedVersion: return 505
            case .unsupportedTransferEncoding: return 501
            default: return 400
            }
        }
    }

    public let maxHeadBytes: Int
    private var buffer = ByteBuffer()
    /// Bytes after the reader index already searched for the head's end.
    private var scanned = 0
    private var body: HTTP1BodyDecoder?
    /// The last head's field list, whose storage the next head reuses once nobody else holds it (the request
    /// handed to a handler is usually gone by then), so a keep-alive request allocates no new list.
    private var spareHeaders: [(name: String, value: String)] = []

    public init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Bytes held that no part returned yet (a partial head, or the start of a pipelined request).
    public var buffered: Int { buffer.readableBytes }

    /// How far the search for the current head's end got (bytes from the reader index), for tests.
    var searchedTo: Int { scanned }

    /// Whether a request's body is being read (its head was returned, its end not yet).
    public var inBody: Bool { body != nil }

    /// Whether the request whose head was just returned has body bytes still to arrive.
    public var hasBodyToCome: Bool { body.map { !$0.isDone } ?? false }

    /// Takes the bytes held past the last part returned (a connection that stops speaking HTTP after an upgrade).
    public mutating func takeBuffered() -> ByteBuffer {
        let rest = buffer
        buffer = ByteBuffer()
        scanned = 0
        return rest
    }

    /// Bytes from the connection. A buffer that arrives while nothing is held is kept as it is (no copy).
    public mutating func feed(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeBuffer(bytes) }
    }

    /// The next part, or nil until more bytes arrive.
    public mutating func next() throws(Rejection) -> Part? {
        switch try nextEvent() {
        case .head: return .head(takeHead())
        case .body(let part): return .body(part)
        case .end: return .end
        case .needMore: return nil
        }
    }

    /// A part as a server's loop reads it (`nextEvent`): the head stays in the decoder until `takeHead`. A `Part?`
    /// carries the head's strings and list in a multi-payload enum, which the compiler copies and destroys through
    /// generic value witnesses (about 900 instructions a request on the hello-world server); this enum has one
    /// small payload.
    public enum Event {
        case head
        case body(ByteBuffer)
        case end
        case needMore
    }

    /// The head `nextEvent` just read.
    private var parsedHead: HTTPRequestHead?

    /// Moves out the head of the last `.head` event (call once per head).
    public mutating func takeHead() -> HTTPRequestHead { parsedHead.take()! }

    /// `next` without the head: `.head` leaves it for `takeHead`.
    public mutating func nextEvent() throws(Rejection) -> Event {
        // Between keep-alive requests: nothing to look at.
        if body == nil && buffer.readableBytes == 0 { releaseIfEmpty(); return .needMore }
        defer { releaseIfEmpty() }
        if body != nil {
            let step: HTTP1BodyDecoder.Step
            do { step = try body!.next(from: &buffer) } catch { throw Rejection(.badChunkedBody, error.description) }
            switch step {
            case .needMore: return .needMore
            case .body(let part): return .body(part)
            case .end:
                body = nil
                return .end
            }
        }
        let scan = buffer.withUnsafeReadableBytes { HeadSyntax.scanHead($0, from: scanned) }
        switch scan {
        case .invalid(let byte):
            throw Rejection(byte == .nul ? .nulInHead : .bareLineBreak, byte.reason(in: "request"))
        case .incomplete(let resumeAt):
            scanned = resumeAt
            if buffer.readableBytes > maxHeadBytes { throw Rejection(.headTooLarge, "the request head is larger than \(maxHeadBytes) bytes") }
            return .needMore
        case .end(let length):
            if length > maxHeadBytes { throw Rejection(.headTooLarge, "the request head is larger than \(maxHeadBytes) bytes") }
            var fields: [(name: String, value: String)] = []
            swap(&fields, &spareHeaders)
            // `fields` holds the last head's fields: the new head's are set over them (`HeadSyntax.setField`).
            // The buffer is not touched while the head is parsed, so its bytes stay where they are.
            let (head, framing) = try Self.parseHead(UnsafeRawBufferPointer(start: buffer.readablePointer, count: length), fields: &fields)
            spareHeaders = fields
            buffer.moveReaderIndex(forwardBy: length + 4)
            scanned = 0
            body = HTTP1BodyDecoder(framing)
            parsedHead = head
            return .head
        }
    }

    /// Lets go of the last read's storage once everything in it was handed out, so an idle connection pins no
    /// read block (the loop's shared block is then reused from its start).
    private mutating func releaseIfEmpty() {
        if buffer.readableBytes == 0 && buffer.capacity > 0 { buffer = ByteBuffer() }
    }

    /// The request line and fields, read straight from the bytes, and how the body is framed (RFC 9112 section 6).
    /// The head's fields are gathered in `fields` (an empty list whose storage they may use).
    static func parseHead(_ bytes: UnsafeRawBufferPointer, fields headers: inout [(name: String, value: String)]) throws(Rejection)
        -> (HTTPRequestHead, HTTP1BodyDecoder.Framing) {
        // Index loops over the raw bytes throughout: a generic search per line (firstIndex, contains, allSatisfy on
        // slices) cost more than the rest of the parse.
        var lines = HeadSyntax.Lines(bytes)
        // Empty lines before the request line are tolerated (RFC 9112 section 2.2).
        var first = lines.next()
        while first?.isEmpty == true { first = lines.next() }
        guard let requestLine = first else { throw Rejection(.emptyHead, "an empty request head") }
        let space = HeadSyntax.space
        let lineStart = requestLine.startIndex, lineEnd = requestLine.endIndex
        // METHOD (token bytes) SP TARGET SP VERSION, no other space.
        var firstSpace = lineStart
        var methodIsToken = true
        while firstSpace < lineEnd && bytes[firstSpace] != space {
            if !HeadSyntax.isTokenByte(bytes[firstSpace]) { methodIsToken = false }
            firstSpace += 1
        }
        var secondSpace = firstSpace + 1
        while secondSpace < lineEnd && bytes[secondSpace] != space { secondSpace += 1 }
        var thirdSpace = secondSpace + 1
        while thirdSpace < lineEnd && bytes[thirdSpace] != space { thirdSpace += 1 }
        guard methodIsToken, firstSpace > lineStart, secondSpace < lineEnd, secondSpace > firstSpace + 1, thirdSpace >= lineEnd else {
            throw Rejection(.malformedRequestLine, "a malformed request line: it must be METHOD SP TARGET SP HTTP/1.1")
        }
        let versionBytes = requestLine[(secondSpace + 1)...]
        let version: Int
        // "HTTP/1." then the minor digit, compared byte by byte (a generic comparison costs more than the parse).
        let at = versionBytes.startIndex
        let isHTTP1 = versionBytes.count == 8 && versionBytes[at] == 72 && versionBytes[at + 1] == 84 && versionBytes[at + 2] == 84
            && versionBytes[at + 3] == 80 && versionBytes[at + 4] == 47 && versionBytes[at + 5] == 49 && versionBytes[at + 6] == 46
        let minor = isHTTP1 ? versionBytes[at + 7] : nil
        if minor == UInt8(ascii: "1") {
            version = 11
        } else if minor == UInt8(ascii: "0") {
            version = 10
        } else {
            throw Rejection(.unsupportedVersion, "unsupported protocol version \(String(decoding: versionBytes.prefix(20), as: UTF8.self))")
        }
        var contentLength: Int?
        var codings: [Substring] = []
        var lengthFields = 0
        var fieldCount = 0
        while let line = lines.next() {
            if let first = line.first, first == space || first == HeadSyntax.tab {
                throw Rejection(.foldedHeaderLine, "a header line starts with whitespace (obs-fold): send each field on one line")
            }
            // NAME (token bytes, at least one) ":" OWS VALUE OWS.
            var colon = line.startIndex
            var nameIsToken = true
            while colon < line.endIndex && bytes[colon] != HeadSyntax.colon {
                if !HeadSyntax.isTokenByte(bytes[colon]) { nameIsToken = false }
                colon += 1
            }
            guard nameIsToken, colon < line.endIndex, colon > line.startIndex else {
                throw Rejection(.malformedHeaderLine, "a malformed header line: it must be NAME: VALUE, the name without spaces")
            }
            var valueStart = colon + 1, valueEnd = line.endIndex
            while valueStart < valueEnd && (bytes[valueStart] == space || bytes[valueStart] == HeadSyntax.tab) { valueStart += 1 }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == space || bytes[valueEnd - 1] == HeadSyntax.tab) { valueEnd -= 1 }
            let name = UnsafeRawBufferPointer(rebasing: bytes[line.startIndex..<colon])
            let value = bytes[valueStart..<valueEnd]
            HeadSyntax.setField(&headers, at: fieldCount, name: name, value: UnsafeRawBufferPointer(rebasing: value))
            fieldCount += 1
            if HeadSyntax.equalsIgnoringCase(name, "content-length") {
                lengthFields += 1
                guard lengthFields == 1 else { throw Rejection(.repeatedContentLength, "two Content-Length fields: send one") }
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ (48...57).contains($0) }) else {
                    throw Rejection(.badContentLength, "a bad Content-Length \(String(decoding: value.prefix(40), as: UTF8.self)): it must be one decimal number")
                }
                contentLength = value.reduce(0) { $0 * 10 + Int($1 - 48) }
            } else if HeadSyntax.equalsIgnoringCase(name, "transfer-encoding") {
                codings += headers[fieldCount - 1].value.lowercased().split(separator: ",").map { Substring($0.trimmingCharacters(in: " \t")) }
            }
        }
        HeadSyntax.keepFields(&headers, count: fieldCount)
        let head = HTTPRequestHead(method: HeadSyntax.commonString(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<firstSpace])),
                                   target: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(firstSpace + 1)..<secondSpace]), as: UTF8.self),
                                   version: version, headers: headers)
        if !codings.isEmpty {
            guard contentLength == nil else { throw Rejection(.contentLengthWithTransferEncoding, "both Transfer-Encoding and Content-Length: send one of them") }
            guard codings.last == "chunked", codings.count == 1 else {
                throw Rejection(.unsupportedTransferEncoding, "unsupported Transfer-Encoding \(codings.joined(separator: ", ")): only chunked is understood")
            }
            return (head, .chunked)
        }
        return (head, contentLength.map { .length($0) } ?? .none)
    }
}

extension HTTPRequestHead {
    /// Whether the client wants the connection kept after this exchange.
    public var keepAlive: Bool { HeadSyntax.keepsAlive(version: version, connection: header("Connection")) }
}
