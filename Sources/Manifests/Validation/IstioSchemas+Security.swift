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
    ])

    static let rule = ObjectType("Rule", [
        "from": .list(.object(ObjectType("From", ["source": .object(source)]))),
        "to": .list(.object(ObjectType("To", ["operation": .object(operation)]))),
        "when": .list(.object(ObjectType("Condition", [
            "key": .string(minLength: 1), "values": .list(.string(minLength: 1)), "notValues": .list(.string(minLength: 1)),
        ], required: ["key"]))),
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
