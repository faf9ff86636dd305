import ConfigValues

/// A VirtualService `HTTPMatchRequest` -> Envoy's `RouteMatch` (Istio's translation).
enum RouteMatch {
    typealias J = EnvoyJSON

    static func envoy(_ match: JSONValue?) -> JSONValue {
        var out = J.object([:])
        if let uri = match?["uri"] {
            if let exact = uri["exact"]?.string { out.set("path", .string(exact)) }
            else if let prefix = uri["prefix"]?.string { out.set("prefix", .string(prefix)) }
            else if let regex = uri["regex"]?.string { out.set("safe_regex", J.object(["regex": .string(regex)])) }
        }
        if out.object?.isEmpty != false { out.set("prefix", .string("/")) }
        out.set("case_sensitive", .bool(match?["ignoreUriCase"]?.bool != true))
        var headers: [JSONValue] = []
        for pair in match?["headers"]?.object ?? [] { headers.append(header(pair.key, pair.value, invert: false)) }
        for pair in match?["withoutHeaders"]?.object ?? [] { headers.append(header(pair.key, pair.value, invert: true)) }
        for (field, pseudo) in [("method", ":method"), ("authority", ":authority"), ("scheme", ":scheme")] {
            if let value = match?[field] { headers.append(header(pseudo, value, invert: false)) }
        }
        if !headers.isEmpty { out.set("headers", .array(headers)) }
        let queries = (match?["queryParams"]?.object ?? []).map { pair -> JSONValue in
            let matcher = stringMatch(pair.value)
            return matcher.object?.isEmpty == false
                ? J.object(["name": .string(pair.key), "string_match": matcher])
                : J.object(["name": .string(pair.key), "present_match": .bool(true)])
        }
        if !queries.isEmpty { out.set("query_parameters", .array(queries)) }
        return out
    }

    /// A header matcher; an empty StringMatch means "present".
    static func header(_ name: String, _ value: JSONValue, invert: Bool) -> JSONValue {
        let matcher = stringMatch(value)
        var out = J.object(["name": .string(name)])
        if matcher.object?.isEmpty == false { out.set("string_match", matcher) } else { out.set("present_match", .bool(true)) }
        if invert { out.set("invert_match", .bool(true)) }
        return out
    }

    /// Istio's StringMatch (`exact`, `prefix`, `regex`) -> Envoy's StringMatcher.
    static func stringMatch(_ value: JSONValue) -> JSONValue {
        if let exact = value["exact"]?.string, !exact.isEmpty { return J.object(["exact": .string(exact)]) }
        if let prefix = value["prefix"]?.string, !prefix.isEmpty { return J.object(["prefix": .string(prefix)]) }
        if let regex = value["regex"]?.string, !regex.isEmpty { return J.object(["safe_regex": J.object(["regex": .string(regex)])]) }
        return J.object([:])
    }
}

/// VirtualService `headers` (request/response set, add, remove) -> Envoy's header mutations; a `:authority` or
/// `host` set becomes the route's host rewrite, as Istio does.
struct HeaderOperations {
    var requestAdd: [JSONValue] = []
    var requestRemove: [String] = []
    var responseAdd: [JSONValue] = []
    var responseRemove: [String] = []
    var authority: String?

    init(_ headers: JSONValue?) {
        guard let headers else { return }
        for (side, isRequest) in [("request", true), ("response", false)] {
            guard let block = headers[side] else { continue }
            var add: [JSONValue] = []
            for (field, action) in [("set", "OVERWRITE_IF_EXISTS_OR_ADD"), ("add", "APPEND_IF_EXISTS_OR_ADD")] {
                for pair in block[field]?.object ?? [] {
                    let name = pair.key.lowercased()
                    if isRequest, field == "set", name == ":authority" || name == "host" { authority = pair.value.string; continue }
                    add.append(EnvoyJSON.object(["header": EnvoyJSON.object(["key": .string(pair.key), "value": pair.value]),
                                                 "append_action": .string(action)]))
                }
            }
            let remove = (block["remove"]?.array ?? []).compactMap(\.string)
            if isRequest { requestAdd = add; requestRemove = remove } else { responseAdd = add; responseRemove = remove }
        }
    }

    /// Adds the mutations to a route or weighted cluster entry (after any it already has).
    func apply(to target: inout JSONValue) {
        func append(_ key: String, _ values: [JSONValue]) {
            guard !values.isEmpty else { return }
            target.set(key, .array((target[key]?.array ?? []) + values))
        }
        append("request_headers_to_add", requestAdd)
        append("request_headers_to_remove", requestRemove.map(JSONValue.string))
        append("response_headers_to_add", responseAdd)
        append("response_headers_to_remove", responseRemove.map(JSONValue.string))
    }
}
