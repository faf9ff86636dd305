/// The head of an HTTP/1.1 request as a client sends it.
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// Path and query as sent (`/api/v1/pods?limit=500`).
    public var target: String
    /// 10 for HTTP/1.0, 11 for HTTP/1.1.
    public var version: Int
    public var headers: [(name: String, value: String)]

    public init(method: String, target: String, version: Int = 11, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? { headers.first { $0.name.caseInsensitiveEquals(name) }?.value }
}

/// The head of an HTTP/1.1 response as a client reads it.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    /// The reason phrase as sent (may be empty).
    public var reason: String
    public var version: Int
    public var headers: [(name: String, value: String)]

    public init(status: Int, reason: String, version: Int = 11, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? { headers.first { $0.name.caseInsensitiveEquals(name) }?.value }

    public static func == (lhs: HTTPResponseHead, rhs: HTTPResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.version == rhs.version
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// What a line of a message head holds, read straight from its bytes (shared by the request parser and the
/// response decoder).
enum HeadSyntax {
    static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), colon = UInt8(ascii: ":")

    /// How far a search for the end of a head got.
    enum HeadScan: Equatable {
        /// The head is this many bytes long, before its closing CRLF CRLF.
        case end(Int)
        /// No end yet; the next search resumes at this index (bytes before it need no second look).
        case incomplete(resumeAt: Int)
        /// A byte a head must not have (RFC 9112 section 2.2: each can split or hide a field).
        case invalid(InvalidByte)
    }

    /// The bytes `scanHead` refuses.
    enum InvalidByte: Equatable {
        case nul
        /// A CR not followed by LF.
        case bareCR
        /// An LF not preceded by CR.
        case bareLF

        /// Why, in words; `message` ("request", "response") names the head.
        func reason(in message: StaticString) -> String {
            switch self {
            case .nul: return "a NUL byte in the \(message) head"
            case .bareCR: return "a CR without its LF in the \(message) head: HTTP/1.1 lines end with CRLF (\\r\\n)"
            case .bareLF: return "a line of the \(message) head ends with a bare LF: HTTP/1.1 lines end with CRLF (\\r\\n)"
            }
        }
    }

    /// Searches `bytes` from `start` (where the last search stopped) for the CRLF CRLF that ends a head, refusing a
    /// NUL, a CR without its LF and an LF without its CR on the way.
    static func scanHead(_ bytes: UnsafeRawBufferPointer, from start: Int) -> HeadScan {
        var index = start
        while index < bytes.count {
            // Eight bytes at a time while none is below 14 (NUL, LF and CR are): subtracting 14 from each byte
            // borrows into the high bit of exactly those bytes that were below it (and had that bit clear).
            if index + 8 <= bytes.count {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if (word &- 0x0E0E_0E0E_0E0E_0E0E) & ~word & 0x8080_8080_8080_8080 == 0 { index += 8; continue }
            }
            // Byte by byte through the next eight, where a control byte is.
            let stop = min(index + 8, bytes.count)
            while index < stop {
                // Most bytes of a head are text (above CR): one comparison each.
                if bytes[index] > 13 { index += 1; continue }
                switch bytes[index] {
                case 0:
                    return .invalid(.nul)
                case 13:
                    guard index + 1 < bytes.count else { return .incomplete(resumeAt: index) }  // see the next byte first
                    guard bytes[index + 1] == 10 else { return .invalid(.bareCR) }
                case 10:
                    guard index > 0, bytes[index - 1] == 13 else { return .invalid(.bareLF) }
                    if index >= 3, bytes[index - 2] == 10 { return .end(index - 3) }
                default:
                    break
                }
                index += 1
            }
        }
        return .incomplete(resumeAt: index)
    }

    /// A head's lines, split at CRLF, one at a time (no array of them), as slices of `bytes` (an array slice or
    /// raw bytes).
    struct Lines<Bytes: Collection>: IteratorProtocol where Bytes.Element == UInt8, Bytes.Index == Int {
        let bytes: Bytes
        private var position: Int?

        init(_ bytes: Bytes) {
            self.bytes = bytes
            position = bytes.startIndex
        }

        mutating func next() -> Bytes.SubSequence? {
            guard let lineStart = position else { return nil }
            let end = bytes.endIndex
            var index = lineStart
            while index < end {
                // A CR first (rare in a line), then its LF.
                if bytes[index] == 13, index + 1 < end, bytes[index + 1] == 10 {
                    position = index + 2
                    return bytes[lineStart..<index]
                }
                index += 1
            }
            position = nil
            return bytes[lineStart..<bytes.endIndex]
        }
    }

    /// A `name: value` line's name and value (without the optional whitespace around it); nil when the line has
    /// no colon, an empty name, or a name that is not a token (whitespace there also refuses obs-fold lines).
    static func field<Line: BidirectionalCollection>(_ line: Line) -> (name: Line, value: Line)?
    where Line.Element == UInt8, Line.SubSequence == Line, Line.Index == Int {
        // The name is a token (RFC 9110 section 5.1): no spaces, no separators such as "(" or "@".
        guard let colon = line.firstIndex(of: colon), colon != line.startIndex,
              line[..<colon].allSatisfy(isTokenByte) else { return nil }
        var value = line[(colon + 1)...]
        while let first = value.first, first == space || first == tab { value = value.dropFirst() }
        while let last = value.last, last == space || last == tab { value = value.dropLast() }
        return (line[..<colon], value)
    }

    /// Whether a connection stays open after an exchange: HTTP/1.1 unless `Connection` lists `close`, HTTP/1.0 only
    /// when it lists `keep-alive` (RFC 9112 section 9.3). Compares the header's bytes, without building strings.
    static func keepsAlive(version: Int, connection: String?) -> Bool {
        guard var connection else { return version >= 11 }
        return connection.withUTF8 { bytes in
            version >= 11 ? !listContains(bytes, "close") : listContains(bytes, "keep-alive")
        }
    }

    /// Whether a comma-separated list of tokens holds `lowercase`, in any case.
    static func listContains(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var first = start, last = end
            while first < last && (bytes[first] == space || bytes[first] == tab) { first += 1 }
            while last > first && (bytes[last - 1] == space || bytes[last - 1] == tab) { last -= 1 }
            if equalsIgnoringCase(bytes[first..<last], lowercase) { return true }
            start = end + 1
        }
        return false
    }

    /// `bytes` as a String; the common methods and field names, spelled as here, come back as literals: no String
    /// is made or validated for them (and none allocated for names longer than a small string's 15 bytes).
    static func commonString(_ bytes: UnsafeRawBufferPointer) -> String {
        func spells(_ text: StaticString) -> Bool {
            let letters = text.utf8Start
            for index in 0..<bytes.count where bytes[index] != letters[index] { return false }
            return true
        }
        switch bytes.count {
        case 3:
            if spells("GET") { return "GET" }
            if spells("PUT") { return "PUT" }
        case 4:
            if spells("Host") { return "Host" }
            if spells("POST") { return "POST" }
            if spells("HEAD") { return "HEAD" }
            if spells("Date") { return "Date" }
            if spells("host") { return "host" }
        case 6:
            if spells("Accept") { return "Accept" }
            if spells("Server") { return "Server" }
            if spells("DELETE") { return "DELETE" }
        case 10:
            if spells("User-Agent") { return "User-Agent" }
            if spells("Connection") { return "Connection" }
        case 12:
            if spells("Content-Type") { return "Content-Type" }
            if spells("content-type") { return "content-type" }
        case 14:
            if spells("Content-Length") { return "Content-Length" }
            if spells("content-length") { return "content-length" }
        case 15:
            if spells("Accept-Encoding") { return "Accept-Encoding" }
        case 17:
            if spells("Transfer-Encoding") { return "Transfer-Encoding" }
        default:
            break
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A field name in lowercase, as Envoy's HTTP/1.1 codec reads and writes names (HTTP/2 requires it); the common
    /// names come back as literals, the rest as a String made once (a small string, not allocated, up to 15 bytes).
    static func lowercaseName(_ bytes: UnsafeRawBufferPointer) -> String {
        // `bytes` are token bytes (the decoders check them first), so OR-ing 0x20 only lowers letters here: no other
        // token byte becomes one of the literals' letters or '-'.
        func spells(_ text: StaticString) -> Bool {
            let letters = text.utf8Start
            for index in 0..<bytes.count where bytes[index] | 0x20 != letters[index] { return false }
            return true
        }
        switch bytes.count {
        case 4:
            if spells("host") { return "host" }
            if spells("date") { return "date" }
        case 6:
            if spells("accept") { return "accept" }
            if spells("server") { return "server" }
        case 10:
            if spells("user-agent") { return "user-agent" }
            if spells("connection") { return "connection" }
        case 12:
            if spells("content-type") { return "content-type" }
        case 14:
            if spells("content-length") { return "content-length" }
        case 15:
            if spells("accept-encoding") { return "accept-encoding" }
        case 17:
            if spells("transfer-encoding") { return "transfer-encoding" }
        default:
            break
        }
        return String(unsafeUninitializedCapacity: bytes.count) { out in
            for index in 0..<bytes.count {
                let byte = bytes[index]
                out[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return bytes.count
        }
    }

    /// Whether `lowercase` (a name `lowercaseName` made) is `bytes` in lowercase.
    static func spellsLowercased(_ lowercase: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard lowercase.utf8.count == bytes.count else { return false }
        return lowercase.utf8.withContiguousStorageIfAvailable { mine in
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard mine[index] == (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) else { return false }
            }
            return true
        } ?? false
    }

    /// Sets field `index` of a head being read into `fields`, which holds the previous head's fields of the same
    /// connection: a name (lowercased when `lowercaseName`) or value spelled as that head's field at the same place
    /// keeps its String (no String made, validated or allocated: keep-alive answers repeat most of their fields,
    /// such as a `Date` that changes once a second). Past the previous head's fields it is appended.
    static func setField(_ fields: inout [(name: String, value: String)], at index: Int,
                         name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, lowercaseName: Bool) {
        guard index < fields.count else {
            if fields.capacity == 0 { fields.reserveCapacity(8) }
            fields.append((lowercaseName ? Self.lowercaseName(name) : commonString(name), String(decoding: value, as: UTF8.self)))
            return
        }
        if lowercaseName {
            if !spellsLowercased(fields[index].name, name) { fields[index].name = Self.lowercaseName(name) }
        } else if !spells(fields[index].name, name) {
            fields[index].name = commonString(name)
        }
        if !spells(fields[index].value, value) { fields[index].value = String(decoding: value, as: UTF8.self) }
    }

    /// Drops the previous head's fields past the `count` the new head has (one by one from the end:
    /// removeLast(_:) goes through a generic replaceSubrange that costs more than the few fields a head has).
    static func keepFields(_ fields: inout [(name: String, value: String)], count: Int) {
        while fields.count > count { fields.removeLast() }
    }

    /// Whether `text`'s UTF-8 is exactly `bytes`.
    static func spells(_ text: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard text.utf8.count == bytes.count else { return false }
        guard let theirs = bytes.baseAddress else { return true }
        return text.utf8.withContiguousStorageIfAvailable { mine in
            // Eight bytes at a time, then the rest: a byte loop with its bounds checks cost ~130 instructions a field.
            let ours = UnsafeRawPointer(mine.baseAddress!), count = bytes.count
            var index = 0
            while index + 8 <= count {
                guard ours.loadUnaligned(fromByteOffset: index, as: UInt64.self) == theirs.loadUnaligned(fromByteOffset: index, as: UInt64.self) else { return false }
                index += 8
            }
            while index < count {
                guard ours.load(fromByteOffset: index, as: UInt8.self) == theirs.load(fromByteOffset: index, as: UInt8.self) else { return false }
                index += 1
            }
            return true
        } ?? text.utf8.elementsEqual(bytes)
    }

    /// Whether `byte` may be in a token (a method, a field name): RFC 9110 section 5.6.2's tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case 33, 35...39, 42, 43, 45, 46, 94...96, 124, 126: return true  // ! # $ % & ' * + - . ^ _ ` | ~
        default: return false
        }
    }

    /// Whether `bytes` spell `lowercase` in any case (ASCII).
    static func equalsIgnoringCase<Bytes: Collection>(_ bytes: Bytes, _ lowercase: StaticString) -> Bool where Bytes.Element == UInt8 {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return zip(bytes, UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
    }
}
