import MeshHTTP1
import MeshNet

/// Absolute-form requests (`GET http://host:port/path HTTP/1.1`), what a client sends to the HTTP proxy it was given
/// (`HTTP_PROXY`). As Envoy does with `http_protocol_options.allow_absolute_url` (its default), the URL's authority
/// becomes the request's host and its path and query the target, so routing, filters and the upstream see an
/// origin-form request; `Proxy-Connection`, meant for the proxy alone, is dropped.
enum AbsoluteFormRequest {
    /// The request in origin form; nil when it is not in absolute form (or names no host).
    static func originForm(of request: HTTPRequest) -> HTTPRequest? {
        let target = request.target
        let scheme = target.prefix(8).lowercased()
        let schemeLength: Int
        if scheme.hasPrefix("http://") { schemeLength = 7 } else if scheme.hasPrefix("https://") { schemeLength = 8 } else { return nil }
        let rest = target.dropFirst(schemeLength)
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<pathStart]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty else { return nil }
        let path = rest[pathStart...]
        var converted = request
        converted.target = path.isEmpty ? "/" : path.hasPrefix("?") ? "/" + path : String(path)
        converted.headers.removeAll { ["host", "proxy-connection"].contains($0.name.lowercased()) }
        converted.headers.insert(("host", String(authority)), at: 0)
        return converted
    }
}
