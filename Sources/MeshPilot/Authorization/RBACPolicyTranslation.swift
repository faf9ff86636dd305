import ConfigValues

/// One AuthorizationPolicy rule as an Envoy RBAC policy, as istiod translates it: each `from` becomes one principal
/// and each `to` one permission, each an AND of the rule's attributes (values ORed, notValues negated), with the
/// `when` conditions appended to every one of them.
struct RBACPolicyTranslation {
    /// Why a rule yields no policy (istiod skips such a rule for ALLOW; DENY and AUDIT drop only the attribute).
    struct Skipped: Error, CustomStringConvertible { var description: String }

    /// The policy's namespace (the default namespace of `serviceAccounts` without one).
    let namespace: String
    /// Building for a TCP filter chain: HTTP-only attributes cannot be evaluated there.
    let forTCP: Bool
    /// `ALLOW`, `DENY` or `LOG`.
    let action: String

    private enum Side { case permission, principal }

    /// One attribute of a rule: its values, and how one value (or, for JWT attributes, all values) becomes a matcher.
    private struct Attribute {
        var key: String
        var values: [String]
        var notValues: [String]
        var side: Side
        var single: ((String) throws(Skipped) -> JSONValue)?
        var whole: (([String]) throws(Skipped) -> JSONValue)?
    }

    func policy(_ rule: JSONValue) throws(Skipped) -> JSONValue {
        var basePermissions: [Attribute] = []
        var basePrincipals: [Attribute] = []
        for condition in rule["when"]?.array ?? [] {
            let key = condition["key"]?.string ?? ""
            let attribute = try attribute(key, strings(condition["values"]), strings(condition["notValues"]))
            guard !attribute.values.isEmpty || !attribute.notValues.isEmpty else { continue }
            if attribute.side == .permission { basePermissions.append(attribute) } else { basePrincipals.append(attribute) }
        }
        var principals: [JSONValue] = []
        let froms = rule["from"]?.array ?? []
        for from in froms {
            let source = from["source"] ?? .object([])
            var front: [Attribute] = []
            for (field, key) in [("principals", "source.principal"), ("requestPrincipals", "request.auth.principal"),
                                 ("serviceAccounts", "source.serviceAccount"), ("trustDomains", "source.trustDomain"),
                                 ("namespaces", "source.namespace"), ("remoteIpBlocks", "remote.ip"), ("ipBlocks", "source.ip")] {
                let negated = "not" + field.prefix(1).uppercased() + field.dropFirst()
                let attribute = try attribute(key, strings(source[field]), strings(source[negated]))
                if !attribute.values.isEmpty || !attribute.notValues.isEmpty { front.append(attribute) }
            }
            principals.append(try principal(front + basePrincipals))
        }
        if froms.isEmpty { principals.append(try principal(basePrincipals)) }
        var permissions: [JSONValue] = []
        let tos = rule["to"]?.array ?? []
        for to in tos {
            let operation = to["operation"] ?? .object([])
            var front: [Attribute] = []
            for (field, key) in [("hosts", ":authority"), ("methods", ":method"), ("paths", "path-matcher"), ("ports", "destination.port")] {
                let negated = "not" + field.prefix(1).uppercased() + field.dropFirst()
                let attribute = try attribute(key, strings(operation[field]), strings(operation[negated]))
                if !attribute.values.isEmpty || !attribute.notValues.isEmpty { front.append(attribute) }
            }
            permissions.append(try permission(front + basePermissions))
        }
        if tos.isEmpty { permissions.append(try permission(basePermissions)) }
        return RBACJSON.object([("permissions", .array(permissions)), ("principals", .array(principals))])
    }

    private func strings(_ value: JSONValue?) -> [String] { (value?.array ?? []).compactMap(\.string) }

    private func permission(_ attributes: [Attribute]) throws(Skipped) -> JSONValue { try combined(attributes, side: .permission) }
    private func principal(_ attributes: [Attribute]) throws(Skipped) -> JSONValue { try combined(attributes, side: .principal) }

    /// The AND of the attributes' matchers (values ORed, notValues negated); `any` when there are none.
    private func combined(_ attributes: [Attribute], side: Side) throws(Skipped) -> JSONValue {
        var and: [JSONValue] = []
        for attribute in attributes {
            if let match = try matchers(attribute, attribute.values) { and.append(match) }
            if let match = try matchers(attribute, attribute.notValues) { and.append(side == .permission ? RBACJSON.permissionNot(match) : RBACJSON.principalNot(match)) }
        }
        if side == .permission { return RBACJSON.permissionAnd(and.isEmpty ? [RBACJSON.permissionAny] : and) }
        return RBACJSON.principalAnd(and.isEmpty ? [RBACJSON.principalAny] : and)
    }

    /// The OR of the values' matchers; an error skips the rule for ALLOW and only this value otherwise.
    private func matchers(_ attribute: Attribute, _ values: [String]) throws(Skipped) -> JSONValue? {
        guard !values.isEmpty else { return nil }
        if let whole = attribute.whole {
            do { return try whole(values) } catch { if action == "ALLOW" { throw error }; return nil }
        }
        var or: [JSONValue] = []
        for value in values {
            do { or.append(try attribute.single!(value)) } catch { if action == "ALLOW" { throw error } }
        }
        guard !or.isEmpty else { return nil }
        return attribute.side == .permission ? RBACJSON.permissionOr(or) : RBACJSON.principalOr(or)
    }

    private func attribute(_ key: String, _ values: [String], _ notValues: [String]) throws(Skipped) -> Attribute {
        var attribute = Attribute(key: key, values: values, notValues: notValues, side: .principal)
        switch key {
        case "destination.ip":
            attribute.side = .permission
            attribute.single = { value throws(Skipped) in
                guard let cidr = RBACJSON.cidr(value) else { throw Skipped(description: "\(value) is not an IP address or CIDR block") }
                return RBACJSON.object([("destination_ip", cidr)])
            }
        case "destination.port":
            attribute.side = .permission
            attribute.single = { value throws(Skipped) in
                guard let port = Int(value), (0...65535).contains(port) else { throw Skipped(description: "\(value) is not a port") }
                return RBACJSON.object([("destination_port", .int(port))])
            }
        case "connection.sni":
            attribute.side = .permission
            attribute.single = { value in RBACJSON.object([("requested_server_name", RBACJSON.wildcard(value))]) }
        case ":authority", ":method":
            attribute.side = .permission
            attribute.single = { [forTCP] value throws(Skipped) in
                if forTCP { throw Skipped(description: "\"\(key)\" is HTTP only") }
                return RBACJSON.object([("header", RBACJSON.header(key, value, ignoreCase: key == ":authority"))])
            }
        case "path-matcher":
            attribute.side = .permission
            attribute.single = { [forTCP] value throws(Skipped) in
                if forTCP { throw Skipped(description: "\"\(key)\" is HTTP only") }
                if value.contains("{") {
                    let template = value.replacingOccurrences(of: "{**}", with: "**").replacingOccurrences(of: "{*}", with: "*")
                    return RBACJSON.object([("uri_template", RBACJSON.object([
                        ("name", .string("uri-template")),
                        ("typed_config", RBACJSON.object([("@type", .string("type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig")),
                                                          ("path_template", .string(template))]))]))])
                }
                return RBACJSON.object([("url_path", RBACJSON.object([("path", RBACJSON.wildcard(value))]))])
            }
        case "source.ip", "remote.ip":
            let field = key == "source.ip" ? "direct_remote_ip" : "remote_ip"
            attribute.single = { value throws(Skipped) in
                guard let cidr = RBACJSON.cidr(value) else { throw Skipped(description: "\(value) is not an IP address or CIDR block") }
                return RBACJSON.object([(field, cidr)])
            }
        case "source.namespace":
            attribute.single = { value in
                let pattern = value.split(separator: "*", omittingEmptySubsequences: false).map { RBACJSON.quoteMeta(String($0)) }.joined(separator: ".*")
                return RBACJSON.authenticated(RBACJSON.regex(".*/ns/\(pattern)/.*"))
            }
        case "source.serviceAccount":
            attribute.single = { [namespace] value in
                let parts = value.split(separator: "/", maxSplits: 1).map(String.init)
                let (ns, account) = parts.count == 2 ? (parts[0], parts[1]) : (namespace, value)
                return RBACJSON.authenticated(RBACJSON.regex("spiffe://.+/ns/\(RBACJSON.quoteMeta(ns))/(.+/|)sa/\(RBACJSON.quoteMeta(account))(/.+)?"))
            }
        case "source.trustDomain":
            attribute.single = { value in
                if value == "*" { return RBACJSON.authenticated(RBACJSON.prefix("spiffe://")) }
                guard let star = value.firstIndex(of: "*") else { return RBACJSON.authenticated(RBACJSON.prefix("spiffe://\(value)/")) }
                let pattern = RBACJSON.quoteMeta(String(value[..<star])) + "[^/]*" + RBACJSON.quoteMeta(String(value[value.index(after: star)...]))
                return RBACJSON.authenticated(RBACJSON.regex("spiffe://\(pattern)/.*"))
            }
        case "source.principal":
            attribute.single = { value in RBACJSON.authenticated(RBACJSON.wildcard(value, after: "spiffe://")) }
        case "request.auth.principal":
            attribute.whole = { [forTCP] values throws(Skipped) in
                if forTCP { throw Skipped(description: "\"\(key)\" is HTTP only") }
                let ids = values.map(Self.requestPrincipal)
                return ids.count == 1 ? ids[0] : RBACJSON.principalOr(ids)
            }
        case "request.auth.audiences", "request.auth.presenter":
            let claim = key == "request.auth.audiences" ? "aud" : "azp"
            attribute.whole = { [forTCP] values throws(Skipped) in
                if forTCP { throw Skipped(description: "\"\(key)\" is HTTP only") }
                return RBACJSON.jwtClaim([claim], Self.listOneOf(values))
            }
        case _ where key.hasPrefix("request.auth.claims["):
            attribute.whole = { [forTCP] values throws(Skipped) in
                if forTCP { throw Skipped(description: "\"\(key)\" is HTTP only") }
                let names = key.dropFirst("request.auth.claims".count).split(separator: "]").map { String($0.dropFirst()) }
                guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else { throw Skipped(description: "\(key) names no claim") }
                return RBACJSON.jwtClaim(names, Self.listOneOf(values))
            }
        case _ where key.hasPrefix("request.headers["):
            guard key.hasSuffix("]"), key.count > "request.headers[]".count else { throw Skipped(description: "\(key) names no header") }
            let header = String(key.dropFirst("request.headers[".count).dropLast())
            attribute.single = { [forTCP] value throws(Skipped) in
                if forTCP { throw Skipped(description: "\"\(key)\" is HTTP only") }
                return RBACJSON.object([("header", RBACJSON.header(header, value))])
            }
        case _ where key.hasPrefix("experimental.envoy.filters."):
            // `experimental.envoy.filters.FILTER[KEY]`: the filter's dynamic metadata; `[v]` values match in a list.
            let parts = key.dropFirst("experimental.".count).split(separator: "[", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[1].hasSuffix("]"), parts[1].count > 1 else { throw Skipped(description: "invalid key: \(key)") }
            let filter = parts[0], field = String(parts[1].dropLast())
            attribute.side = .permission
            attribute.whole = { values in
                let matchers = values.map { value -> JSONValue in
                    guard value.hasPrefix("["), value.hasSuffix("]") else { return RBACJSON.object([("string_match", RBACJSON.wildcard(value))]) }
                    let inner = String(value.dropFirst().dropLast())
                    return RBACJSON.object([("list_match", RBACJSON.object([("one_of", RBACJSON.object([("string_match", RBACJSON.wildcard(inner))]))]))])
                }
                let value = matchers.count == 1 ? matchers[0] : RBACJSON.object([("or_match", RBACJSON.object([("value_matchers", .array(matchers))]))])
                return RBACJSON.object([("metadata", RBACJSON.object([("filter", .string(filter)), ("path", .array([RBACJSON.object([("key", .string(field))])])),
                                                                      ("value", value)]))])
            }
        default:
            throw Skipped(description: "unknown attribute \(key)")
        }
        return attribute
    }

    /// `iss/sub` with Istio's `*` forms, as an AND of two JWT payload matchers.
    private static func requestPrincipal(_ value: String) -> JSONValue {
        let any = RBACJSON.regex(".+")
        let slash = value.lastIndex(of: "/")
        let issuer = slash.map { String(value[..<$0]) } ?? value
        let subject = slash.map { String(value[value.index(after: $0)...]) } ?? ""
        let (matchIssuer, matchSubject): (JSONValue, JSONValue)
        if value == "*" {
            (matchIssuer, matchSubject) = (any, any)
        } else if value.hasPrefix("*") {
            if slash != nil { (matchIssuer, matchSubject) = (issuer == "*" ? any : RBACJSON.suffix(String(issuer.dropFirst())), RBACJSON.exact(subject)) }
            else { (matchIssuer, matchSubject) = (any, RBACJSON.suffix(String(value.dropFirst()))) }
        } else if value.hasSuffix("*") {
            if slash != nil { (matchIssuer, matchSubject) = (RBACJSON.exact(issuer), subject == "*" ? any : RBACJSON.prefix(String(subject.dropLast()))) }
            else { (matchIssuer, matchSubject) = (RBACJSON.prefix(String(value.dropLast())), any) }
        } else {
            (matchIssuer, matchSubject) = (RBACJSON.exact(issuer), RBACJSON.exact(subject))
        }
        return RBACJSON.principalAnd([RBACJSON.jwtClaim(["iss"], RBACJSON.object([("string_match", matchIssuer)])),
                                      RBACJSON.jwtClaim(["sub"], RBACJSON.object([("string_match", matchSubject)]))])
    }

    /// A claim that is a list with one of the values, or a string equal to one of them.
    private static func listOneOf(_ values: [String]) -> JSONValue {
        let matchers = values.map { RBACJSON.object([("string_match", RBACJSON.wildcard($0))]) }
        let value = matchers.count == 1 ? matchers[0] : RBACJSON.object([("or_match", RBACJSON.object([("value_matchers", .array(matchers))]))])
        let list = RBACJSON.object([("list_match", RBACJSON.object([("one_of", value)]))])
        return RBACJSON.object([("or_match", RBACJSON.object([("value_matchers", .array([list, value]))]))])
    }
}
