import Foundation

/// security.istio.io: AuthorizationPolicy, PeerAuthentication, RequestAuthentication.
enum SecuritySchemas {
    typealias C = CommonSchemas

    // MARK: AuthorizationPolicy

    /// The source fields a CUSTOM action cannot match on (its external authorizer sees no identity).
    static let identityFields = ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
                                 "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains"]

    static let source = ObjectType("Source", [
        "principals": .list(.string(minLength: 1)), "notPrincipals": .list(.string(minLength: 1)),
        "requestPrincipals": .list(.string(minLength: 1)), "notRequestPrincipals": .list(.string(minLength: 1)),
        "namespaces": .list(.string(minLength: 1)), "notNamespaces": .list(.string(minLength: 1)),
        "serviceAccounts": .list(.string(minLength: 1, maxLength: 320), maxItems: 16),
        "notServiceAccounts": .list(.string(minLength: 1, maxLength: 320), maxItems: 16),
        "ipBlocks": .list(.string(minLength: 1)), "notIpBlocks": .list(.string(minLength: 1)),
        "remoteIpBlocks": .list(.string(minLength: 1)), "notRemoteIpBlocks": .list(.string(minLength: 1)),
        "trustDomains": .list(.string(minLength: 1)), "notTrustDomains": .list(.string(minLength: 1)),
    ], rules: [
        addressRule(["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"]),
        .require("Cannot set serviceAccounts with namespaces or principals") { source in
            (source["serviceAccounts"] == nil && source["notServiceAccounts"] == nil)
                || ["principals", "notPrincipals", "namespaces", "notNamespaces"].allSatisfy { source[$0] == nil }
        },
        valuesRule(["serviceAccounts", "notServiceAccounts"], serviceAccountProblem),
        valuesRule(["trustDomains", "notTrustDomains"], trustDomainProblem),
    ])

    static let operation = ObjectType("Operation", [
        "hosts": .list(.string(minLength: 1)), "notHosts": .list(.string(minLength: 1)),
        "ports": .list(.string(minLength: 1)), "notPorts": .list(.string(minLength: 1)),
        "methods": .list(.string(minLength: 1)), "notMethods": .list(.string(minLength: 1)),
        "paths": .list(.string(minLength: 1)), "notPaths": .list(.string(minLength: 1)),
    ], rules: [portsRule(["ports", "notPorts"]), valuesRule(["paths", "notPaths"], pathTemplateProblem)])

    /// Each listed field's items must be IP addresses or CIDR ranges.
    static func addressRule(_ fields: [String]) -> ObjectRule {
        valuesRule(fields) { IPAddressText.isAddressOrCIDR($0) ? nil : "\"\($0)\" is not an IP address or CIDR range (e.g. 10.1.2.3 or 10.0.0.0/16)" }
    }

    /// Each listed field's items must be port numbers from 0 to 65535, written as strings.
    static func portsRule(_ fields: [String]) -> ObjectRule {
        valuesRule(fields) { text in
            guard let port = Int(text), (0...65535).contains(port) else { return "\"\(text)\" is not a port number from 0 to 65535" }
            return nil
        }
    }

    /// Checks every item of the listed string lists; `problem` says what is wrong with one value, or nil.
    static func valuesRule(_ fields: [String], _ problem: @escaping @Sendable (String) -> String?) -> ObjectRule {
        ObjectRule { node, path in
            fields.flatMap { field in
                (node[field]?.items ?? []).enumerated().compactMap { index, item -> ValidationProblem? in
                    guard let text = item.scalarText, !text.isEmpty, let message = problem(text) else { return nil }
                    return C.problem(item, path + [.key(field), .index(index)], message)
                }
            }
        }
    }

    /// A service account is `name` or `namespace/name`, without wildcards.
    @Sendable static func serviceAccountProblem(_ value: String) -> String? {
        if value.contains("*") { return "\"\(value)\": a service account cannot contain a wildcard" }
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 2 || parts.contains(where: \.isEmpty) {
            return "\"\(value)\" is not a service account: write name or namespace/name"
        }
        return nil
    }

    /// A value with at most one `*`, at its start or end (`*`, `prefix*`, `*suffix`).
    @Sendable static func wildcardProblem(_ value: String) -> String? {
        let stars = value.filter { $0 == "*" }.count
        if stars > 1 { return "\"\(value)\" has more than one *: a value may have one, at its start or end" }
        if stars == 1 && !value.hasPrefix("*") && !value.hasSuffix("*") { return "\"\(value)\": * may only be at the start or end of a value" }
        return nil
    }

    @Sendable static func trustDomainProblem(_ value: String) -> String? {
        wildcardProblem(value) ?? (value.contains("/") ? "\"\(value)\": a trust domain cannot contain '/'" : nil)
    }

    /// Path templates: `{*}` matches one segment and `{**}` the rest, only as the last operator; with a
    /// template, every other segment must be a plain path literal (RFC 3986 pchar).
    @Sendable static func pathTemplateProblem(_ path: String) -> String? {
        let templated = path.contains("{*}") || path.contains("{**}")
        let literal = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()+,;:@=")
        var sawRest = false
        for segment in path.trimmingCharacters(in: CharacterSet(charactersIn: "/")).split(separator: "/", omittingEmptySubsequences: false) {
            if segment == "{*}" || segment == "{**}" {
                if sawRest { return "path \"\(path)\": {**} must be the last operator of a template" }
                sawRest = segment == "{**}"
                continue
            }
            if segment.contains("{") || segment.contains("}") {
                return "path \"\(path)\": '{' and '}' may only appear as the templates {*} and {**}"
            }
            if templated && (segment.isEmpty || !segment.allSatisfy(literal.contains)) {
                return "path \"\(path)\": segment \"\(segment)\" is not a valid path literal in a template"
            }
        }
        return nil
    }

    /// The attribute keys a `when` condition may test; the bracketed ones need a name inside the brackets.
    static let conditionKeys: Set<String> = [
        "source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount", "source.trustDomain",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
        "destination.ip", "destination.port", "connection.sni",
    ]
    static let bracketedConditionKeys = ["request.headers", "request.auth.claims", "experimental.envoy.filters."]
    /// Keys of older Istio versions, with what to use now.
    static let retiredConditionKeys = [
        "destination.namespace": "it is replaced by the policy's metadata.namespace",
        "destination.name": "it was only supported in security.istio.io/v1alpha1",
        "destination.user": "it was only supported in security.istio.io/v1alpha1",
    ]

    /// Istio's rules for one `when` condition: a known key, and values that fit it.
    static let conditionRule = ObjectRule { condition, path in
        guard let keyNode = condition["key"], let key = keyNode.scalarText, !key.isEmpty else { return [] }
        var problems: [ValidationProblem] = []
        let keyPath = path + [.key("key")]
        if let prefix = bracketedConditionKeys.first(where: { key.hasPrefix($0) }) {
            let open = key.firstIndex(of: "[")
            if open == nil || !key.hasSuffix("]") || key.distance(from: open!, to: key.endIndex) < 3 {
                problems.append(C.problem(keyNode, keyPath, "\"\(key)\" must name what it tests inside brackets, e.g. \(prefix.hasSuffix(".") ? prefix + "name" : prefix)[name]"))
            }
        } else if let retired = retiredConditionKeys[key] {
            problems.append(C.problem(keyNode, keyPath, "attribute \"\(key)\" cannot be used: \(retired)"))
        } else if key.hasPrefix("destination.labels") {
            problems.append(C.problem(keyNode, keyPath, "attribute \"\(key)\" cannot be used: it is replaced by the policy's selector"))
        } else if !conditionKeys.contains(key) {
            var message = "unknown attribute \"\(key)\""
            let known = Array(conditionKeys) + bracketedConditionKeys.map { $0 + "[...]" }
            if let near = closestMatch(to: key, in: known.sorted()) { message += "; did you mean \"\(near)\"?" }
            problems.append(C.problem(keyNode, keyPath, message))
        }
        if (condition["values"]?.items ?? []).isEmpty && (condition["notValues"]?.items ?? []).isEmpty {
            problems.append(C.problem(condition, path, "at least one of values or notValues must be set for key \"\(key)\""))
        }
        switch key {
        case "source.ip", "remote.ip", "destination.ip": problems += addressRule(["values", "notValues"]).check(condition, path)
        case "destination.port": problems += portsRule(["values", "notValues"]).check(condition, path)
        case "source.serviceAccount": problems += valuesRule(["values", "notValues"], serviceAccountProblem).check(condition, path)
        case "source.trustDomain": problems += valuesRule(["values", "notValues"], wildcardProblem).check(condition, path)
        default: break
        }
        return problems
    }

    /// `from` entries need a source and `to` entries an operation, each setting at least one field.
    static func notEmpty(_ field: String) -> ObjectRule {
        ObjectRule { entry, path in
            guard let value = entry[field], !value.isNull else {
                return [C.problem(entry, path, "\(field) must be set")]
            }
            return (value.pairs ?? []).isEmpty ? [C.problem(value, path + [.key(field)], "\(field) must set at least one field")] : []
        }
    }

    /// `from: []` or `to: []` says nothing; leave the field out to match everything.
    static func notEmptyList(_ fields: [String]) -> ObjectRule {
        ObjectRule { rule, path in
            fields.compactMap { field in
                guard let list = rule[field], let items = list.items, items.isEmpty else { return nil }
                return C.problem(list, path + [.key(field)], "\(field) must not be an empty list: leave it out to match every request")
            }
        }
    }

    static let rule = ObjectType("Rule", [
        "from": .list(.object(ObjectType("From", ["source": .object(source)], rules: [notEmpty("source")])), maxItems: 512),
        "to": .list(.object(ObjectType("To", ["operation": .object(operation)], rules: [notEmpty("operation")]))),
        "when": .list(.object(ObjectType("Condition", [
            "key": .string(minLength: 1), "values": .list(.string(minLength: 1)), "notValues": .list(.string(minLength: 1)),
        ], required: ["key"], rules: [conditionRule]))),
    ], rules: [notEmptyList(["from", "to"])])

    /// A DENY or CUSTOM policy without rules never applies; `rules: [{}]` applies it to every request.
    static let actionNeedsRules = ObjectRule { spec, path in
        guard let action = spec["action"]?.scalarText, action == "DENY" || action == "CUSTOM",
              (spec["rules"]?.items ?? []).isEmpty else { return [] }
        return [C.problem(spec["action"]!, path + [.key("action")],
                          "\(action) action without rules never applies: add an empty rule (rules: [{}]) to apply it to every request")]
    }

    /// A CUSTOM action's external authorizer sees no peer or request identity, so rules cannot match on one.
    static let customActionMatches = ObjectRule { spec, path in
        guard spec["action"]?.scalarText == "CUSTOM" else { return [] }
        var problems: [ValidationProblem] = []
        for (ruleIndex, rule) in (spec["rules"]?.items ?? []).enumerated() {
            let rulePath = path + [.key("rules"), .index(ruleIndex)]
            for (fromIndex, from) in (rule["from"]?.items ?? []).enumerated() {
                for field in identityFields {
                    guard let node = from["source"]?[field] else { continue }
                    problems.append(C.problem(node, rulePath + [.key("from"), .index(fromIndex), .key("source"), .key(field)],
                                              "\(field) is not supported with the CUSTOM action"))
                }
            }
            for (whenIndex, condition) in (rule["when"]?.items ?? []).enumerated() {
                guard let keyNode = condition["key"], let key = keyNode.scalarText,
                      ["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].contains(key)
                        || key.hasPrefix("request.auth.") else { continue }
                problems.append(C.problem(keyNode, rulePath + [.key("when"), .index(whenIndex), .key("key")],
                                          "\(key) is not supported with the CUSTOM action"))
            }
        }
        return problems
    }

    /// A DENY rule on HTTP attributes alone denies all TCP traffic of the workload (TCP has no such attributes).
    static let denyOnHTTPOnly = ObjectRule { spec, path in
        guard spec["action"]?.scalarText == "DENY" else { return [] }
        let tcpSourceFields = ["principals", "notPrincipals", "ipBlocks", "notIpBlocks", "namespaces", "notNamespaces",
                               "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"]
        return (spec["rules"]?.items ?? []).enumerated().compactMap { index, rule in
            let sources = (rule["from"]?.items ?? []).compactMap { $0["source"] }.filter { !$0.isNull }
            let operations = (rule["to"]?.items ?? []).compactMap { $0["operation"] }.filter { !$0.isNull }
            let tcpFrom = sources.contains { source in tcpSourceFields.contains { source[$0] != nil } }
            let tcpTo = operations.contains { $0["ports"] != nil || $0["notPorts"] != nil }
            guard (!sources.isEmpty && operations.isEmpty && !tcpFrom) || (!operations.isEmpty && !tcpTo) else { return nil }
            return ValidationProblem(.warning, path: path + [.key("rules"), .index(index)], location: rule.location,
                                     message: "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports of the "
                                        + "selected workloads; name the ports it is for (to.operation.ports)")
        }
    }

    static let authorizationPolicy = SchemaType.object(ObjectType("AuthorizationPolicy", C.targeting.merging([
        "rules": .list(.object(rule), maxItems: 512),
        "action": .enumeration(["ALLOW", "DENY", "AUDIT", "CUSTOM"]),
        "provider": .object(ObjectType("ExtensionProvider", ["name": .string(minLength: 1)], required: ["name"])),
    ]) { a, _ in a }, rules: [
        C.oneTargeting,
        actionNeedsRules,
        .require("provider must be set when action is CUSTOM", at: "provider") { spec in
            spec["action"]?.scalarText != "CUSTOM" || spec["provider"] != nil || (spec["rules"]?.items ?? []).isEmpty
        },
        .require("provider may only be set when action is CUSTOM", at: "provider") { spec in
            spec["provider"] == nil || spec["action"]?.scalarText == "CUSTOM"
        },
        customActionMatches,
        denyOnHTTPOnly,
    ]))

    // MARK: PeerAuthentication

    static let mtls = ObjectType("MutualTLS", ["mode": .enumeration(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"])])

    /// PeerAuthentication has a selector only (no targetRef).
    static let peerAuthentication = SchemaType.object(ObjectType("PeerAuthentication", [
        "selector": .object(C.policySelector),
        "mtls": .object(mtls),
        "portLevelMtls": .map(.object(mtls), minProperties: 1),
    ], rules: [
        .require("portLevelMtls requires selector: a mesh-wide or namespace-wide policy cannot set port-level mTLS", at: "portLevelMtls") { spec in
            spec["portLevelMtls"] == nil || !(spec["selector"]?["matchLabels"]?.pairs ?? []).isEmpty
        },
        ObjectRule { spec, path in
            var problems: [ValidationProblem] = []
            for pair in spec["portLevelMtls"]?.pairs ?? [] {
                let key = pair.key.scalarText ?? ""
                let keyPath = path + [.key("portLevelMtls"), .key(key)]
                guard let port = Int(key) else {
                    problems.append(C.problem(pair.key, keyPath, "port \"\(key)\" is not a number (type conversion error from string to int)"))
                    continue
                }
                if !(1...65535).contains(port) { problems.append(C.problem(pair.key, keyPath, "port must be between 1-65535")) }
            }
            return problems
        },
    ]))

    // MARK: RequestAuthentication

    static let jwtHeader = ObjectType("JWTHeader", ["name": .string(minLength: 1), "prefix": .string], required: ["name"])

    static let claimToHeader = ObjectType("ClaimToHeader", [
        "header": .string(minLength: 1, pattern: #"^[-_A-Za-z0-9]+$"#), "claim": .string(minLength: 1),
    ], required: ["header", "claim"])

    /// `jwksUri` (also spelt `jwks_uri`) must be an http or https URL.
    static let jwksURIScheme = ObjectRule { rule, path in
        ["jwksUri", "jwks_uri"].compactMap { field in
            guard let node = rule[field], let uri = node.scalarText, !uri.isEmpty else { return nil }
            guard let components = URLComponents(string: uri) else {
                return C.problem(node, path + [.key(field)], "\"\(uri)\" is not a valid URL (url must have scheme http:// or https://)")
            }
            let scheme = components.scheme?.lowercased()
            return scheme == "http" || scheme == "https" ? nil
                : C.problem(node, path + [.key(field)], "url must have scheme http:// or https://")
        }
    }

    /// `jwks` must be a JSON Web Key Set (or one key); private key material in it is a warning, as only
    /// public keys verify tokens.
    static let inlineJWKS = ObjectRule { rule, path in
        guard let node = rule["jwks"], let text = node.scalarText, !text.isEmpty else { return [] }
        let fieldPath = path + [.key("jwks")]
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return [C.problem(node, fieldPath, "jwks is not a JSON Web Key Set: it must be a JSON object with \"keys\"")]
        }
        let keys = object["keys"].map { $0 as? [[String: Any]] } ?? (object["kty"] != nil ? [object] : nil)
        guard let keys, keys.allSatisfy({ $0["kty"] is String }) else {
            return [C.problem(node, fieldPath, "jwks is not a JSON Web Key Set: \"keys\" must be a list of keys, each with \"kty\"")]
        }
        return keys.enumerated().compactMap { index, key in
            guard key["d"] != nil || key["kty"] as? String == "oct" else { return nil }
            return ValidationProblem(.warning, path: fieldPath, location: node.location,
                                     message: "jwks key \(index) holds private key material; only public keys are used to verify tokens, so remove it")
        }
    }

    static let jwtRule = ObjectType("JWTRule", [
        "issuer": .string(minLength: 1), "audiences": .list(.string(minLength: 1)),
        "jwksUri": .string(minLength: 1, maxLength: 2048), "jwks_uri": .string(minLength: 1, maxLength: 2048), "jwks": .string,
        "fromHeaders": .list(.object(jwtHeader)), "fromParams": .list(.string(minLength: 1)),
        "fromCookies": .list(.string(minLength: 1)), "outputPayloadToHeader": .string,
        "forwardOriginalToken": .bool, "outputClaimToHeaders": .list(.object(claimToHeader)),
        "timeout": .duration(minimumSeconds: 0.001), "spaceDelimitedClaims": .list(.string(minLength: 1), maxItems: 64),
        "presence": .enumeration(["OPTIONAL", "REQUIRED"]),
    ], rules: [
        jwksURIScheme,
        .require("only one of jwks or jwksUri can be set") { rule in ["jwksUri", "jwks_uri", "jwks"].filter { rule[$0] != nil }.count <= 1 },
        .require("issuer or jwksUri must be set") { rule in
            ["issuer", "jwksUri", "jwks_uri"].contains { !(rule[$0]?.scalarText ?? "").isEmpty }
        },
        inlineJWKS,
        ObjectRule { rule, path in
            guard let node = rule["timeout"], let text = node.scalarText, let seconds = DurationText.seconds(text) else { return [] }
            let milliseconds = seconds * 1000
            return abs(milliseconds - milliseconds.rounded()) < 1e-6 ? []
                : [C.problem(node, path + [.key("timeout")], "\"\(text)\": only whole milliseconds are supported")]
        },
    ])

    static let requestAuthentication = SchemaType.object(ObjectType("RequestAuthentication", C.targeting.merging([
        "jwtRules": .list(.object(jwtRule), maxItems: 4096),
    ]) { a, _ in a }, rules: [C.oneTargeting]))
}
