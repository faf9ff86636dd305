/// An `http://HOST[:PORT][/PATH][?QUERY]` URL as local mode's clients take it.
public struct CallURL: Sendable, Equatable {
    public let host: String
    public let port: Int
    /// Path and query as sent in the request line (`/` when the URL has none).
    public let target: String

    /// Reads `text`; `http://` may be left out (as curl allows). Anything else is refused with what is wrong.
    public init(_ text: String) throws(NameError) {
        var rest = Substring(text)
        if let schemeEnd = rest.range(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" else {
                let hint = scheme == "https" ? ": local mode's clients speak plain HTTP for now (TLS echo servers answer `curl -k` from the host)" : ""
                throw NameError("\(text): the scheme \(scheme) is not supported\(hint); use http://HOST[:PORT]/PATH")
            }
            rest = rest[schemeEnd.upperBound...]
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.contains("@") else { throw NameError("\(text): credentials in the URL are not supported") }
        var host = String(authority)
        var port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw NameError("\(text): an IPv6 address must end with ]") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { throw NameError("\(text): bad port after the address") }
                port = number
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let number = Int(authority[authority.index(after: colon)...]) else {
                throw NameError("\(text): the port \"\(authority[authority.index(after: colon)...])\" is not a number")
            }
            port = number
        }
        guard !host.isEmpty else { throw NameError("\(text): the URL has no host; use http://HOST[:PORT]/PATH") }
        guard (1...65535).contains(port) else { throw NameError("\(text): the port \(port) is not from 1 to 65535") }
        guard path.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { throw NameError("\(text): the path has spaces or non-ASCII characters; percent-encode them") }
        self.host = host
        self.port = port
        self.target = path
    }

    /// The Host header's value.
    public var hostHeader: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? shown : "\(shown):\(port)"
    }
}
