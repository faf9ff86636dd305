import XCTest
@testable import Manifests

final class AnalyzersTests: XCTestCase {
    private func run(_ analyzer: String, _ text: String) throws -> [AnalysisMessage] {
        let resources = try YAMLParser.parse(text, file: "in.yaml").compactMap { AnalyzedResource($0.root, file: "in.yaml") }
        return Analyzers.run([try XCTUnwrap(Analyzers.named(analyzer))], on: AnalysisInput(resources: resources))
    }

    func testMissingGatewayAndUnservedHost() throws {
        let messages = try run("virtualservice.GatewayAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web, namespace: shop}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["./*.shop.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: shop}
            spec:
              hosts: [cart.shop.example.com]
              gateways: [web, edge, mesh]
              http:
              - route: [{destination: {host: cart}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: other, namespace: blog}
            spec:
              hosts: [cart.shop.example.com]
              gateways: [shop/web]
            """)
        XCTAssertEqual(messages.map(\.logLine), [
            "Error [IST0101] (VirtualService shop/cart in.yaml:14) Referenced gateway not found: \"edge\"",
            "Warning [IST0132] (VirtualService shop/cart in.yaml:14) none of the hosts [cart.shop.example.com] of VirtualService shop/cart "
                + "is served by Gateway shop/edge; add them to one of the Gateway's servers",
            "Warning [IST0132] (VirtualService blog/other in.yaml:23) none of the hosts [cart.shop.example.com] of VirtualService blog/other "
                + "is served by Gateway shop/web; add them to one of the Gateway's servers",
        ])
        XCTAssertEqual(messages.first?.type.documentationURL, "https://istio.io/latest/docs/reference/config/analysis/ist0101/")
    }

    func testSubsetsAndPortNames() throws {
        let subsets = try run("virtualservice.DestinationRuleAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: cart, namespace: shop}
            spec: {host: cart.shop.svc.cluster.local, subsets: [{name: v1, labels: {version: v1}}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: shop}
            spec:
              hosts: [cart]
              http:
              - route: [{destination: {host: cart, subset: v1}, weight: 90}, {destination: {host: cart, subset: v2}, weight: 10}]
            """)
        XCTAssertEqual(subsets.map(\.text), ["Referenced host+subset in destinationrule not found: \"cart+v2\""])
        XCTAssertEqual(subsets.first?.location.line, 12)

        // As Istio, the message points at the destination's host (not the subset), and names a mirror as one.
        let spread = try run("virtualservice.DestinationRuleAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: shop}
            spec:
              hosts: [cart]
              http:
              - route:
                - destination:
                    host: cart
                    subset: v2
                mirror:
                  host: cart
                  subset: shadow
            """)
        XCTAssertEqual(spread.map(\.text), ["Referenced host+subset in destinationrule not found: \"cart+v2\"",
                                            "Referenced mirror+subset in destinationrule not found: \"cart+shadow\""])
        XCTAssertEqual(spread.map(\.location.line), [9, 12])

        let ports = try run("service.PortNameAnalyzer", """
            apiVersion: v1
            kind: Service
            metadata: {name: cart, namespace: shop}
            spec:
              ports: [{name: http-web, port: 80}, {name: web, port: 8080}, {name: x, port: 9000, appProtocol: grpc}, {port: 53, protocol: UDP}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: dns, namespace: kube-system}
            spec: {ports: [{name: dns, port: 53}]}
            """)
        XCTAssertEqual(ports.map(\.type.code), ["IST0118"])
        XCTAssertTrue(ports[0].text.hasPrefix("Port name web (port: 8080, targetPort: 8080)"))
    }

    func testTLSWithoutCAAndProxyUID() throws {
        let tls = try run("destinationrule.CaCertificateAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: db, namespace: shop}
            spec:
              host: db.example.com
              trafficPolicy:
                tls: {mode: SIMPLE}
                portLevelSettings:
                - port: {number: 5432}
                  tls: {mode: MUTUAL, caCertificates: /etc/ca.pem}
                - port: {number: 5433}
                  tls: {mode: MUTUAL, credentialName: db-client}
            """)
        XCTAssertEqual(tls.map(\.type.code), ["IST0128", "IST0129"])
        XCTAssertEqual(tls.map(\.location.line), [7, 12])

        let uid = try run("applicationUID.Analyzer", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: shop}
            spec:
              template:
                spec:
                  securityContext: {runAsUser: 1337}
                  containers: [{name: web, image: web, securityContext: {runAsUser: 1337}}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: ok, namespace: shop}
            spec:
              containers: [{name: istio-proxy, image: proxy, securityContext: {runAsUser: 1337}}]
            """)
        XCTAssertEqual(uid.map(\.resource.origin), ["Deployment shop/web"])
    }

    func testGatewayWorkloadsPortsAndConflicts() throws {
        let gateways = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: edge}
            spec:
              selector: {app: edge}
              servers: [{port: {number: 8443, name: https, protocol: HTTPS}, hosts: ["*.example.com"], tls: {mode: SIMPLE, credentialName: c}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop, namespace: edge}
            spec:
              selector: {app: edge, tier: web}
              servers: [{port: {number: 8443, name: https, protocol: HTTPS}, hosts: [shop.example.com], tls: {mode: SIMPLE, credentialName: c}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: nowhere, namespace: edge}
            spec:
              selector: {app: nothing}
              servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: edge-1, namespace: edge, labels: {app: edge, tier: web}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: edge, namespace: edge}
            spec: {selector: {app: edge}, ports: [{name: https, port: 443, targetPort: 8444}]}
            """
        let ports = try run("gateway.IngressGatewayPortAnalyzer", gateways)
        XCTAssertEqual(ports.map(\.codeAndName), ["IST0162 public", "IST0162 shop", "IST0101 nowhere"])
        XCTAssertEqual(ports.last?.text, "Referenced selector not found: \"app=nothing\"")
        let conflicts = try run("gateway.ConflictingGatewayAnalyzer", gateways)
        XCTAssertEqual(conflicts.map(\.codeAndName), ["IST0145 public", "IST0145 shop"])
        XCTAssertTrue(conflicts[0].text.hasPrefix("conflicts with Gateway edge/shop (workload selector app=edge, port 8443, hosts *.example.com)"))
    }

    func testServicesOfDeploymentsSubsetsAndServiceEntries() throws {
        let shop = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: cart, namespace: shop}
            spec: {template: {metadata: {labels: {app: cart, version: v1}}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: cart, namespace: shop}
            spec: {selector: {app: cart}, ports: [{name: http, port: 80, targetPort: 8080}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: cart-grpc, namespace: shop}
            spec: {selector: {app: cart}, ports: [{name: grpc, port: 80, targetPort: 8080}, {name: tcp, port: 81, targetPort: 8080}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: cart-1, namespace: shop, labels: {app: cart, version: v1}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: cart, namespace: shop}
            spec: {host: cart, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: ghost, namespace: shop}
            spec: {host: ghost}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api-http, namespace: shop}
            spec: {hosts: [api.example.com], ports: [{number: 8080, name: http, protocol: HTTP}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api-tls, namespace: blog}
            spec: {hosts: [api.example.com], ports: [{number: 8080, name: tls, protocol: TLS}]}
            """
        XCTAssertEqual(try run("deployment.MultiServiceAnalyzer", shop).map(\.type.code), ["IST0116", "IST0137"])
        let subsets = try run("destinationrule.SubsetSelectPodAnalyzer", shop)
        XCTAssertEqual(subsets.map(\.codeAndName), ["IST0173 cart", "IST0174 ghost"])
        XCTAssertTrue(subsets[0].text.hasPrefix("subset v2 selects no pod of Service shop/cart"))
        XCTAssertEqual(try run("serviceentry.ConflictingServiceEntryProtocolAnalyzer", shop).map(\.resource.origin),
                       ["ServiceEntry shop/api-http", "ServiceEntry blog/api-tls"])
    }

    func testSidecarsAndMeshHosts() throws {
        let sidecars = try run("sidecar.SelectorAnalyzer", """
            apiVersion: v1
            kind: Pod
            metadata: {name: cart-1, namespace: shop, labels: {app: cart, tier: web}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: by-app, namespace: shop}
            spec: {workloadSelector: {labels: {app: cart}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: by-tier, namespace: shop}
            spec: {workloadSelector: {labels: {tier: web}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: typo, namespace: shop}
            spec: {workloadSelector: {labels: {app: crat}}}
            """)
        XCTAssertEqual(sidecars.map(\.codeAndName), ["IST0101 typo", "IST0110 by-app", "IST0110 by-tier"])

        let hosts = try run("virtualservice.ConflictingMeshGatewayHostsAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: shop}
            spec: {hosts: [cart]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart-canary, namespace: blog}
            spec: {hosts: [cart.shop.svc.cluster.local], gateways: [mesh, edge]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart-edge, namespace: blog}
            spec: {hosts: [cart.shop.svc.cluster.local], gateways: [edge]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: private, namespace: blog}
            spec: {hosts: ["*.svc.cluster.local"], exportTo: ["."]}
            """)
        XCTAssertEqual(hosts.map(\.resource.origin), ["VirtualService shop/cart", "VirtualService blog/cart-canary", "VirtualService blog/private"])
    }

    func testDestinationHostsPortsAndExports() throws {
        let messages = try run("virtualservice.DestinationHostAnalyzer", """
            apiVersion: v1
            kind: Service
            metadata: {name: cart, namespace: shop, annotations: {networking.istio.io/exportTo: "., blog"}}
            spec: {ports: [{name: http, port: 80}, {name: grpc, port: 9000}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: payments, namespace: shop}
            spec: {hosts: ["*.payments.example.com"], ports: [{number: 443, name: tls, protocol: TLS}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: shop}
            spec:
              hosts: [cart]
              http:
              - route: [{destination: {host: cart}}, {destination: {host: cart, port: {number: 8080}}}, {destination: {host: crat}}]
              tls:
              - match: [{sniHosts: [eu.payments.example.com]}]
                route: [{destination: {host: eu.payments.example.com}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: admin}
            spec:
              hosts: [cart.shop.svc.cluster.local]
              http: [{route: [{destination: {host: cart.shop.svc.cluster.local, port: {number: 80}}}]}]
            """)
        let expected = [
            "destination cart is a Service with several ports (80, 9000)",
            "Referenced host:port not found: \"cart:8080\"",
            "Referenced host not found: \"crat\"",
            "Referenced host not found: \"cart.shop.svc.cluster.local\"",
        ]
        XCTAssertEqual(messages.count, expected.count, "\(messages.map(\.text))")
        for (message, start) in zip(messages, expected) { XCTAssertTrue(message.text.hasPrefix(start), message.text) }
        XCTAssertEqual(messages.last?.resource.origin, "VirtualService admin/cart")
    }

    func testTelemetrySelectorsAndProviders() throws {
        let text = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: logs, namespace: shop}
            spec: {accessLogging: [{filter: {expression: "response.code >= 500"}}]}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: traces, namespace: shop}
            spec: {tracing: [{providers: [{name: zipkin}]}]}
            """
        XCTAssertEqual(try run("telemetry.DefaultSelectorAnalyzer", text).map(\.resource.name), ["logs", "traces"])
        XCTAssertEqual(try run("telemetry.ProviderAnalyzer", text).map(\.resource.name), ["logs"])
        let withDefaults = try YAMLParser.parse(text).compactMap { AnalyzedResource($0.root) }
        let mesh = try YAMLParser.parse("defaultProviders: {accessLogging: [envoy]}\n")[0].root
        XCTAssertTrue(TelemetryProviderAnalyzer().analyze(AnalysisInput(resources: withDefaults, meshConfig: mesh)).isEmpty)

        let selectors = try run("telemetry.SelectorAnalyzer", """
            apiVersion: v1
            kind: Pod
            metadata: {name: cart-1, namespace: shop, labels: {app: cart}}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: a, namespace: shop}
            spec: {selector: {matchLabels: {app: cart}}}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: b, namespace: shop}
            spec: {selector: {matchLabels: {app: cart}}}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: c, namespace: shop}
            spec: {selector: {matchLabels: {app: crat}}}
            """)
        XCTAssertEqual(selectors.map(\.codeAndName), ["IST0101 c", "IST0159 a", "IST0159 b"])
    }

    func testExternalControlPlaneWebhooks() throws {
        let messages = try run("externalcontrolplane.ExternalControlPlaneAnalyzer", """
            apiVersion: admissionregistration.k8s.io/v1
            kind: MutatingWebhookConfiguration
            metadata: {name: injector}
            webhooks:
            - {name: namespace.sidecar-injector.istio.io, clientConfig: {url: "https://[2001:db8::1]:15017/inject"}}
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata: {name: validator}
            webhooks:
            - {name: rev.validation.istio.io, clientConfig: {url: ""}}
            - {name: other.example.com, clientConfig: {url: ""}}
            """)
        XCTAssertEqual(messages.map(\.codeAndName), ["IST0164 injector", "IST0163 validator"])
        XCTAssertEqual(ExternalControlPlaneAnalyzer.host(of: "https://istiod.example.com:15017/x"), "istiod.example.com")
    }

    func testSharedCertificatesAndJWKSFetches() throws {
        let certificates = try run("gateway.CertificateAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: public, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: wildcard}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: internal, namespace: edge}
            spec:
              selector: {istio: ingressgateway, tier: internal}
              servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: SIMPLE, credentialName: wildcard}}]
            """)
        XCTAssertEqual(certificates.map(\.resource.name), ["public"], "only the gateway whose selector is the wider one")

        let istiod = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: istiod, namespace: istio-system}
            spec: {template: {spec: {containers: [{name: discovery, env: [{name: PILOT_TRACE_SAMPLING, value: "1"}]}]}}}
            """
        XCTAssertTrue(try run("authn.BlockedCIDRsAnalyzer", istiod).isEmpty, "no RequestAuthentication, nothing to fetch")
        let fetching = try run("authn.BlockedCIDRsAnalyzer", istiod + """

            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: shop}
            spec: {jwtRules: [{issuer: x, jwksUri: "https://x/jwks"}]}
            """)
        XCTAssertEqual(fetching.map(\.type.code), ["IST0175"])
    }

    func testInjectionLabelsAndMissingProxies() throws {
        let text = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: blog}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: mixed, labels: {istio.io/rev: canary, istio.io/dataplane-mode: ambient}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: kube-system}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: cart-1, namespace: shop}
            spec: {containers: [{name: cart, image: cart}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: cart-2, namespace: shop}
            spec: {containers: [{name: cart, image: cart}], initContainers: [{name: istio-proxy, image: proxyv2}]}
            """
        let running = try run("injection.Analyzer", text)
        XCTAssertEqual(running.map(\.codeAndName), ["IST0102 blog", "IST0123 mixed", "IST0103 cart-1"])
        let files = try YAMLParser.parse(text).compactMap { AnalyzedResource($0.root) }
        XCTAssertEqual(InjectionAnalyzer().analyze(AnalysisInput(resources: files, podsAreRunning: false)).count, 2,
                       "pods from files are manifests, not running pods")
    }

    func testEnvoyFilterPatchOperations() throws {
        let messages = try run("envoyfilter.EnvoyPatchAnalyzer", """
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: lua, namespace: shop}
            spec:
              configPatches:
              - {applyTo: HTTP_FILTER, patch: {operation: INSERT_BEFORE}}
              - {applyTo: HTTP_FILTER, patch: {operation: INSERT_AFTER}}
              - {applyTo: HTTP_ROUTE, patch: {operation: ADD}}
            ---
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: ordered, namespace: shop}
            spec:
              priority: 5
              configPatches:
              - {applyTo: CLUSTER, patch: {operation: REPLACE}}
              - {applyTo: HTTP_FILTER, patch: {operation: INSERT_FIRST}}
            """)
        XCTAssertEqual(messages.map(\.codeAndName), ["IST0151 lua", "IST0153 lua", "IST0152 ordered"])
        XCTAssertEqual(messages[0].location.line, 6, "points at the first offending patch")
    }

    func testProxyImagesAfterAnUpgrade() throws {
        let values = #"{"global":{"hub":"docker.io/istio","tag":"1.32.0","proxy":{"image":"proxyv2"}}}"#
        let messages = try run("injection.ImageAnalyzer", """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio-sidecar-injector, namespace: istio-system}
            data: {values: '\(values)'}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, labels: {istio-injection: enabled}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: old, namespace: shop}
            spec: {containers: [{name: istio-proxy, image: "docker.io/istio/proxyv2:1.31.2"}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: pinned, namespace: shop, annotations: {sidecar.istio.io/proxyImage: "docker.io/istio/proxyv2:1.31.2"}}
            spec: {containers: [{name: istio-proxy, image: "docker.io/istio/proxyv2:1.31.2"}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: distroless, namespace: shop, annotations: {proxy.istio.io/config: "image: {imageType: distroless}"}}
            spec: {initContainers: [{name: istio-proxy, image: "docker.io/istio/proxyv2:1.32.0-distroless"}]}
            """)
        XCTAssertEqual(messages.map(\.type.code), ["IST0158"])
        XCTAssertTrue(messages[0].text.hasPrefix("pods old run a proxy image"), messages[0].text)
    }

    func testImageAutoGatewaySelectorsAndConditions() throws {
        let text = """
            apiVersion: admissionregistration.k8s.io/v1
            kind: MutatingWebhookConfiguration
            metadata: {name: istio-sidecar-injector}
            webhooks:
            - name: rev.namespace.sidecar-injector.istio.io
              namespaceSelector: {matchExpressions: [{key: istio.io/rev, operator: In, values: [stable]}]}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: edge, labels: {istio.io/rev: stable}}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: ingress, namespace: edge}
            spec: {template: {metadata: {labels: {app: ingress}}, spec: {containers: [{name: istio-proxy, image: auto}]}}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: stray, namespace: shop}
            spec: {containers: [{name: istio-proxy, image: auto}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-gw, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: web}}
            spec: {containers: [{name: istio-proxy, image: proxyv2}]}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: gw-policy, namespace: shop}
            spec: {selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web}}}
            status:
              conditions:
              - {type: argocd.argoproj.io/Synced, status: "False", reason: OutOfSync}
              - {type: WaypointAccepted, status: "False", reason: Invalid, message: unsupported field}
            """
        XCTAssertEqual(try run("injection.ImageAutoAnalyzer", text).map(\.codeAndName), ["IST0147 stray"])
        XCTAssertEqual(try run("k8sgateway.SelectorAnalyzer", text).map(\.resource.name), ["gw-policy"])
        let conditions = try run("conditions.ConditionAnalyzer", text)
        XCTAssertEqual(conditions.map(\.text), ["condition WaypointAccepted is False with reason Invalid: unsupported field"])
        XCTAssertTrue(LabelSelector(nil).matches([:]), "an absent selector selects everything")
    }

    func testClaimRoutesAndAuthorizationPolicies() throws {
        let text = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: shop}
            spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: beta, namespace: shop}
            spec:
              hosts: ["*"]
              gateways: [edge]
              http: [{match: [{headers: {"@request.auth.claims.group": {exact: beta}}}], route: [{destination: {host: cart}}]}]
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: from-prod, namespace: shop}
            spec:
              selector: {matchLabels: {app: cart}}
              rules: [{from: [{source: {namespaces: ["sh*", "prod-*"]}}]}]
            """
        XCTAssertEqual(try run("virtualservice.JWTClaimRouteAnalyzer", text).map(\.type.code), ["IST0149"])
        let withAuthentication = text + """

            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: istio-system}
            spec: {jwtRules: [{issuer: x}]}
            """
        XCTAssertTrue(try run("virtualservice.JWTClaimRouteAnalyzer", withAuthentication).isEmpty)
        let policies = try run("auth.AuthorizationPoliciesAnalyzer", text)
        XCTAssertEqual(policies.map(\.text), [
            "no running workload matches this policy (labels app=cart); check its selector and namespace",
            "Referenced namespace not found: \"prod-*\"",
        ])
    }

    func testDeprecatedFields() throws {
        let messages = try run("deprecation.DeprecationAnalyzer", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: chaos, namespace: shop}
            spec:
              hosts: [cart]
              http:
              - fault: {abort: {percent: 10, httpStatus: 503}}
                mirrorPercent: 5
                route: [{destination: {host: cart}}]
            """)
        XCTAssertEqual(messages.map(\.location.line), [7, 8])
        XCTAssertTrue(messages[0].text.hasPrefix("Deprecated: fault.abort.percent is deprecated"))
        let telemetry = try YAMLParser.parse("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec: {tracing: [{providers: [{name: ls}]}]}
            """).compactMap { AnalyzedResource($0.root) }
        let mesh = try YAMLParser.parse("extensionProviders: [{name: ls, lightstep: {service: x, port: 443}}]\n")[0].root
        XCTAssertEqual(LightstepAnalyzer().analyze(AnalysisInput(resources: telemetry, meshConfig: mesh)).map(\.type.code), ["IST0002"])
    }

    func testInjectionWebhooks() throws {
        let messages = try run("webhook.Analyzer", """
            apiVersion: admissionregistration.k8s.io/v1
            kind: MutatingWebhookConfiguration
            metadata: {name: default}
            webhooks:
            - {name: namespace.sidecar-injector.istio.io, clientConfig: {service: {name: istiod, namespace: istio-system}},
               namespaceSelector: {matchLabels: {istio-injection: enabled}}}
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: MutatingWebhookConfiguration
            metadata: {name: canary}
            webhooks:
            - {name: rev.namespace.sidecar-injector.istio.io, clientConfig: {service: {name: istiod-canary, namespace: istio-system}},
               namespaceSelector: {matchExpressions: [{key: istio.io/rev, operator: In, values: [canary]},
                                                      {key: istio-injection, operator: DoesNotExist}]}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: istiod, namespace: istio-system}
            """)
        XCTAssertEqual(messages.map(\.resource.name), ["canary"])
        XCTAssertTrue(messages[0].text.contains("istio-system/istiod-canary, which does not exist"))
        XCTAssertTrue(WebhookAnalyzer.overlap(try YAMLParser.parse("matchLabels: {a: x}").first?.root, nil))
    }

    func testUnreachableRulesAndIneffectiveMatches() throws {
        let messages = try run("schema.ValidationAnalyzer.VirtualService", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: cart, namespace: shop}
            spec:
              hosts: [cart]
              http:
              - name: api
                match: [{uri: {prefix: /api}}]
                route: [{destination: {host: cart}}]
              - name: api-v1
                match: [{uri: {prefix: /api/v1}, method: {exact: GET}}, {uri: {prefix: /shop}}]
                route: [{destination: {host: cart, subset: v1}}]
              - name: again
                match: [{uri: {prefix: /api}, name: same}]
                route: [{destination: {host: cart, subset: v2}}]
              - route: [{destination: {host: cart}}]
              - route: [{destination: {host: cart, subset: v3}}]
            """)
        XCTAssertEqual(messages.map { "\($0.type.code) \($0.location.line)" }, [
            "IST0131 11", "IST0131 14", "IST0130 13", "IST0130 17",
        ])
        XCTAssertTrue(messages[0].text.hasPrefix("match 0 of rule \"api-v1\" is never used: rule http[0]"), messages[0].text)
    }

    func testGatewaySecretsAndTheDefaultIngressGateway() throws {
        let text = """
            apiVersion: v1
            kind: Secret
            metadata: {name: shop-cert, namespace: istio-system}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: shop-cert}}
              - {port: {number: 8443, name: https-2, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: SIMPLE, credentialName: b-cert}}
            """
        let secrets = try run("gateway.SecretAnalyzer", text)
        XCTAssertEqual(secrets.map(\.text), [
            "TLS credential istio-system/shop-cert cannot be served, so TLS to this gateway fails: the secret needs the keys tls.crt and "
                + "tls.key (or cert and key), but has none",
            "Referenced credentialName not found: \"istio-system/b-cert\"",
        ])
        let ports = try run("gateway.IngressGatewayPortAnalyzer", text)
        XCTAssertEqual(ports.map { "\($0.type.code) \($0.location.line)" }, ["IST0162 12"], "the default ingress gateway's Service has 80 and 443")
    }

    func testResourcesSuppressMessagesAboutThemselves() throws {
        let messages = try run("service.PortNameAnalyzer", """
            apiVersion: v1
            kind: Service
            metadata: {name: legacy, namespace: shop, annotations: {galley.istio.io/analyze-suppress: "IST0102, IST0118"}}
            spec: {ports: [{name: web, port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: other, namespace: shop, annotations: {galley.istio.io/analyze-suppress: "IST0102"}}
            spec: {ports: [{name: web, port: 80}]}
            """)
        XCTAssertEqual(messages.map(\.resource.name), ["other"])
    }

    func testHostNames() {
        XCTAssertEqual(HostNames.qualified("reviews", in: "shop"), "reviews.shop.svc.cluster.local")
        XCTAssertEqual(HostNames.qualified("reviews.shop", in: "blog"), "reviews.shop")
        XCTAssertTrue(HostNames.overlap("*.example.com", "a.example.com"))
        XCTAssertTrue(HostNames.overlap("*.a.example.com", "*.example.com"))
        XCTAssertFalse(HostNames.overlap("a.example.com", "b.example.com"))
    }
}

extension AnalysisMessage {
    /// `IST0101 cart`: the code and the resource's name, what most assertions compare.
    var codeAndName: String { "\(type.code) \(resource.name)" }
}

final class AnnotationAnalyzersTests: XCTestCase {
    private func messages(_ analyzer: String, _ text: String) throws -> [String] {
        let resources = try YAMLParser.parse(text, file: "in.yaml").compactMap { AnalyzedResource($0.root, file: "in.yaml") }
        return Analyzers.run([try XCTUnwrap(Analyzers.named(analyzer))], on: AnalysisInput(resources: resources)).map(\.logLine)
    }

    func testUnknownMisplacedInvalidAndDeprecatedAnnotations() throws {
        let found = try messages("annotations.K8sAnalyzer", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: cart
              namespace: shop
              annotations:
                sidecar.istio.io/proxyCPU: 100m
            spec:
              template:
                metadata:
                  annotations:
                    sidecar.istio.io/proxyCPUs: 100m
                    readiness.status.sidecar.istio.io/periodSeconds: often
                    sidecar.istio.io/statsInclusionPrefixes: cluster.outbound
                    example.com/anything: ok
                    istio.io/rev: canary
            """)
        XCTAssertEqual(found, [
            "Warning [IST0107] (Deployment shop/cart in.yaml:7) Misplaced annotation: sidecar.istio.io/proxyCPU can only be applied to Pod",
            "Warning [IST0108] (Deployment shop/cart in.yaml:12) Unknown annotation: sidecar.istio.io/proxyCPUs "
                + "(did you mean sidecar.istio.io/proxyCPU?)",
            "Warning [IST0125] (Deployment shop/cart in.yaml:13) Invalid annotation readiness.status.sidecar.istio.io/periodSeconds: "
                + "\"often\" must be a whole number of 0 or more",
            "Info [IST0135] (Deployment shop/cart in.yaml:14) Annotation \"sidecar.istio.io/statsInclusionPrefixes\" has been deprecated "
                + "and may not work in future Istio versions.",
        ])
    }

    func testAlphaAnalyzerSkipsWhatInjectionWroteForCNI() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web
              annotations: {sidecar.istio.io/interceptionMode: REDIRECT, proxy.istio.io/config: "{}"}
            spec:
              initContainers: [{name: INIT}]
              containers: [{name: web}]
            """
        XCTAssertEqual(try messages("annotations.AlphaAnalyzer", pod.replacingOccurrences(of: "INIT", with: "istio-init")).count, 1)
        XCTAssertEqual(try messages("annotations.AlphaAnalyzer", pod.replacingOccurrences(of: "INIT", with: "istio-validation")), [])
        XCTAssertFalse(Analyzers.defaults(podsAreRunning: true).contains { $0.name == "annotations.AlphaAnalyzer" })
    }

    func testGatewayAPICRDBelowTheBundleIstioReads() throws {
        func crd(_ kind: String, _ version: String) -> String {
            """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata:
              name: \(kind.lowercased())s.gateway.networking.k8s.io
              annotations: {gateway.networking.k8s.io/bundle-version: \(version)}
            spec: {group: gateway.networking.k8s.io, names: {kind: \(kind)}}
            """
        }
        let found = try messages("k8sgateway.CRDVersionAnalyzer", [crd("TLSRoute", "v1.4.1"), crd("TLSRoute", "v1.5.0-rc.1"),
                                                                    crd("GRPCRoute", "v1.0.0"), crd("HTTPRoute", "v1.4.1")].joined(separator: "\n---\n"))
        XCTAssertEqual(found.count, 2)
        XCTAssertTrue(found[0].contains("\"tlsroutes.gateway.networking.k8s.io\" is at version \"v1.4.1\" but Istio requires at least \"v1.5.0\""))
        XCTAssertTrue(found[1].contains("grpcroutes"))
    }

    func testBase64AsKubernetesWritesIt() {
        XCTAssertEqual(Base64.decode("aHVzaCBodXNoCg=="), Array("hush hush\n".utf8))
        XCTAssertEqual(Base64.decode("aHVz\naCBo dXNoCg"), Array("hush hush\n".utf8))
        XCTAssertNil(Base64.decode("not*base64"))
        XCTAssertNil(Base64.decode("aGk=aGk="))
    }
}
