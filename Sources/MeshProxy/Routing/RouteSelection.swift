import MeshNet
import MeshHTTP1

/// Picks the virtual host and route for a request, as Envoy does: a virtual host by its domains (exact names
/// first, then the longest `*.suffix` wildcard, then the longest `prefix.*` wildcard, then `*`), then the first
/// route whose match holds.
public enum RouteSelection {
    /// The virtual host whose domains match `authority` (the Host header, port included when sent), or nil.
    public static func virtualHost(in config: RouteConfiguration, authority: String) -> VirtualHost? {
        let lowered = mayHaveCapitals(authority) ? authority.lowercased() : authority
        let host = config.ignorePortInHostMatching ? withoutPort(lowered) : lowered
        // Indexes, not copies: the one virtual host returned is the only copy made.
        var bestSuffix: (length: Int, index: Int)?
        var bestPrefix: (length: Int, index: Int)?
        var fallback: Int?
        // By index: iterating the array's elements would copy each virtual host (every array and string in it retained).
        for index in config.virtualHosts.indices {
            for domain in config.virtualHosts[index].domains {
                // Lowercased only when it has to be: no copy (and no array of them) per request for the usual lowercase names.
                let domain = mayHaveCapitals(domain) ? domain.lowercased() : domain
                if domain == "*" {
                    if fallback == nil { fallback = index }
                } else if domain.hasPrefix("*") {
                    let suffix = domain.dropFirst()
                    if host.count > suffix.count, host.hasSuffix(suffix), suffix.count > (bestSuffix?.length ?? -1) { bestSuffix = (suffix.count, index) }
                } else if domain.hasSuffix("*") {
                    let prefix = domain.dropLast()
                    if host.count > prefix.count, host.hasPrefix(prefix), prefix.count > (bestPrefix?.length ?? -1) { bestPrefix = (prefix.count, index) }
                } else if domain == host {
                    return config.virtualHosts[index]
                }
            }
        }
        return (bestSuffix?.index ?? bestPrefix?.index ?? fallback).map { config.virtualHosts[$0] }
    }

    /// Whether `text` has an ASCII capital or a non-ASCII byte (then `lowercased()` may change it); read in place
    /// for a native string (the generic search over its UTF-8 cost ~30 instructions a byte).
    static func mayHaveCapitals(_ text: String) -> Bool {
        func capitalOrNonASCII(_ byte: UInt8) -> Bool { (byte >= 65 && byte <= 90) || byte >= 0x80 }
        return text.utf8.withContiguousStorageIfAvailable { bytes in
            for index in 0..<bytes.count where capitalOrNonASCII(bytes[index]) { return true }
            return false
        } ?? text.utf8.contains(where: capitalOrNonASCII)
    }

    /// `host:port` -> `host` (`[::1]:80` -> `[::1]`); an authority without a port is returned as it is.
    static func withoutPort(_ authority: String) -> String {
        guard let colon = authority.lastIndex(of: ":") else { return authority }
        let host = authority[..<colon], port = authority[authority.index(after: colon)...]
        guard !port.isEmpty, port.allSatisfy({ ("0"..."9").contains($0) }), !host.contains(":") || host.hasSuffix("]") else { return authority }
        return String(host)
    }

    /// The first route of `host` that matches the request.
    public static func route(in host: VirtualHost, request: HTTPRequestHead) -> Route? {
        let (path, query) = splitTarget(request.target)
        return host.routes.first { matches($0.match, path: path, query: query, request: request) }
    }

    /// Path and query of a request target (`/a?b=1` -> `/a`, `b=1`).
    public static func splitTarget(_ target: String) -> (path: String, query: String?) {
        // No `?` byte means no `?` character: the usual target is answered without walking its characters.
        guard target.utf8.contains(UInt8(ascii: "?")), let mark = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }

    static func matches(_ match: RouteMatch, path: String, query: String?, request: HTTPRequestHead) -> Bool {
        let subject = match.caseSensitive ? path : path.lowercased()
        func folded(_ text: String) -> String { match.caseSensitive ? text : text.lowercased() }
        switch match.path {
        case .prefix(let prefix): guard subject.hasPrefix(folded(prefix)) else { return false }
        case .path(let exact): guard subject == folded(exact) else { return false }
        case .pathSeparatedPrefix(let prefix):
            let wanted = folded(prefix)
            guard subject == wanted || subject.hasPrefix(wanted + "/") else { return false }
        case .regex(let pattern): guard pattern.matchesWhole(path) else { return false }
        }
        for header in match.headers where !matches(header, request: request) { return false }
        if !match.queryParameters.isEmpty {
            let parameters = queryParameters(query)
            for parameter in match.queryParameters {
                guard let value = parameters.first(where: { $0.name == parameter.name })?.value else { return false }
                if let matcher = parameter.matcher, !matcher.matches(value) { return false }
            }
        }
        return true
    }

    static func matches(_ matcher: HeaderMatcher, request: HTTPRequestHead) -> Bool {
        let values = request.headers.filter { $0.name.lowercased() == matcher.name }.map(\.value)
        let value: String? = values.isEmpty ? (matcher.missingAsEmpty ? "" : nil) : values.joined(separator: ",")
        let result: Bool
        switch matcher.rule {
        case .present(let wanted):
            // present_match: false matches an absent header (and inversion turns that around).
            return (value != nil) == wanted ? !matcher.invert : matcher.invert
        case .string(let string):
            guard let value else { return false }
            result = string.matches(value)
        case .range(let start, let end):
            guard let value, let number = Int(value) else { return false }
            result = number >= start && number < end
        }
        return result != matcher.invert
    }

    /// `a=1&b=2` as pairs, names and values percent-decoded.
    static func queryParameters(_ query: String?) -> [(name: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (PercentEncoding.decode(String(parts[0])), parts.count > 1 ? PercentEncoding.decode(String(parts[1])) : "")
        }
    }

    /// The cluster a forward action sends to; `roll` is a number in 0..<total weight (random in the data path).
    public static func cluster(for action: ForwardAction, roll: (Int) -> Int) -> String {
        switch action.target {
        case .cluster(let name): return name
        case .weighted(let clusters):
            let total = clusters.reduce(0) { $0 + $1.weight }
            var point = roll(max(total, 1))
            for cluster in clusters {
                if point < cluster.weight { return cluster.name }
                point -= cluster.weight
            }
            return clusters.last?.name ?? ""
        }
    }
}
