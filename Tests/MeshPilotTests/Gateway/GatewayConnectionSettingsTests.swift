import ConfigValues
@testable import MeshPilot
import XCTest

/// ProxyConfig `connectionSettings` on gateways, as istiod applies them: a gateway's listeners get
/// `per_connection_buffer_limit_bytes` from `listenerPerConnectionBufferLimitBytes`, or 32 KiB under the EDGE profile;
/// with no settings (istiod's default) the field is absent, and a sidecar never gets the EDGE default.
final class GatewayConnectionSettingsTests: XCTestCase {
    private func gatewayLimits(annotation: String? = nil, meshConfig: JSONValue = .object([])) throws -> [String: JSONValue?] {
        var pod = GatewayConfigTests.ingress
        if let annotation {
            pod = pod.replacingOccurrences(of: "labels: {istio: ingressgateway}}",
                                           with: "labels: {istio: ingressgateway}, annotations: {proxy.istio.io/config: '\(annotation)'}}")
        }
        let out = Pilot(authority: nil).resources(for: GatewayConfigTests.node,
                                                  in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: pod, meshConfig: meshConfig))
        XCTAssertEqual(out.listeners.names, ["0.0.0.0_8080", "0.0.0.0_8443"])
        var limits: [String: JSONValue?] = [:]
        for listener in out.listeners { limits[listener["name"]?.string ?? "?"] = listener["per_connection_buffer_limit_bytes"] }
        return limits
    }

    private static func edgeMesh(_ extra: [(key: String, value: JSONValue)] = []) -> JSONValue {
        .object([("defaultConfig", .object([("connectionSettings", .object([("profile", .string("EDGE"))] + extra))]))])
    }

    func testAGatewayWithoutConnectionSettingsHasNoBufferLimit() throws {
        XCTAssertEqual(try gatewayLimits(), ["0.0.0.0_8080": nil, "0.0.0.0_8443": nil])
    }

    func testTheEdgeProfileGivesAGatewaysListeners32KiB() throws {
        XCTAssertEqual(try gatewayLimits(meshConfig: Self.edgeMesh()), ["0.0.0.0_8080": .number("32768"), "0.0.0.0_8443": .number("32768")])
        // An explicit value wins over the profile's default.
        let explicit = Self.edgeMesh([("listenerPerConnectionBufferLimitBytes", .number("65536"))])
        XCTAssertEqual(try gatewayLimits(meshConfig: explicit), ["0.0.0.0_8080": .number("65536"), "0.0.0.0_8443": .number("65536")])
    }

    func testThePodsAnnotationWinsOverTheMeshDefault() throws {
        let limits = try gatewayLimits(annotation: "{\"connectionSettings\": {\"listenerPerConnectionBufferLimitBytes\": 16384}}", meshConfig: Self.edgeMesh())
        XCTAssertEqual(limits, ["0.0.0.0_8080": .number("16384"), "0.0.0.0_8443": .number("16384")])
        // A negative value is dropped, as istiod drops it.
        XCTAssertEqual(try gatewayLimits(annotation: "connectionSettings: {listenerPerConnectionBufferLimitBytes: -1}"), ["0.0.0.0_8080": nil, "0.0.0.0_8443": nil])
    }

    /// The gateway's connection managers' `http2_protocol_options`, by listener.
    private func gatewayHTTP2Options(meshConfig: JSONValue) throws -> [String: JSONValue?] {
        let out = Pilot(authority: nil).resources(for: GatewayConfigTests.node,
                                                  in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: GatewayConfigTests.ingress, meshConfig: meshConfig))
        var options: [String: JSONValue?] = [:]
        for listener in out.listeners {
            options[listener["name"]?.string ?? "?"] = listener[path: "filter_chains", 0, "filters", 0, "typed_config", "http2_protocol_options"]
        }
        return options
    }

    func testTheEdgeProfileSetsTheGatewaysHTTP2Options() throws {
        XCTAssertEqual(try gatewayHTTP2Options(meshConfig: .object([])), ["0.0.0.0_8080": nil, "0.0.0.0_8443": nil])
        let edge = JSONValue.object([("max_concurrent_streams", .number("100")), ("initial_stream_window_size", .number("65536")),
                                     ("initial_connection_window_size", .number("1048576"))])
        XCTAssertEqual(try gatewayHTTP2Options(meshConfig: Self.edgeMesh()), ["0.0.0.0_8080": edge, "0.0.0.0_8443": edge])
        // An explicit value wins; without a profile only what is set is applied.
        let explicit = try gatewayHTTP2Options(meshConfig: .object([("defaultConfig", .object([("connectionSettings", .object([("httpMaxConcurrentStreams", .number("7"))]))]))]))
        XCTAssertEqual(explicit["0.0.0.0_8080"], .object([("max_concurrent_streams", .number("7"))]))
    }

    func testASidecarGetsNoEdgeDefaults() throws {
        let out = Pilot(authority: nil).resources(for: PilotFixtures.productpage,
                                                  in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: GatewayConfigTests.ingress, meshConfig: Self.edgeMesh()))
        XCTAssertFalse(out.listeners.isEmpty)
        XCTAssertTrue(out.listeners.allSatisfy { $0["per_connection_buffer_limit_bytes"] == nil })
        XCTAssertEqual(ConnectionSettings(for: try XCTUnwrap(MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml", meshConfig: Self.edgeMesh()))
                                                                .workload(for: PilotFixtures.productpage)), meshConfig: Self.edgeMesh(), router: false),
                       ConnectionSettings())
    }
}
