import MeshNet

/// Reads HTTP/1.1 requests from a byte stream, one at a time: heads up to a size limit, bodies framed by
/// Content-Length or chunked transfer coding, and nothing ambiguous (RFC 9112 section 6.3).
/// Whole requests, body included; `HTTPServer` reads with the streaming `HTTP1RequestDecoder` instead, and new
/// code should too. Kept for the callers that take whole requests.
public struct HTTP1Parser {
    /// What the bytes so far come to.
    public enum Event: Equatable {
        case request(HTTPRequestBox)
        /// The head asked for `Expect: 100-continue` and its body is acceptable: say Continue, then send more.
        case continueExpected
        /// Not enough bytes yet.
        case needMore
        /// The request cannot be served; answer with this status and close the connection.
        case reject(status: Int, reason: String)
    }

    public let maxHeadBytes: Int
    public let maxBodyBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var head: HTTPRequest?
    private var framing: Framing = .none
    private var body: [UInt8] = []
    private var continueSent = false
    /// How far the search for the end of the current head got, so more bytes do not restart it from the front.
    private var scannedTo = 0

    private enum Framing {
        case none
        case length(Int)
        /// Chunked: the size of the chunk being read (nil while its size line is awaited), and whether the trailers began.
        case chunked(remaining: Int?, inTrailers: Bool)
    }

    public init(maxHeadBytes: Int = 64 * 1024, maxBodyBytes: Int = 3 * 1024 * 1024) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// Bytes buffered but not yet part of a returned request (the start of the next one).
    public var buffered: Int { buffer.count - start }

    /// Takes the bytes buffered past the last request (a connection that stops speaking HTTP after an upgrade).
    public mutating func takeBuffered() -> [UInt8] {
        let rest = Array(buffer[start...])
        buffer.removeAll(keepingCapacity: false)
        start = 0
        scannedTo = 0
        return rest
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) {
        dropConsumed()
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: ByteBuffer) {
        dropConsumed()
        bytes.withUnsafeReadableBytes { buffer.append(contentsOf: $0) }
    }

    /// Forgets bytes of requests already returned: all of them when nothing is left over, else once they pile up.
    private mutating func dropConsumed() {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
            scannedTo = 0
        } else if start > 65536 {
            buffer.removeFirst(start)
            scannedTo = max(0, scannedTo - start)
            start = 0
        }
    }

    /// The next event; call again after `.request` for a pipelined next request.
    public mutating func next() -> Event {
        if head == nil {
            let end: Int
            switch scanHead() {
            case .incomplete:
                return buffered > maxHeadBytes ? .reject(status: 431, reason: "request head is larger than \(maxHeadBytes) bytes") : .needMore
            case .bareLineFeed:
                // Answered at once: waiting for a CRLF that never comes would leave the client hanging until the head timeout.
                return .reject(status: 400, reason: "a line of the request head ends with a bare LF: HTTP/1.1 lines end with CRLF (\\r\\n)")
            case .bareCarriageReturn:
                return .reject(status: 400, reason: "a CR without its LF in the request head: HTTP/1.1 lines end with CRLF (\\r\\n)")
            case .nul:
                return .reject(status: 400, reason: "a NUL byte in the request head")
            case .end(let index):
                end = index
            }
            if end - start > maxHeadBytes { return .reject(status: 431, reason: "request head is larger than \(maxHeadBytes) bytes") }
            switch parseHead(buffer[start..<end]) {
            case .failure(let rejection): return .reject(status: rejection.status, reason: rejection.reason)
            case .success(let (request, framing)):
                start = end + 4
                head = request
                self.framing = framing
                body = []
                continueSent = false
                if case .length(let length) = framing, length > maxBodyBytes {
                    return .reject(status: 413, reason: "request body of \(length) bytes is larger than \(maxBodyBytes)")
                }
            }
        }
        switch readBody() {
        case .some(let rejection): return .reject(status: rejection.status, reason: rejection.reason)
        case .none: break
        }
        guard var request = head else { return .needMore }
        if isBodyComplete {
            request.body = body
            head = nil
            framing = .none
            body = []
            return .request(HTTPRequestBox(request))
        }
        if !continueSent, request.header("Expect")?.lowercased() == "100-continue" {
            continueSent = true
            return .continueExpected
        }
        return .needMore
    }

    private var isBodyComplete: Bool {
        switch framing {
        case .none: return true
        case .length(let length): return body.count == length
        case .chunked: return false
        }
    }

    private enum HeadScan { case end(Int), bareLineFeed, bareCarriageReturn, nul, incomplete }

    /// Where the head ends (the index of its closing CRLF CRLF), or the first byte a head must not have: an LF
    /// without its CR, a CR without its LF, a NUL (RFC 9112 section 2.2: each can split or hide a field).
    private mutating func scanHead() -> HeadScan {
        // Resume three bytes back: the end (CRLF CRLF) may straddle what was scanned and what is new.
        var index = max(start, scannedTo - 3)
        defer { scannedTo = index }
        while index < buffer.count {
            switch buffer[index] {
            case 10:
                guard index > start, buffer[index - 1] == 13 else { return .bareLineFeed }
                if index - start >= 3, buffer[index - 2] == 10, buffer[index - 3] == 13 { return .end(index - 3) }
            case 13:
                if index + 1 < buffer.count && buffer[index + 1] != 10 { return .bareCarriageReturn }
            case 0:
                return .nul
            default:
                break
            }
            index += 1
        }
        return .incomplete
    }

    private struct Rejection: Error { let status: Int; let reason: String }

    /// Reads the request line and headers straight from the bytes (a String per field, none for the whole head).
    private func parseHead(_ bytes: ArraySlice<UInt8>) -> Result<(HTTPRequest, Framing), Rejection> {
        var lines = HeadSyntax.Lines(bytes)
        // Tolerate blank lines before the request line (RFC 9112 section 2.2).
        var first = lines.next()
        while first?.isEmpty == true { first = lines.next() }
        guard let requestLine = first else { return .failure(Rejection(status: 400, reason: "empty request")) }
        let space = HeadSyntax.space
        guard let firstSpace = requestLine.firstIndex(of: space), firstSpace > requestLine.startIndex,
              let secondSpace = requestLine[(firstSpace + 1)...].firstIndex(of: space), secondSpace > firstSpace + 1,
              !requestLine[(secondSpace + 1)...].contains(space) else {
            return .failure(Rejection(status: 400, reason: "malformed request line"))
        }
        let versionBytes = requestLine[(secondSpace + 1)...]
        let version: Int
        if versionBytes.elementsEqual("HTTP/1.1".utf8) {
            version = 11
        } else if versionBytes.elementsEqual("HTTP/1.0".utf8) {
            version = 10
        } else {
            return .failure(Rejection(status: 505, reason: "unsupported protocol \(String(decoding: versionBytes, as: UTF8.self))"))
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(8)
        var lengths: Set<String> = [], encodings: [String] = []
        while let line = lines.next() {
            guard let (name, value) = HeadSyntax.field(line) else {
                return .failure(Rejection(status: 400, reason: "malformed header line"))
            }
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            if HeadSyntax.equalsIgnoringCase(name, "content-length") {
                for item in headers[headers.count - 1].value.split(separator: ",") { lengths.insert(item.trimmingCharacters(in: " \t")) }
            } else if HeadSyntax.equalsIgnoringCase(name, "transfer-encoding") {
                encodings.append(headers[headers.count - 1].value.lowercased())
            }
        }
        let request = HTTPRequest(method: String(decoding: requestLine[..<firstSpace], as: UTF8.self),
                                  target: String(decoding: requestLine[(firstSpace + 1)..<secondSpace], as: UTF8.self), version: version, headers: headers)
        if !encodings.isEmpty {
            if !lengths.isEmpty { return .failure(Rejection(status: 400, reason: "both Transfer-Encoding and Content-Length")) }
            let codings = encodings.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: " \t") } }
            guard codings.last == "chunked", codings.filter({ $0 == "chunked" }).count == 1 else {
                return .failure(Rejection(status: 400, reason: "unsupported Transfer-Encoding \(encodings.joined(separator: ", "))"))
            }
            return .success((request, .chunked(remaining: nil, inTrailers: false)))
        }
        if lengths.count > 1 { return .failure(Rejection(status: 400, reason: "different Content-Length values")) }
        if let text = lengths.first {
            guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let length = Int(text) else {
                return .failure(Rejection(status: 400, reason: "bad Content-Length \(text)"))
            }
            return .success((request, length == 0 ? .none : .length(length)))
        }
        return .success((request, .none))
    }

    /// Moves body bytes from the buffer; nil unless the body is malformed or too large.
    private mutating func readBody() -> Rejection? {
        guard head != nil else { return nil }
        switch framing {
        case .none:
            return nil
        case .length(let length):
            let take = min(length - body.count, buffer.count - start)
            body.append(contentsOf: buffer[start..<start + take])
            start += take
            return nil
        case .chunked(var remaining, var inTrailers):
            while true {
                if inTrailers {
                    // Trailer lines until an empty one; their contents are dropped. A trailer line is held to the
                    // same bound as a chunk size line, so a client cannot grow the buffer without end before the head timer.
                    guard let end = lineEnd() else {
                        if buffer.count - start > 8192 { return Rejection(status: 400, reason: "trailer line too long") }
                        return nil
                    }
                    let empty = end == start
                    start = end + 2
                    if empty {
                        framing = .length(body.count)
                        return nil
                    }
                    continue
                }
                if let size = remaining {
                    if size == 0 {
                        inTrailers = true
                        framing = .chunked(remaining: 0, inTrailers: true)
                        continue
                    }
                    // Chunk data then CRLF.
                    guard buffer.count - start >= size + 2 else {
                        framing = .chunked(remaining: remaining, inTrailers: inTrailers)
                        return nil
                    }
                    guard buffer[start + size] == 13, buffer[start + size + 1] == 10 else { return Rejection(status: 400, reason: "chunk without CRLF") }
                    body.append(contentsOf: buffer[start..<start + size])
                    if body.count > maxBodyBytes { return Rejection(status: 413, reason: "request body is larger than \(maxBodyBytes) bytes") }
                    start += size + 2
                    remaining = nil
                    framing = .chunked(remaining: nil, inTrailers: false)
                    continue
                }
                guard let end = lineEnd() else {
                    if buffer.count - start > 1024 { return Rejection(status: 400, reason: "chunk size line too long") }
                    framing = .chunked(remaining: nil, inTrailers: false)
                    return nil
                }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                let sizeText = line.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: " \t") } ?? ""
                guard !sizeText.isEmpty, sizeText.count <= 15, let size = Int(sizeText, radix: 16), size >= 0 else {
                    return Rejection(status: 400, reason: "bad chunk size \(line)")
                }
                if body.count + size > maxBodyBytes { return Rejection(status: 413, reason: "request body is larger than \(maxBodyBytes) bytes") }
                start = end + 2
                remaining = size
                framing = .chunked(remaining: size, inTrailers: false)
            }
        }
    }

    private func lineEnd() -> Int? {
        var index = start
        while index + 1 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }
}

/// A request in an `Equatable` event (compared by identity of content that matters to tests: method and target).
public struct HTTPRequestBox: Equatable, @unchecked Sendable {
    public let request: HTTPRequest
    init(_ request: HTTPRequest) { self.request = request }
    public static func == (a: HTTPRequestBox, b: HTTPRequestBox) -> Bool {
        a.request.method == b.request.method && a.request.target == b.request.target && a.request.body == b.request.body
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
