import MeshNet

/// An HTTP request as the server read it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent: path and query (`/api/v1/pods?limit=500`).
    public var target: String
    /// 10 for HTTP/1.0, 11 for HTTP/1.1.
    public var version: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, version: Int = 11, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// The path before `?`, percent-decoded.
    public var path: String {
        let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return PercentEncoding.decode(raw)
    }

    /// The path's segments, each percent-decoded on its own (a `%2F` inside a segment stays inside it).
    public var pathSegments: [String] {
        let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return raw.split(separator: "/").map { PercentEncoding.decode(String($0)) }
    }

    /// Query parameters, decoded; a name given twice keeps its first value.
    public var query: [String: String] {
        guard let question = target.firstIndex(of: "?") else { return [:] }
        var result: [String: String] = [:]
        for pair in target[target.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.decode(String(parts[0]), plusIsSpace: true)
            if result[name] == nil { result[name] = parts.count > 1 ? PercentEncoding.decode(String(parts[1]), plusIsSpace: true) : "" }
        }
        return result
    }

    /// Whether the client wants the connection kept after this exchange.
    public var keepAlive: Bool { Self.keepsAlive(version: version, connection: header("Connection")) }

    /// `keepAlive` from the version and the first `Connection` value (nil without one), for a caller that found
    /// that header itself.
    public static func keepsAlive(version: Int, connection: String?) -> Bool {
        HeadSyntax.keepsAlive(version: version, connection: connection)
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String, text: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }

    /// The status line and headers, ending with the blank line.
    static func head(status: Int, headers: [(name: String, value: String)]) -> [UInt8] {
        var out = ByteBuffer()
        out.write(reserving: sizeOfStatusAndHeaders(headers: headers) + 2) { cursor in
            writeStatusAndHeaders(status: status, headers: headers, into: &cursor)
            cursor.write("\r\n")
        }
        return out.readableArray
    }

    /// Bytes `writeStatusAndHeaders` writes at most: the longest status line (an unnamed status of 20 digits,
    /// `HTTP/1.1 N Status N` and CRLF, 59 bytes) and each header's line.
    static func sizeOfStatusAndHeaders(headers: [(name: String, value: String)]) -> Int {
        var size = 64
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        return size
    }

    /// The status line and headers, each line ending with CRLF, without the blank line that ends the head; `out`
    /// has room for `sizeOfStatusAndHeaders`.
    static func writeStatusAndHeaders(status: Int, headers: [(name: String, value: String)], into out: inout ByteCursor) {
        if status >= 100, status < 600, let line = statusLines[status - 100] {
            out.write(line)
        } else {
            out.write("HTTP/1.1 ")
            out.writeDecimal(status)
            out.write(" ")
            out.write(reason(status))
            out.write("\r\n")
        }
        for (name, value) in headers {
            out.write(name)
            out.write(": ")
            out.write(value)
            out.write("\r\n")
        }
    }

    /// The whole status line (`HTTP/1.1 200 OK` and CRLF) of each status `reason` names, by status - 100, made
    /// once: an answer's status line is then one copy instead of a number formatted and four pieces written.
    private static let statusLines: [[UInt8]?] = (100..<600).map { status in
        let text = reason(status)
        return text.hasPrefix("Status ") ? nil : Array("HTTP/1.1 \(status) \(text)\r\n".utf8)
    }
}

/// RFC 3986 percent-decoding.
public enum PercentEncoding {
    public static func decode(_ text: String, plusIsSpace: Bool = false) -> String {
        guard text.contains("%") || (plusIsSpace && text.contains("+")) else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2, let high = hex(iterator[iterator.startIndex]),
               let low = hex(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension String {
    /// Equal when lowercased; ASCII text (every header name) is compared byte by byte, with no lowercased copies.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        // Native strings (header names always are) compare over their bytes in place: fewer instructions than the
        // iterators below, which check the string's form on every byte. 1 equal, 0 not, -1 a non-ASCII difference.
        let inPlace: Int8? = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs -> Int8 in
                for index in 0..<mine.count {
                    let a = mine[index], b = theirs[index]
                    if a == b { continue }
                    guard a < 0x80 && b < 0x80 else { return -1 }
                    guard (a | 0x20) == (b | 0x20), (a | 0x20) >= 97, (a | 0x20) <= 122 else { return 0 }
                }
                return 1
            } ?? -1
        }
        if let inPlace, inPlace >= 0 { return inPlace == 1 }
        var mine = utf8.makeIterator(), theirs = other.utf8.makeIterator()
        while let a = mine.next(), let b = theirs.next() {
            guard a < 0x80 && b < 0x80 else { return lowercased() == other.lowercased() }
            if a == b { continue }
            guard (a | 0x20) == (b | 0x20), (a | 0x20) >= 97, (a | 0x20) <= 122 else { return false }
        }
        return true
    }
}
