import ConfigValues

/// Envoy RBAC building blocks (`envoy.config.rbac.v3` permissions and principals, `envoy.type.matcher.v3` string
/// matchers) as proto JSON with Envoy's snake_case field names.
enum RBACJSON {
    static func object(_ pairs: [(String, JSONValue)]) -> JSONValue { .object(pairs.map { (key: $0.0, value: $0.1) }) }

    // MARK: String matchers

    static func exact(_ text: String, ignoreCase: Bool = false) -> JSONValue { matcher("exact", text, ignoreCase) }
    static func prefix(_ text: String, ignoreCase: Bool = false) -> JSONValue { matcher("prefix", text, ignoreCase) }
    static func suffix(_ text: String, ignoreCase: Bool = false) -> JSONValue { matcher("suffix", text, ignoreCase) }
    static func regex(_ pattern: String) -> JSONValue { object([("safe_regex", object([("regex", .string(pattern))]))]) }

    private static func matcher(_ kind: String, _ text: String, _ ignoreCase: Bool) -> JSONValue {
        ignoreCase ? object([(kind, .string(text)), ("ignore_case", .bool(true))]) : object([(kind, .string(text))])
    }

    /// Istio's value forms: `*` any non-empty, `*x` suffix, `x*` prefix, else exact; with `prefix` set (principals),
    /// the value is matched after it (`spiffe://`).
    static func wildcard(_ value: String, after prefix: String = "") -> JSONValue {
        if value == "*" { return regex(".+") }
        if value.hasPrefix("*") {
            let rest = String(value.dropFirst())
            return prefix.isEmpty ? suffix(rest) : regex(prefix + ".*" + quoteMeta(rest))
        }
        if value.hasSuffix("*") { return self.prefix(prefix + value.dropLast()) }
        return exact(prefix + value)
    }

    /// A header matcher with Istio's value forms (`*` present, `*x` suffix, `x*` prefix, exact).
    static func header(_ name: String, _ value: String, ignoreCase: Bool = false) -> JSONValue {
        if value == "*" { return object([("name", .string(name)), ("present_match", .bool(true))]) }
        let match: JSONValue
        if value.hasPrefix("*") { match = suffix(String(value.dropFirst()), ignoreCase: ignoreCase) }
        else if value.hasSuffix("*") { match = prefix(String(value.dropLast()), ignoreCase: ignoreCase) }
        else { match = exact(value, ignoreCase: ignoreCase) }
        return object([("name", .string(name)), ("string_match", match)])
    }

    /// RE2 escaping of the characters that mean something in a pattern.
    static func quoteMeta(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\.+*?()|[]{}^$".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// `1.2.3.4` or `10.0.0.0/8` as a `CidrRange`; nil when it is neither.
    static func cidr(_ text: String) -> JSONValue? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let address = parts[0]
        let isV4 = address.split(separator: ".", omittingEmptySubsequences: false).count == 4 && address.allSatisfy { $0.isNumber || $0 == "." }
        let isV6 = address.contains(":") && address.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        guard isV4 || isV6 else { return nil }
        let maximum = isV4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value) else { return nil }
            length = value
        }
        return object([("address_prefix", .string(address)), ("prefix_len", .int(length))])
    }

    // MARK: Permissions and principals

    static let permissionAny = object([("any", .bool(true))])
    static let principalAny = object([("any", .bool(true))])
    static func permissionAnd(_ rules: [JSONValue]) -> JSONValue { object([("and_rules", object([("rules", .array(rules))]))]) }
    static func permissionOr(_ rules: [JSONValue]) -> JSONValue { object([("or_rules", object([("rules", .array(rules))]))]) }
    static func permissionNot(_ rule: JSONValue) -> JSONValue { object([("not_rule", rule)]) }
    static func principalAnd(_ ids: [JSONValue]) -> JSONValue { object([("and_ids", object([("ids", .array(ids))]))]) }
    static func principalOr(_ ids: [JSONValue]) -> JSONValue { object([("or_ids", object([("ids", .array(ids))]))]) }
    static func principalNot(_ id: JSONValue) -> JSONValue { object([("not_id", id)]) }
    static func authenticated(_ matcher: JSONValue) -> JSONValue { object([("authenticated", object([("principal_name", matcher)]))]) }

    /// A metadata matcher on the JWT filter's payload (request principals, audiences, claims).
    static func jwtClaim(_ path: [String], _ value: JSONValue) -> JSONValue {
        object([("metadata", object([("filter", .string("envoy.filters.http.jwt_authn")),
                                     ("path", .array((["payload"] + path).map { object([("key", .string($0))]) })),
                                     ("value", value)]))])
    }

    /// The policy Istio emits for a policy without rules: never matches.
    static let matchNever = object([("permissions", .array([permissionNot(permissionAny)])), ("principals", .array([principalNot(principalAny)]))])
}
