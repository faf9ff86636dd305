import XCTest
@testable import Manifests

final class ResourceValidatorTests: XCTestCase {
    private func problems(_ text: String) throws -> [ValidationProblem] {
        guard case .checked(_, let problems) = ResourceValidator.validate(try YAMLParser.parse(text)[0].root) else {
            XCTFail("skipped: \(text)")
            return []
        }
        return problems
    }

    /// Each rule: a resource, the field that is wrong, words of the message, and the line it is on.
    func testRulesPerKindWithLocations() throws {
        let cases: [(String, String, String, Int)] = [
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    retries: {attempts: 2, retryOn: '5xx,sometimes'}\n",
             "spec.http[0].retries.retryOn", "is not a valid retryOn policy", 8),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: ['*']\n  http:\n  - route: [{destination: {host: a}}]\n",
             "spec.hosts[0]", "not allowed for virtual services bound to the mesh gateway", 5),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - match: [{uri: {regex: '(unclosed'}}]\n    route: [{destination: {host: a}}]\n",
             "spec.http[0].match[0].uri.regex", "not a valid regular expression", 7),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - redirect: {uri: /x}\n    route: [{destination: {host: a}}]\n",
             "spec.http[0]", "both route and redirect", 7),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - fault: {abort: {percentage: {value: 10}}}\n    route: [{destination: {host: a}}]\n",
             "spec.http[0].fault.abort", "error type not set", 7),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    headers:\n      response:\n        set: {Host: b}\n",
             "spec.http[0].headers.response.set.Host", "cannot set Host header", 10),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      headers: {response: {remove: [':path']}}\n",
             "spec.http[0].route[0].headers.response.remove[0]", "header cannot have \":\" prefix", 9),
            ("apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ['*']\n",
             "spec.servers[0].tls", "must have TLS settings", 6),
            ("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ['*']\n    tls: {mode: SIMPLE}\n",
             "spec.servers[0].tls.serverCertificate", "or use credentialName", 8),
            ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: a\n  subsets:\n  - name: v1\n  - name: v1\n",
             "spec.subsets[1].name", "duplicate subset name", 8),
            ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: a\n  trafficPolicy:\n    outlierDetection: {maxEjectionPercent: 150}\n",
             "spec.trafficPolicy.outlierDetection.maxEjectionPercent", "less than or equal to 100", 7),
            ("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s}\nspec:\n  egress:\n  - hosts: [foo.example.com]\n",
             "spec.egress[0].hosts[0]", "must be of form namespace/dnsName", 6),
            ("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [example.com]\n  ports: [{number: 80, name: a}, {number: 80, name: b}]\n",
             "spec.ports[1]", "port number cannot be duplicated", 6),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  action: CUSTOM\n  rules: [{}]\n",
             "spec.provider", "provider must be set", 5),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - when:\n    - key: request.header[x-id]\n      values: [a]\n",
             "spec.rules[0].when[0].key", "did you mean \"request.headers[...]\"", 7),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - when:\n    - key: request.headers[]\n      values: [a]\n",
             "spec.rules[0].when[0].key", "inside brackets", 7),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - when:\n    - key: source.ip\n",
             "spec.rules[0].when[0]", "at least one of values or notValues", 7),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - when:\n    - key: destination.port\n      notValues: ['80', http]\n",
             "spec.rules[0].when[0].notValues[1]", "not a port number", 8),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.0/33]}\n",
             "spec.rules[0].from[0].source.ipBlocks[0]", "not an IP address or CIDR range", 7),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - to:\n    - operation: {}\n",
             "spec.rules[0].to[0].operation", "must set at least one field", 7),
            ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - to:\n    - operation: {ports: ['8080', '70000']}\n",
             "spec.rules[0].to[0].operation.ports[1]", "not a port number from 0 to 65535", 7),
            ("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n  mtls: {mode: STRICTER}\n",
             "spec.mtls.mode", "Unsupported value: \"STRICTER\"", 5),
            ("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec:\n  jwtRules:\n  - issuer: x\n    jwksUri: ftp://keys\n",
             "spec.jwtRules[0].jwksUri", "url must have scheme", 7),
            ("apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  tracing:\n  - randomSamplingPercentage: 101\n",
             "spec.tracing[0].randomSamplingPercentage", "less than or equal to 100", 6),
            ("apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  tracing:\n  - customTags:\n      team: {literal: {value: shop}, header: {name: x-team}}\n",
             "spec.tracing[0].customTags.team", "only one of literal, environment, header, formatter", 7),
            ("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: w}\nspec:\n  url: oci://x\n  phase: LATE\n",
             "spec.phase", "Unsupported value", 6),
            ("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: e}\nspec:\n  configPatches:\n  - applyTo: HTTP_FILTR\n",
             "spec.configPatches[0].applyTo", "Unsupported value: \"HTTP_FILTR\"", 6),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    corsPolicy: {allowMethods: [GET, FETCH]}\n",
             "spec.http[0].corsPolicy.allowMethods[1]", "\"FETCH\" is not an HTTP method", 8),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    rewrite: {uri: /, uriRegexRewrite: {match: '^/a', rewrite: /b}}\n",
             "spec.http[0].rewrite", "not both", 8),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  tls:\n  - match: [{port: 443}]\n    route: [{destination: {host: a}}]\n",
             "spec.tls[0].match[0].sniHosts", "Required value", 7),
            ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    mirrors: [{percentage: {value: 5}}]\n",
             "spec.http[0].mirrors[0].destination", "Required value", 8),
            ("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: e}\nspec:\n  configPatches:\n  - applyTo: CLUSTER\n    match: {cluster: {portNumber: 70000}}\n",
             "spec.configPatches[0].match.cluster.portNumber", "port", 7),
            ("apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec:\n  address: unix:///sock/\n",
             "spec.address", "UDS may not be a dir", 5),
        ]
        for (text, field, words, line) in cases {
            let found = try problems(text)
            let match = found.first { $0.path.fieldPath == field && $0.message.contains(words) }
            XCTAssertNotNil(match, "\(field): \(words) not among \(found.map { "\($0.path.fieldPath): \($0.message)" })")
            XCTAssertEqual(match?.location.line, line, field)
        }
    }

    func testResourceLevelChecks() throws {
        XCTAssertEqual(try problems("kind: VirtualService\nmetadata: {name: a}\n").first?.message, "Required value: apiVersion is missing")
        XCTAssertEqual(try problems("apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\n").first?.path.fieldPath, "apiVersion")
        XCTAssertTrue(try problems("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: a}\nspce: {}\n")
            .contains { $0.message == "unknown field \"spce\"; did you mean \"spec\"?" })
        guard case .skipped(_, let reason) = ResourceValidator.validate(try YAMLParser.parse("apiVersion: v1\nkind: ConfigMapX\nmetadata: {name: c}\n")[0].root) else {
            return XCTFail("expected a skip")
        }
        XCTAssertEqual(reason, "not an Istio resource")
    }

    func testDurationsAndDuplicateKeys() throws {
        XCTAssertEqual(DurationText.seconds("1m30s"), 90)
        XCTAssertEqual(DurationText.seconds("250ms"), 0.25)
        XCTAssertNil(DurationText.seconds("10"))
        XCTAssertNil(DurationText.seconds("apple"))
        let node = try YAMLParser.parse("a: 1\nb: {c: 1, c: 2}\na: 3\n")[0].root
        XCTAssertTrue(IPAddressText.isCIDR("2001:db8::/32"))
        XCTAssertFalse(IPAddressText.isCIDR("2001:db8::/129"))
        XCTAssertTrue(IPAddressText.isAddressOrCIDR("10.1.2.3"))
        XCTAssertFalse(IPAddressText.isAddressOrCIDR("10.1.2"))
        XCTAssertEqual(DuplicateKeys.find(node).map { $0.path.fieldPath }, ["b.c", "a"])
    }
}
