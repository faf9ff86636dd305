import XCTest
@testable import Manifests

/// Istio's rules for the security, telemetry and extension kinds and ProxyConfig (its webhook's checks and
/// the CRDs' CEL rules), one test per rule group; conformance/validation-rules.tsv names them.
final class PolicyRulesTests: XCTestCase {
    private static let apiVersions = [
        "AuthorizationPolicy": "security.istio.io/v1", "PeerAuthentication": "security.istio.io/v1",
        "RequestAuthentication": "security.istio.io/v1", "Telemetry": "telemetry.istio.io/v1",
        "WasmPlugin": "extensions.istio.io/v1alpha1", "TrafficExtension": "extensions.istio.io/v1alpha1",
        "ProxyConfig": "networking.istio.io/v1beta1",
    ]

    /// The problems of a `kind` resource with this spec (flow-style YAML) and annotations.
    private func problems(_ kind: String, _ spec: String, annotations: String = "{}", file: StaticString = #filePath,
                          line: UInt = #line) -> [ValidationProblem] {
        checkedProblems("apiVersion: \(Self.apiVersions[kind]!)\nkind: \(kind)\nmetadata: {name: n, annotations: \(annotations)}\nspec: \(spec)\n",
                        file: file, line: line)
    }

    private func expect(_ kind: String, _ spec: String, _ field: String, _ words: String, _ severity: ValidationProblem.Severity = .error,
                        annotations: String = "{}", file: StaticString = #filePath, line: UInt = #line) {
        assertProblem(problems(kind, spec, annotations: annotations, file: file, line: line), at: field, saying: words, severity, file: file, line: line)
    }

    /// Asserts that the resource has no error (warnings may be there).
    private func expectValid(_ kind: String, _ spec: String, annotations: String = "{}", file: StaticString = #filePath, line: UInt = #line) {
        let errors = problems(kind, spec, annotations: annotations, file: file, line: line).filter { $0.severity == .error }
        XCTAssertEqual(errors.map { "\($0.path.fieldPath): \($0.message)" }, [], file: file, line: line)
    }

    // MARK: AuthorizationPolicy

    func testServiceAccountsExcludeNamespacesAndPrincipals() {
        let source = "spec.rules[0].from[0].source"
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [a], notPrincipals: [b]}}]}]}", source, "Cannot set serviceAccounts")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {notServiceAccounts: [a], namespaces: [b]}}]}]}", source, "Cannot set serviceAccounts")
        expectValid("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [a], requestPrincipals: [b]}}]}]}")
    }

    func testServiceAccountValues() {
        let field = "spec.rules[0].from[0].source.serviceAccounts"
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: ['ns/*']}}]}]}", field + "[0]", "cannot contain a wildcard")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [a/b/c]}}]}]}", field + "[0]", "write name or namespace/name")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [ns/]}}]}]}", field + "[0]", "write name or namespace/name")
        let seventeen = (1...17).map { "sa\($0)" }.joined(separator: ", ")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [\(seventeen)]}}]}]}", field, "at most 16 items")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [\(String(repeating: "a", count: 321))]}}]}]}",
               field + "[0]", "at most 320 chars")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: source.serviceAccount, values: ['*']}]}]}",
               "spec.rules[0].when[0].values[0]", "cannot contain a wildcard")
        expectValid("AuthorizationPolicy", "{rules: [{from: [{source: {serviceAccounts: [shop/cart, cart]}}]}]}")
    }

    func testTrustDomainValues() {
        let field = "spec.rules[0].from[0].source.trustDomains[0]"
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {trustDomains: ['*.a.*']}}]}]}", field, "more than one *")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {trustDomains: ['a.*.b']}}]}]}", field, "only be at the start or end")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {trustDomains: [a/b]}}]}]}", field, "cannot contain '/'")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: source.trustDomain, values: ['a*b']}]}]}",
               "spec.rules[0].when[0].values[0]", "only be at the start or end")
        expectValid("AuthorizationPolicy", "{rules: [{from: [{source: {trustDomains: ['*.example.com', 'cluster.*', '*']}}]}]}")
    }

    func testPathTemplates() {
        let field = "spec.rules[0].to[0].operation.paths[0]"
        expect("AuthorizationPolicy", "{rules: [{to: [{operation: {paths: ['/a/{**}/{*}']}}]}]}", field, "{**} must be the last operator")
        expect("AuthorizationPolicy", "{rules: [{to: [{operation: {paths: ['/a/{id}']}}]}]}", field, "may only appear as the templates")
        expect("AuthorizationPolicy", "{rules: [{to: [{operation: {paths: ['/a/{*}/b c']}}]}]}", field, "not a valid path literal")
        expect("AuthorizationPolicy", "{rules: [{to: [{operation: {notPaths: ['/{x}']}}]}]}", "spec.rules[0].to[0].operation.notPaths[0]",
               "may only appear as the templates")
        expectValid("AuthorizationPolicy", "{rules: [{to: [{operation: {paths: ['/api/{*}/items/{**}', '/static/*', '/a b']}}]}]}")
    }

    func testConditionKeysAndValues() {
        let key = "spec.rules[0].when[0].key"
        expect("AuthorizationPolicy", "{rules: [{when: [{key: destination.namespace, values: [a]}]}]}", key, "replaced by the policy's metadata.namespace")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: 'destination.labels[app]', values: [a]}]}]}", key, "replaced by the policy's selector")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: destination.user, values: [a]}]}]}", key, "only supported in security.istio.io/v1alpha1")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: experimental.envoy.filters.a, values: [a]}]}]}", key, "inside brackets")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: source.ip, values: []}]}]}", "spec.rules[0].when[0]", "at least one of values or notValues")
        expectValid("AuthorizationPolicy", "{rules: [{when: [{key: 'experimental.envoy.filters.a.b[c]', values: [x]}, {key: 'request.auth.claims[iss]', notValues: [issuer-two]}]}]}")
    }

    func testFromAndToMustNotBeEmptyLists() {
        expect("AuthorizationPolicy", "{rules: [{from: []}]}", "spec.rules[0].from", "must not be an empty list")
        expect("AuthorizationPolicy", "{rules: [{to: []}]}", "spec.rules[0].to", "must not be an empty list")
        expect("AuthorizationPolicy", "{rules: [{from: [{}]}]}", "spec.rules[0].from[0]", "source must be set")
    }

    func testDenyAndCustomActionsNeedRules() {
        expect("AuthorizationPolicy", "{action: DENY}", "spec.action", "DENY action without rules never applies")
        expect("AuthorizationPolicy", "{action: CUSTOM, provider: {name: ext}}", "spec.action", "CUSTOM action without rules never applies")
        expect("AuthorizationPolicy", "{action: CUSTOM, rules: [{}]}", "spec.provider", "provider must be set when action is CUSTOM")
        expect("AuthorizationPolicy", "{action: ALLOW, provider: {name: ext}, rules: [{}]}", "spec.provider", "provider may only be set when action is CUSTOM")
        expectValid("AuthorizationPolicy", "{action: DENY, rules: [{}]}")
        expectValid("AuthorizationPolicy", "{}")
    }

    func testCustomActionCannotMatchIdentities() {
        let custom = "action: CUSTOM, provider: {name: ext}"
        expect("AuthorizationPolicy", "{\(custom), rules: [{from: [{source: {principals: [a]}}]}]}",
               "spec.rules[0].from[0].source.principals", "not supported with the CUSTOM action")
        expect("AuthorizationPolicy", "{\(custom), rules: [{when: [{key: request.auth.principal, values: [a]}]}]}",
               "spec.rules[0].when[0].key", "not supported with the CUSTOM action")
        expectValid("AuthorizationPolicy", "{\(custom), rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}], to: [{operation: {paths: [/admin]}}]}]}")
    }

    func testDenyOnHTTPAttributesOnlyWarns() {
        expect("AuthorizationPolicy", "{action: DENY, rules: [{to: [{operation: {methods: [POST]}}]}]}", "spec.rules[0]", "denies all traffic to TCP ports", .warning)
        expect("AuthorizationPolicy", "{action: DENY, rules: [{from: [{source: {requestPrincipals: ['*']}}]}]}", "spec.rules[0]", "only HTTP attributes", .warning)
        XCTAssertEqual(problems("AuthorizationPolicy", "{action: DENY, rules: [{to: [{operation: {methods: [POST], ports: ['8080']}}]}]}"), [])
    }

    func testTargetRefKinds() {
        for kind in ["AuthorizationPolicy", "RequestAuthentication", "Telemetry"] {
            expect(kind, "{targetRef: {kind: Deployment, group: apps, name: a}}", "spec.targetRef.kind", "targetRef must be to one of")
            expect(kind, "{targetRefs: [{kind: Gateway, name: a}]}", "spec.targetRefs[0].kind", "but was Gateway")
            expectValid(kind, "{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: a}, {kind: Service, group: '', name: b}, "
                        + "{kind: ServiceEntry, group: networking.istio.io, name: c}, {kind: GatewayClass, group: gateway.networking.k8s.io, name: d}]}")
        }
        expect("WasmPlugin", "{url: oci://a, targetRef: {kind: Pod, name: a}}", "spec.targetRef.kind", "targetRef must be to one of")
    }

    func testPolicySelectors() {
        expect("AuthorizationPolicy", "{selector: {}}", "spec.selector", "selector specified without labels", .warning)
        expect("PeerAuthentication", "{selector: {matchLabels: {}}}", "spec.selector", "selector specified without labels", .warning)
        expect("RequestAuthentication", "{selector: {matchLabels: {app: \(String(repeating: "x", count: 64))}}}", "spec.selector.matchLabels.app",
               "at most 63 chars")
        expect("ProxyConfig", "{selector: {matchLabels: {'*': a}}}", "spec.selector.matchLabels.*", "wildcard not allowed in label key match")
    }

    func testAnnotations() {
        expectValid("AuthorizationPolicy", "{action: DENY, rules: [{}]}", annotations: "{istio.io/dry-run: 'true'}")
        expect("AuthorizationPolicy", "{action: DENY, rules: [{}]}", "metadata.annotations.istio.io/dry-run", "must be \"true\" or \"false\"",
               annotations: "{istio.io/dry-run: 'yes'}")
        expect("AuthorizationPolicy", "{action: AUDIT}", "metadata.annotations.istio.io/dry-run", "only supports the ALLOW and DENY actions",
               annotations: "{istio.io/dry-run: 'true'}")
        expect("PeerAuthentication", "{}", "metadata.annotations.istio.io/dry-run", "only an AuthorizationPolicy can be a dry run",
               annotations: "{istio.io/dry-run: 'true'}")
        expect("Telemetry", "{}", "metadata.annotations.internal.istio.io/webhook-always-reject", "annotation found, rejecting",
               annotations: "{internal.istio.io/webhook-always-reject: 'true'}")
        expect("WasmPlugin", "{url: oci://a}", "metadata.annotations.internal.istio.io/parents", "may not be set by users",
               annotations: "{internal.istio.io/parents: a}")
    }

    // MARK: PeerAuthentication

    func testPeerAuthenticationHasASelectorOnly() {
        expect("PeerAuthentication", "{targetRef: {kind: Service, name: a}}", "spec.targetRef", "unknown field")
        expect("PeerAuthentication", "{selector: {matchLabels: {}}, portLevelMtls: {'8080': {mode: DISABLE}}}", "spec.portLevelMtls",
               "portLevelMtls requires selector")
        expectValid("PeerAuthentication", "{selector: {matchLabels: {app: a}}, portLevelMtls: {'8080': {mode: DISABLE}}}")
    }

    // MARK: RequestAuthentication

    func testJwksURISpellingsAndScheme() {
        expectValid("RequestAuthentication", "{jwtRules: [{issuer: a, jwks_uri: 'HTTPS://keys.example.com/jwks'}]}")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwks_uri: 'ftp://keys'}]}", "spec.jwtRules[0].jwks_uri", "url must have scheme")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwksUri: 'https://exa mple.com/keys'}]}", "spec.jwtRules[0].jwksUri", "is not a valid URL")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwksUri: 'https://\(String(repeating: "k", count: 2048))'}]}",
               "spec.jwtRules[0].jwksUri", "at most 2048 chars")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwksUri: 'https://a', jwks: '{\"keys\": []}'}]}", "spec.jwtRules[0]",
               "only one of jwks or jwksUri can be set")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwksUri: 'https://a', jwks_uri: 'https://b'}]}", "spec.jwtRules[0]",
               "only one of jwks or jwksUri can be set")
    }

    func testIssuerOrJwksURIRequired() {
        expect("RequestAuthentication", "{jwtRules: [{audiences: [a]}]}", "spec.jwtRules[0]", "issuer or jwksUri must be set")
        expectValid("RequestAuthentication", "{jwtRules: [{jwksUri: 'https://a/keys'}]}")
    }

    func testInlineJWKS() {
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwks: 'not json'}]}", "spec.jwtRules[0].jwks", "not a JSON Web Key Set")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwks: '{\"keys\": [{\"n\": \"x\"}]}'}]}", "spec.jwtRules[0].jwks", "each with \"kty\"")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, jwks: '{\"keys\": [{\"kty\": \"RSA\", \"n\": \"x\", \"e\": \"AQAB\", \"d\": \"secret\"}]}'}]}",
               "spec.jwtRules[0].jwks", "private key material", .warning)
        expectValid("RequestAuthentication", "{jwtRules: [{issuer: a, jwks: '{\"keys\": [{\"kty\": \"RSA\", \"n\": \"x\", \"e\": \"AQAB\"}]}'}]}")
    }

    func testJWTTimeoutAndClaims() {
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, timeout: 1500us}]}", "spec.jwtRules[0].timeout", "only whole milliseconds")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, timeout: 1us}]}", "spec.jwtRules[0].timeout", "greater than 1ms")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, timeout: soon}]}", "spec.jwtRules[0].timeout", "must be a valid duration greater than 1ms")
        let claims = (1...65).map { "c\($0)" }.joined(separator: ", ")
        expect("RequestAuthentication", "{jwtRules: [{issuer: a, spaceDelimitedClaims: [\(claims)]}]}", "spec.jwtRules[0].spaceDelimitedClaims", "at most 64 items")
        expectValid("RequestAuthentication", "{jwtRules: [{issuer: a, timeout: 2500ms}]}")
    }

    // MARK: Telemetry

    func testTracingCustomTags() {
        expectValid("Telemetry", "{tracing: [{customTags: {a: {formatter: {value: '%REQ(:path)%'}}, b: {}}}]}")
        expect("Telemetry", "{tracing: [{customTags: {a: {literal: {value: x}, formatter: {value: z}}}}]}", "spec.tracing[0].customTags.a", "only one of")
        expect("Telemetry", "{tracing: [{customTags: {'': {literal: {value: x}}}}]}", "spec.tracing[0].customTags.", "needs a name")
        expect("Telemetry", "{tracing: [{customTags: {a: {formatter: {}}}}]}", "spec.tracing[0].customTags.a.formatter.value", "Required value")
    }

    func testTracingWarnings() {
        expect("Telemetry", "{tracing: [{providers: [{name: a}]}, {providers: [{name: b}]}]}", "spec.tracing", "more than one tracing entry", .warning)
        expect("Telemetry", "{tracing: [{providers: [{name: a}, {name: b}]}]}", "spec.tracing[0].providers", "more than one tracing provider", .warning)
        expect("Telemetry", "{tracing: [{disableContextPropagation: maybe}]}", "spec.tracing[0].disableContextPropagation", "must be of type boolean")
    }

    func testMetricsOverrides() {
        let override = "spec.metrics[0].overrides[0]"
        expect("Telemetry", "{metrics: [{overrides: [{tagOverrides: {a: {value: ''}}}]}]}", override + ".tagOverrides.a.value", "value must be set when operation is UPSERT")
        expect("Telemetry", "{metrics: [{overrides: [{tagOverrides: {a: {operation: UPSERT}}}]}]}", override + ".tagOverrides.a.value", "value must be set")
        expect("Telemetry", "{metrics: [{overrides: [{tagOverrides: {'': {operation: REMOVE}}}]}]}", override + ".tagOverrides.", "without a name", .warning)
        expect("Telemetry", "{metrics: [{overrides: [{match: {metric: REQUEST_COUNT, customMetric: a}}]}]}", override + ".match", "only one of metric, customMetric")
        expect("Telemetry", "{metrics: [{reportingInterval: 0s}]}", "spec.metrics[0].reportingInterval", "greater than 1ms")
        expectValid("Telemetry", "{metrics: [{reportingInterval: 10s, overrides: [{match: {customMetric: a}, tagOverrides: {b: {operation: REMOVE}}}]}]}")
    }

    func testAccessLogFilter() {
        expect("Telemetry", "{accessLogging: [{filter: {expression: 'response.code >= (400'}}]}", "spec.accessLogging[0].filter.expression", "valid CEL expression")
        expect("Telemetry", "{accessLogging: [{filter: {expression: 'request.path == \"/a'}}]}", "spec.accessLogging[0].filter.expression", "valid CEL expression")
        expectValid("Telemetry", "{accessLogging: [{filter: {expression: 'response.code >= 400 && request.headers[\"x-id\"] != \"(\"'}}]}")
    }

    // MARK: WasmPlugin, TrafficExtension, ProxyConfig

    func testWasmPluginFields() {
        expectValid("WasmPlugin", "{url: oci://a, verificationKey: abc, priority: 10}")
        expect("WasmPlugin", "{url: oci://a, priority: 2147483648}", "spec.priority", "less than or equal to 2147483647")
    }

    func testTrafficExtension() {
        expectValid("TrafficExtension", "{selector: {matchLabels: {app: a}}, phase: AUTHN, lua: {inlineCode: 'function envoy_on_request(h) end'}}")
        expect("TrafficExtension", "{lua: {inlineCode: x}, wasm: {url: oci://a}}", "spec", "exactly one of wasm or lua must be set")
        expect("TrafficExtension", "{phase: AUTHN}", "spec", "exactly one of wasm or lua must be set")
        expect("TrafficExtension", "{lua: {inlineCode: ''}}", "spec.lua.inlineCode", "at least 1 chars long")
        expect("TrafficExtension", "{wasm: {url: 'gopher://a'}}", "spec.wasm.url", "url must have schema one of")
        expect("TrafficExtension", "{lua: {inlineCode: x}, targetRef: {kind: Service, name: a}}", "spec.targetRef", "unknown field")
        expect("TrafficExtension", "{lua: {inlineCode: x}, phase: AUTHZZ}", "spec.phase", "Unsupported value")
    }

    func testProxyConfigFields() {
        expect("ProxyConfig", "{targetRef: {kind: Service, name: a}}", "spec.targetRef", "unknown field")
        expect("ProxyConfig", "{environmentVariables: {A: \(String(repeating: "v", count: 2049))}}", "spec.environmentVariables.A", "at most 2048 chars")
        expect("ProxyConfig", "{concurrency: 4294967296}", "spec.concurrency", "less than or equal to 2147483647")
        expectValid("ProxyConfig", "{concurrency: 2, image: {imageType: distroless}, environmentVariables: {A: b}}")
    }

    // MARK: Shared

    func testOneWayToPickWorkloads() {
        for (kind, extra) in [("AuthorizationPolicy", ""), ("RequestAuthentication", ""), ("Telemetry", ""), ("WasmPlugin", "url: oci://a, "),
                              ("TrafficExtension", "lua: {inlineCode: x}, ")] {
            expect(kind, "{\(extra)selector: {matchLabels: {a: b}}, targetRefs: [{kind: Service, name: a}]}", "spec",
                   "only one of targetRefs or selector can be set")
        }
        let seventeen = (1...17).map { "{kind: Service, name: s\($0)}" }.joined(separator: ", ")
        expect("AuthorizationPolicy", "{targetRefs: [\(seventeen)]}", "spec.targetRefs", "at most 16 items")
    }

    func testShapesLimitsAndEnums() {
        expect("AuthorizationPolicy", "{action: LOG}", "spec.action", "Unsupported value: \"LOG\"")
        expect("AuthorizationPolicy", "{rules: [~]}", "spec.rules[0]", "must be of type object")
        expect("AuthorizationPolicy", "{rules: [{when: [{values: [a]}]}]}", "spec.rules[0].when[0].key", "Required value")
        expect("AuthorizationPolicy", "{rules: [{from: [{source: {principals: ['']}}]}]}", "spec.rules[0].from[0].source.principals[0]", "at least 1 chars long")
        expect("AuthorizationPolicy", "{rules: [{to: [{operation: {methods: ['']}}]}]}", "spec.rules[0].to[0].operation.methods[0]", "at least 1 chars long")
        expect("AuthorizationPolicy", "{rules: [{when: [{key: remote.ip, values: [not-an-ip]}]}]}", "spec.rules[0].when[0].values[0]",
               "not an IP address or CIDR range")
        let rules = Array(repeating: "{}", count: 513).joined(separator: ", ")
        expect("AuthorizationPolicy", "{rules: [\(rules)]}", "spec.rules", "at most 512 items")
        let sources = Array(repeating: "{source: {principals: [a]}}", count: 513).joined(separator: ", ")
        expect("AuthorizationPolicy", "{rules: [{from: [\(sources)]}]}", "spec.rules[0].from", "at most 512 items")
        let jwtRules = Array(repeating: "{issuer: a}", count: 4097).joined(separator: ", ")
        expect("RequestAuthentication", "{jwtRules: [\(jwtRules)]}", "spec.jwtRules", "at most 4096 items")
        expect("Telemetry", "{metrics: [{overrides: [{tagOverrides: {a: {operation: DELETE}}}]}]}", "spec.metrics[0].overrides[0].tagOverrides.a.operation",
               "Unsupported value")
        expect("Telemetry", "{accessLogging: [{match: {mode: BOTH}}]}", "spec.accessLogging[0].match.mode", "Unsupported value")
        expect("WasmPlugin", "{url: oci://a, failStrategy: FAIL_SOMETIMES}", "spec.failStrategy", "Unsupported value")
    }

    /// Kubernetes reports every CEL rule that fails beside the schema's errors, so a rule at the spec still
    /// runs when a field inside it is wrong.
    func testCELRulesRunBesideSchemaErrors() {
        let found = problems("RequestAuthentication", "{selector: {matchLabels: {a: b}}, targetRef: {kind: Service, name: a, namespace: other}}")
        XCTAssertTrue(found.contains { $0.path.fieldPath == "spec" && $0.message == "only one of targetRefs or selector can be set" }, "\(found)")
        XCTAssertTrue(found.contains { $0.path.fieldPath == "spec.targetRef.namespace" }, "\(found)")
    }
}
