/// security.istio.io: AuthorizationPolicy, PeerAuthentication, RequestAuthentication.
enum SecuritySchemas {
    typealias C = CommonSchemas

    static let source = ObjectType("Source", [
        "principals": .list(.string(minLength: 1)), "notPrincipals": .list(.string(minLength: 1)),
        "requestPrincipals": .list(.string(minLength: 1)), "notRequestPrincipals": .list(.string(minLength: 1)),
        "namespaces": .list(.string(minLength: 1)), "notNamespaces": .list(.string(minLength: 1)),
        "serviceAccounts": .list(.string(minLength: 1)), "notServiceAccounts": .list(.string(minLength: 1)),
        "ipBlocks": .list(.string(minLength: 1)), "notIpBlocks": .list(.string(minLength: 1)),
        "remoteIpBlocks": .list(.string(minLength: 1)), "notRemoteIpBlocks": .list(.string(minLength: 1)),
        "trustDomains": .list(.string(minLength: 1)), "notTrustDomains": .list(.string(minLength: 1)),
    ], rules: [
        addressRule(["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"]),
        .require("Cannot set serviceAccounts with namespaces or principals") { source in
            source["serviceAccounts"] == nil || (source["namespaces"] == nil && source["principals"] == nil)
        },
        .require("Cannot set notServiceAccounts with namespaces or principals") { source in
            source["notServiceAccounts"] == nil || (source["notNamespaces"] == nil && source["notPrincipals"] == nil)
        },
    ])

    static let operation = ObjectType("Operation", [
        "hosts": .list(.string(minLength: 1)), "notHosts": .list(.string(minLength: 1)),
        "ports": .list(.string(minLength: 1)), "notPorts": .list(.string(minLength: 1)),
        "methods": .list(.string(minLength: 1)), "notMethods": .list(.string(minLength: 1)),
        "paths": .list(.string(minLength: 1)), "notPaths": .list(.string(minLength: 1)),
    ], rules: [portsRule(["ports", "notPorts"])])

    /// Each listed field's items must be IP addresses or CIDR ranges.
    static func addressRule(_ fields: [String]) -> ObjectRule {
        ObjectRule { node, path in
            fields.flatMap { field in
                (node[field]?.items ?? []).enumerated().compactMap { index, item -> ValidationProblem? in
                    let text = item.scalarText ?? ""
                    return IPAddressText.isAddressOrCIDR(text) ? nil
                        : C.problem(item, path + [.key(field), .index(index)], "\"\(text)\" is not an IP address or CIDR range (e.g. 10.1.2.3 or 10.0.0.0/16)")
                }
            }
        }
    }

    /// Each listed field's items must be port numbers from 0 to 65535, written as strings.
    static func portsRule(_ fields: [String]) -> ObjectRule {
        ObjectRule { node, path in
            fields.flatMap { field in
                (node[field]?.items ?? []).enumerated().compactMap { index, item -> ValidationProblem? in
                    let text = item.scalarText ?? ""
                    guard let port = Int(text), (0...65535).contains(port) else {
                        return C.problem(item, path + [.key(field), .index(index)], "\"\(text)\" is not a port number from 0 to 65535")
                    }
                    return nil
                }
            }
        }
    }

    /// The attribute keys a `when` condition may test; the bracketed ones need a name inside the brackets.
    static let conditionKeys: Set<String> = [
        "source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount", "source.trustDomain",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
        "destination.ip", "destination.port", "connection.sni",
    ]
    static let bracketedConditionKeys = ["request.headers", "request.auth.claims"]

    /// Istio's rules for one `when` condition: a known key, and values that fit it.
    static let conditionRule = ObjectRule { condition, path in
        guard let keyNode = condition["key"], let key = keyNode.scalarText, !key.isEmpty else { return [] }
        var problems: [ValidationProblem] = []
        let bracketed = bracketedConditionKeys.first { key.hasPrefix($0 + "[") }
        if let prefix = bracketed {
            if !key.hasSuffix("]") || key.count <= prefix.count + 2 {
                problems.append(C.problem(keyNode, path + [.key("key")], "\"\(key)\" must name what it tests inside the brackets, e.g. \(prefix)[name]"))
            }
        } else if !conditionKeys.contains(key) && !key.hasPrefix("experimental.envoy.filters.") {
            var message = "unknown attribute \"\(key)\""
            let known = Array(conditionKeys) + bracketedConditionKeys.map { $0 + "[...]" }
            if let near = closestMatch(to: key, in: known.sorted()) { message += "; did you mean \"\(near)\"?" }
            problems.append(C.problem(keyNode, path + [.key("key")], message))
        }
        if condition["values"] == nil && condition["notValues"] == nil {
            problems.append(C.problem(condition, path, "at least one of values or notValues must be set for key \"\(key)\""))
        }
        switch key {
        case "source.ip", "remote.ip", "destination.ip":
            problems += addressRule(["values", "notValues"]).check(condition, path)
        case "destination.port":
            problems += portsRule(["values", "notValues"]).check(condition, path)
        default:
            break
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

    static let rule = ObjectType("Rule", [
        "from": .list(.object(ObjectType("From", ["source": .object(source)], rules: [notEmpty("source")]))),
        "to": .list(.object(ObjectType("To", ["operation": .object(operation)], rules: [notEmpty("operation")]))),
        "when": .list(.object(ObjectType("Condition", [
            "key": .string(minLength: 1), "values": .list(.string(minLength: 1)), "notValues": .list(.string(minLength: 1)),
        ], required: ["key"], rules: [conditionRule]))),
    ])

    static let authorizationPolicy = SchemaType.object(ObjectType("AuthorizationPolicy", C.targeting.merging([
        "rules": .list(.object(rule), maxItems: 512),
        "action": .enumeration(["ALLOW", "DENY", "AUDIT", "CUSTOM"]),
        "provider": .object(ObjectType("ExtensionProvider", ["name": .string(minLength: 1)], required: ["name"])),
    ]) { a, _ in a }, rules: [
        C.oneTargeting,
        .require("provider must be set when action is CUSTOM", at: "provider") { spec in
            spec["action"]?.scalarText != "CUSTOM" || spec["provider"] != nil
        },
        .require("provider may only be set when action is CUSTOM", at: "provider") { spec in
            spec["provider"] == nil || spec["action"]?.scalarText == "CUSTOM"
        },
    ]))

    static let mtls = ObjectType("MutualTLS", ["mode": .enumeration(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"])])

    static let peerAuthentication = SchemaType.object(ObjectType("PeerAuthentication", C.targeting.merging([
        "mtls": .object(mtls),
        "portLevelMtls": .map(.object(mtls), minProperties: 1),
    ]) { a, _ in a }, rules: [
        C.oneTargeting,
        .require("portLevelMtls requires selector", at: "portLevelMtls") { spec in
            spec["portLevelMtls"] == nil || spec["selector"] != nil || spec["targetRef"] != nil || spec["targetRefs"] != nil
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

    static let jwtHeader = ObjectType("JWTHeader", ["name": .string(minLength: 1), "prefix": .string], required: ["name"])

    static let claimToHeader = ObjectType("ClaimToHeader", [
        "header": .string(minLength: 1, pattern: #"^[-_A-Za-z0-9]+$"#), "claim": .string(minLength: 1),
    ], required: ["header", "claim"])

    static let jwtRule = ObjectType("JWTRule", [
        "issuer": .string(minLength: 1), "audiences": .list(.string(minLength: 1)),
        "jwksUri": .string(minLength: 1), "jwks": .string,
        "fromHeaders": .list(.object(jwtHeader)), "fromParams": .list(.string(minLength: 1)),
        "fromCookies": .list(.string(minLength: 1)), "outputPayloadToHeader": .string,
        "forwardOriginalToken": .bool, "outputClaimToHeaders": .list(.object(claimToHeader)),
        "timeout": .duration(minimumSeconds: 0.001), "spaceDelimitedClaims": .list(.string(minLength: 1)),
        "presence": .enumeration(["OPTIONAL", "REQUIRED"]),
    ], rules: [
        .require("url must have scheme http:// or https://", at: "jwksUri") { rule in
            guard let uri = rule["jwksUri"]?.scalarText else { return true }
            return uri.hasPrefix("http://") || uri.hasPrefix("https://")
        },
    ])

    static let requestAuthentication = SchemaType.object(ObjectType("RequestAuthentication", C.targeting.merging([
        "jwtRules": .list(.object(jwtRule), maxItems: 4096),
    ]) { a, _ in a }, rules: [C.oneTargeting]))
}
