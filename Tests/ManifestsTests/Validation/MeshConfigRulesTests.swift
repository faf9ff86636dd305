import XCTest
@testable import Manifests

/// Istio's mesh config rules (pkg/config/validation/agent), as `meshctl validate` applies them to an
/// IstioOperator's spec.meshConfig.
final class MeshConfigRulesTests: XCTestCase {
    /// The problems of an IstioOperator with this meshConfig (flow-style YAML).
    private func problems(_ meshConfig: String, file: StaticString = #filePath, line: UInt = #line) -> [ValidationProblem] {
        checkedProblems("apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: i}\nspec:\n  meshConfig: \(meshConfig)\n",
                        file: file, line: line)
    }

    private func expect(_ meshConfig: String, _ field: String, _ words: String, _ severity: ValidationProblem.Severity = .error,
                        file: StaticString = #filePath, line: UInt = #line) {
        assertProblem(problems(meshConfig, file: file, line: line), at: "spec.meshConfig." + field, saying: words, severity, file: file, line: line)
    }

    func testPortsAndTimeouts() {
        expect("{proxyListenPort: 70000}", "proxyListenPort", "port must be between 1-65535")
        expect("{connectTimeout: 1500us}", "connectTimeout", "whole milliseconds")
        expect("{connectTimeout: 2h}", "connectTimeout", "at most 3600s")
        expect("{connectTimeout: 0s}", "connectTimeout", "at least 1ms")
        expect("{connectTimeout: soon}", "connectTimeout", "valid duration")
        expect("{protocolDetectionTimeout: 100100us}", "protocolDetectionTimeout", "whole milliseconds")
        XCTAssertEqual(problems("{protocolDetectionTimeout: 0s, connectTimeout: 10s, proxyListenPort: 15001}"), [])
    }

    func testProxyDefaults() {
        expect("{defaultConfig: {discoveryAddress: ''}}", "defaultConfig.discoveryAddress", "must be set")
        expect("{defaultConfig: {discoveryAddress: istiod.istio-system.svc}}", "defaultConfig.discoveryAddress", "is not host:port")
        expect("{defaultConfig: {discoveryAddress: 'istiod:0'}}", "defaultConfig.discoveryAddress", "port must be between 1-65535")
        expect("{defaultConfig: {statsdUdpAddress: 'bad_host!:8125'}}", "defaultConfig.statsdUdpAddress", "not a valid host name or IP address")
        expect("{defaultConfig: {configPath: ''}}", "defaultConfig.configPath", "config path must be set")
        expect("{defaultConfig: {drainDuration: 1500ms}}", "defaultConfig.drainDuration", "whole seconds")
        expect("{defaultConfig: {proxyAdminPort: 0}}", "defaultConfig.proxyAdminPort", "port must be between 1-65535")
        expect("{defaultConfig: {controlPlaneAuthPolicy: INHERIT}}", "defaultConfig.controlPlaneAuthPolicy", "Unsupported value")
        expect("{defaultConfig: {tracing: {zipkin: {address: 'zipkin'}}}}", "defaultConfig.tracing.zipkin.address", "is not host:port")
        expect("{defaultConfig: {tracing: {lightstep: {address: 'ls:443'}}}}", "defaultConfig.tracing.lightstep.accessToken", "Required value")
        expect("{defaultConfig: {privateKeyProvider: {cryptomb: {pollDelay: 0s}}}}", "defaultConfig.privateKeyProvider.cryptomb.pollDelay", "must not be zero")
        expect("{defaultConfig: {proxyMetadata: {ISTIO_META_DNS_AUTO_ALLOCATE: 'true'}}}", "defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE",
               "deprecated", .warning)
        XCTAssertEqual(problems("{defaultConfig: {discoveryAddress: 'istiod.istio-system.svc:15012', tracing: {zipkin: {address: '$(HOST_IP):9411'}}, "
                                + "envoyMetricsService: {address: '[::1]:9000'}, holdApplicationUntilProxyStarts: true}}"), [])
    }

    func testDomainsAndTLS() {
        expect("{trustDomain: ''}", "trustDomain", "empty domain name")
        expect("{trustDomain: 'bad_domain.local'}", "trustDomain", "not a valid domain name")
        expect("{trustDomainAliases: [ok.local, 'a..b']}", "trustDomainAliases[1]", "not a valid domain name")
        expect("{serviceSettings: [{hosts: ['*.shop.svc.cluster.local', 'a.*.b']}]}", "serviceSettings[0].hosts[1]", "not a valid domain name")
        expect("{meshMTLS: {ecdhCurves: [P-256]}}", "meshMTLS.ecdhCurves", "does not support ECDH curves")
        expect("{tlsDefaults: {ecdhCurves: [P-256, P-999]}}", "tlsDefaults.ecdhCurves[1]", "unrecognized ECDH curve", .warning)
        expect("{tlsDefaults: {ecdhCurves: [P-256, P-256]}}", "tlsDefaults.ecdhCurves[1]", "listed twice", .warning)
        XCTAssertEqual(problems("{trustDomain: cluster.local., trustDomainAliases: [old.example.com], serviceSettings: [{hosts: ['*', '*-svc.example.com']}], "
                                + "tlsDefaults: {ecdhCurves: [X25519]}, accessLogFile: /dev/stdout}"), [])
    }

    func testTrafficDefaultsReuseTheNetworkingTypes() {
        expect("{defaultTrafficPolicy: {connectionPool: {}}}", "defaultTrafficPolicy.connectionPool", "must set http or tcp")
        expect("{defaultTrafficPolicy: {connectionPool: {tcp: {maxConnections: -1}}}}", "defaultTrafficPolicy.connectionPool.tcp.maxConnections", "must not be negative")
        expect("{defaultTrafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}}",
               "defaultTrafficPolicy.connectionPool.http", "useClientProtocol must not be true")
        expect("{defaultTrafficPolicy: {connectionPool: {tcp: {connectTimeout: 1500us}}}}", "defaultTrafficPolicy.connectionPool.tcp.connectTimeout",
               "whole milliseconds")
        expect("{defaultTrafficPolicy: {outlierDetection: {consecutiveLocalOriginFailures: 3}}}", "defaultTrafficPolicy.outlierDetection",
               "needs splitExternalLocalOriginErrors")
        expect("{defaultTrafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}}", "defaultTrafficPolicy.outlierDetection.maxEjectionPercent",
               "less than or equal to 100")
        expect("{defaultInboundHttpRetryPolicy: {attempts: 0, backoff: 1s}}", "defaultInboundHttpRetryPolicy.backoff", "attempts is 0")
        expect("{defaultInboundHttpRetryPolicy: {attempts: 2, retryOn: 'sometimes'}}", "defaultInboundHttpRetryPolicy.retryOn", "not a valid retryOn policy")
        expect("{defaultInboundHttpRetryPolicy: {attempts: 2, perTryTimeout: 1s}}", "defaultInboundHttpRetryPolicy.perTryTimeout", "ignored", .warning)
        expect("{zoneAwareLbSetting: {failover: [{from: us-east, to: us-east}]}}", "zoneAwareLbSetting.failover[0]", "different regions")
        expect("{zoneAwareLbSetting: {failover: [{from: us-east/a, to: '*'}]}}", "zoneAwareLbSetting.failover[0]", "regions only")
        expect("{zoneAwareLbSetting: {failoverPriority: [topology.kubernetes.io/zone]}}", "zoneAwareLbSetting.failoverPriority[0]", "must not use")
        expect("{localityLbSetting: {enabled: yes-please}}", "localityLbSetting.enabled", "must be of type boolean")
        expect("{defaultConfig: {tracing: {tlsSettings: {mode: MAYBE}}}}", "defaultConfig.tracing.tlsSettings.mode", "Unsupported value")
        XCTAssertEqual(problems("{defaultTrafficPolicy: {connectionPool: {tcp: {maxConnections: 100, idleTimeout: 0s}}, outlierDetection: "
                                + "{consecutiveLocalOriginFailures: 2, splitExternalLocalOriginErrors: true}}, defaultInboundHttpRetryPolicy: {attempts: 2}, "
                                + "localityLbSetting: {enabled: true}}"), [])
    }

    func testConnectionSettings() {
        let settings = "defaultConfig.connectionSettings."
        expect("{defaultConfig: {connectionSettings: {listenerPerConnectionBufferLimitBytes: -1}}}", settings + "listenerPerConnectionBufferLimitBytes",
               "greater than or equal to 0")
        expect("{defaultConfig: {connectionSettings: {httpMaxConcurrentStreams: 0}}}", settings + "httpMaxConcurrentStreams", "greater than or equal to 1")
        expect("{defaultConfig: {connectionSettings: {http2InitialStreamWindowSize: 1024}}}", settings + "http2InitialStreamWindowSize",
               "greater than or equal to 65535")
        expect("{defaultConfig: {connectionSettings: {httpIdleTimeout: -1s}}}", settings + "httpIdleTimeout", "valid duration")
        XCTAssertEqual(problems("{defaultConfig: {connectionSettings: {globalDownstreamConnectionLimit: 1000, httpDrainTimeout: 5s}}}"), [])
    }
}
