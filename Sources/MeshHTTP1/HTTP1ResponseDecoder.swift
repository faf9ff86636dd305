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

    /// A part as a client's loop reads it (`nextEvent`): the head stays in the decoder until `takeHead` (a `Part?`
    /// carries the head's strings and list in a multi-payload enum, copied and destroyed through generic value
    /// witnesses; this enum has one small payload).
    public enum Event {
        case head
        case body(ByteBuffer)
        case end
        case needMore
    }

    public let maxHeadBytes: Int
    private var buffer = ByteBuffer()
    /// Bytes after the reader index already searched for the head's end.
    private var scanned = 0
    private var body: HTTP1BodyDecoder?
    /// Whether each request sent and not yet answered was a HEAD (its answer has no body), oldest first from
    /// `firstUnanswered` (entries before it are answered; the list empties when all are).
    private var headRequests: [Bool] = []
    private var firstUnanswered = 0
    /// The head `nextEvent` just read.
    private var parsedHead: HTTPResponseHead?
    /// The last head's field list, whose storage the next head reuses once nobody else holds it.
    private var spareHeaders: [(name: String, value: String)] = []
    /// Whether the last head read ends its connection after its answer: HTTP/1.0, or `Connection` lists `close`.
    public private(set) var headClosesConnection = false

    public init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Bytes read and not yet returned as parts.
    public var bufferedBytes: Int { buffer.readableBytes }

    /// Tells the decoder a request went out, so it knows which answers have no body (those to HEAD).
    public mutating func requestSent(method: String) {
        headRequests.append(method.utf8.count == 4 && method == "HEAD")
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
        switch try nextEvent() {
        case .head: return .head(takeHead())
        case .body(let part): return .body(part)
        case .end: return .end
        case .needMore: return nil
        }
    }

    /// Moves out the head of the last `.head` event (call once per head).
    public mutating func takeHead() -> HTTPResponseHead { parsedHead.take()! }

    /// `next` without the head: `.head` leaves it for `takeHead`.
    public mutating func nextEvent() throws(HTTP1CodecError) -> Event {
        if body != nil {
            switch try body!.next(from: &buffer) {
            case .needMore: return .needMore
            case .body(let part): return .body(part)
            case .end:
                body = nil
                return .end
            }
        }
        guard let headLength = try findHeadEnd() else { return .needMore }
        var fields: [(name: String, value: String)] = []
        swap(&fields, &spareHeaders)
        // `fields` holds the last head's fields: the new head's are set over them (`HeadSyntax.setField`).
        // The buffer is not touched while the head is parsed, so its bytes stay where they are.
        let (head, summary) = try Self.parseHead(UnsafeRawBufferPointer(start: buffer.readablePointer, count: headLength), fields: &fields)
        spareHeaders = fields
        buffer.moveReaderIndex(forwardBy: headLength + 4)
        scanned = 0
        headClosesConnection = head.version < 11 || summary.listsClose
        parsedHead = head
        if head.status >= 100 && head.status < 200 && head.status != 101 {
            return .head  // interim: the final response follows, for the same request
        }
        var answersHEAD = false
        if firstUnanswered < headRequests.count {
            answersHEAD = headRequests[firstUnanswered]
            firstUnanswered += 1
            if firstUnanswered == headRequests.count {
                // All answered: emptied one by one, keeping the storage for the next request.
                while !headRequests.isEmpty { headRequests.removeLast() }
                firstUnanswered = 0
            }
        }
        body = HTTP1BodyDecoder(try Self.framing(of: head, summary: summary, answersHEAD: answersHEAD))
        return .head
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

    /// What the fields said about the body and the connection, gathered while they were read.
    struct FieldSummary {
        /// The value of the one `Content-Length` when it is plain digits (nil otherwise, or with several).
        var contentLength: Int?
        var lengthFields = 0
        var transferEncoding = false
        /// The first `Connection` field holds `close` in any case (as the proxy has always read it).
        var listsClose = false
        var connectionSeen = false
    }

    /// Whether `value` holds the letters `close` in any case.
    static func containsClose(_ value: UnsafeRawBufferPointer) -> Bool {
        guard value.count >= 5 else { return false }
        let wanted: StaticString = "close"
        for start in 0...(value.count - 5) {
            var offset = 0
            while offset < 5 && value[start + offset] | 0x20 == wanted.utf8Start[offset] { offset += 1 }
            if offset == 5 { return true }
        }
        return false
    }

    /// The status line and fields, read straight from the bytes with index loops (a generic search per line cost
    /// more than the rest of the parse). The fields are gathered in `headers` (an empty list whose storage they may use).
    static func parseHead(_ bytes: UnsafeRawBufferPointer, fields headers: inout [(name: String, value: String)]) throws(HTTP1CodecError)
        -> (HTTPResponseHead, FieldSummary) {
        var lines = HeadSyntax.Lines(bytes)
        guard let statusLine = lines.next() else { throw HTTP1CodecError("empty response head") }
        // HTTP-version SP 3DIGIT SP [reason]
        let at = statusLine.startIndex, length = statusLine.count
        let isHTTP1 = length >= 9 && bytes[at] == 72 && bytes[at + 1] == 84 && bytes[at + 2] == 84 && bytes[at + 3] == 80
            && bytes[at + 4] == 47 && bytes[at + 5] == 49 && bytes[at + 6] == 46 && bytes[at + 8] == HeadSyntax.space
        let version: Int
        if isHTTP1 && bytes[at + 7] == UInt8(ascii: "1") {
            version = 11
        } else if isHTTP1 && bytes[at + 7] == UInt8(ascii: "0") {
            version = 10
        } else {
            throw HTTP1CodecError("not an HTTP/1.x status line: \(String(decoding: statusLine.prefix(40), as: UTF8.self))")
        }
        func isDigit(_ offset: Int) -> Bool { length > offset && bytes[at + offset] >= 48 && bytes[at + offset] <= 57 }
        guard isDigit(9), isDigit(10), isDigit(11), length == 12 || bytes[at + 12] == HeadSyntax.space else {
            throw HTTP1CodecError("bad status code in \(String(decoding: statusLine, as: UTF8.self))")
        }
        let status = Int(bytes[at + 9] - 48) * 100 + Int(bytes[at + 10] - 48) * 10 + Int(bytes[at + 11] - 48)
        let reason = length > 13 ? String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 13)..<statusLine.endIndex]), as: UTF8.self) : ""
        var summary = FieldSummary()
        var fieldCount = 0
        while let line = lines.next() {
            // NAME (token bytes, at least one) ":" OWS VALUE OWS; a line starting with whitespace (obs-fold) has no
            // token before its colon.
            var colon = line.startIndex
            var nameIsToken = true
            while colon < line.endIndex && bytes[colon] != HeadSyntax.colon {
                if !HeadSyntax.isTokenByte(bytes[colon]) { nameIsToken = false }
                colon += 1
            }
            guard nameIsToken, colon < line.endIndex, colon > line.startIndex else {
                throw HTTP1CodecError("malformed header line \(String(decoding: line.prefix(60), as: UTF8.self))")
            }
            var valueStart = colon + 1, valueEnd = line.endIndex
            while valueStart < valueEnd && (bytes[valueStart] == HeadSyntax.space || bytes[valueStart] == HeadSyntax.tab) { valueStart += 1 }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == HeadSyntax.space || bytes[valueEnd - 1] == HeadSyntax.tab) { valueEnd -= 1 }
            let name = UnsafeRawBufferPointer(rebasing: bytes[line.startIndex..<colon])
            let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
            HeadSyntax.setField(&headers, at: fieldCount, name: name, value: value)
            fieldCount += 1
            switch name.count {
            case 14 where HeadSyntax.equalsIgnoringCase(name, "content-length"):
                summary.lengthFields += 1
                var number = 0
                var digits = 0
                for byte in value {
                    guard byte >= 48 && byte <= 57, digits < 18 else { digits = -1; break }
                    number = number * 10 + Int(byte - 48)
                    digits += 1
                }
                summary.contentLength = digits > 0 && summary.lengthFields == 1 ? number : nil
            case 17 where HeadSyntax.equalsIgnoringCase(name, "transfer-encoding"):
                summary.transferEncoding = true
            case 10 where !summary.connectionSeen && HeadSyntax.equalsIgnoringCase(name, "connection"):
                summary.connectionSeen = true
                summary.listsClose = containsClose(value)
            default:
                break
            }
        }
        HeadSyntax.keepFields(&headers, count: fieldCount)
        return (HTTPResponseHead(status: status, reason: reason, version: version, headers: headers), summary)
    }

    /// RFC 9112 section 6.3, in its order: no body for HEAD, 1xx, 204 and 304; chunked when the last coding is;
    /// otherwise Content-Length (one value, even if repeated); otherwise until the connection closes. The common
    /// answer (one plain Content-Length, no Transfer-Encoding) is read from the summary without looking again.
    private static func framing(of head: HTTPResponseHead, summary: FieldSummary, answersHEAD: Bool) throws(HTTP1CodecError) -> HTTP1BodyDecoder.Framing {
        if answersHEAD || head.status == 204 || head.status == 304 || (100..<200).contains(head.status) { return .none }
        if !summary.transferEncoding, summary.lengthFields == 0 { return .untilClose }
        if !summary.transferEncoding, summary.lengthFields == 1, let length = summary.contentLength { return .length(length) }
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
