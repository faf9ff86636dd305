import MeshNet

/// What a matched route changes in a request or its answer: path and host rewrites, redirects, header mutations.
public enum RequestRewrite {
    /// The target after `prefix_rewrite` or `regex_rewrite` (the query is kept).
    public static func target(_ target: String, route: Route, action: ForwardAction) -> String {
        let (path, query) = RouteSelection.splitTarget(target)
        var rewritten = path
        if let prefix = action.prefixRewrite {
            switch route.match.path {
            case .prefix(let matched), .pathSeparatedPrefix(let matched):
                rewritten = prefix + path.dropFirst(min(matched.count, path.count))
            case .path:
                rewritten = prefix
            case .regex:
                break
            }
        } else if let regex = action.regexRewrite {
            rewritten = regex.pattern.replacingAll(in: path, with: regex.substitution)
        }
        guard rewritten != path else { return target }
        return query.map { rewritten + "?" + $0 } ?? rewritten
    }

    /// The `Location` of a redirect answer.
    public static func location(_ redirect: Redirect, route: Route, authority: String, target: String) -> String {
        let (path, query) = RouteSelection.splitTarget(target)
        let scheme = redirect.scheme ?? "http"
        var host = authority
        var port: String?
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<colon])
            port = String(authority[authority.index(after: colon)...])
        }
        if let newHost = redirect.host { host = newHost }
        if let newPort = redirect.port { port = String(newPort) }
        if redirect.scheme != nil && redirect.port == nil { port = nil }
        var newPath = path
        if let replacement = redirect.path {
            newPath = replacement
        } else if let prefix = redirect.prefixRewrite, case .prefix(let matched) = route.match.path {
            newPath = prefix + path.dropFirst(min(matched.count, path.count))
        }
        let keepQuery = !redirect.stripQuery && !(redirect.path?.contains("?") ?? false)
        let defaultPort = (scheme == "https" && port == "443") || (scheme == "http" && port == "80")
        let authorityPart = port.map { defaultPort ? host : "\(host):\($0)" } ?? host
        return "\(scheme)://\(authorityPart)\(newPath)" + (keepQuery ? (query.map { "?" + $0 } ?? "") : "")
    }

    /// Applies one level's adds and removes to a header list (names compared case-insensitively) in Envoy's order:
    /// the removes, then the overwrites (each replaces the header's values with one at the end), then the appends.
    public static func apply(add: [HeaderValueOption], remove: [String], to headers: inout [(name: String, value: String)]) {
        if !remove.isEmpty {
            let names = Set(remove.map { $0.lowercased() })
            headers.removeAll { names.contains($0.name.lowercased()) }
        }
        for option in add where !option.append {
            headers.removeAll { $0.name.lowercased() == option.name }
            headers.append((option.name, option.value))
        }
        for option in add where option.append { headers.append((option.name, option.value)) }
    }
}
