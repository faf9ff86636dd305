import ConfigValues
import EnvoyConfig
import Foundation
import MeshNet
import MeshTLS
import MeshPilot
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// meshctl's proxy started from a bootstrap with only `dynamic_resources`, against the pilot's discovery server on
/// real sockets: resources arrive, updates swap in while requests under way finish on their configuration, a bad
/// resource is rejected and the last good configuration keeps serving, a removed listener stops accepting.
final class DynamicConfigurationTests: XCTestCase {
    private func startProxy(_ fixture: XDSFixture, concurrency: Int = 2) throws -> (ProxyServer, adminPort: Int) {
        let adminPort = freeLocalPort()
        let configuration = try ProxyConfiguration.load(file: try fixture.writeBootstrap(adminPort: adminPort))
        let proxy = try ProxyServer(configuration: configuration, concurrency: concurrency, log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        return (proxy, adminPort)
    }

    func testListenerAndClustersArriveAndServe() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let (proxy, adminPort) = try startProxy(fixture)
        defer { proxy.stop() }

        XCTAssertTrue(eventually { fixture.get()?.status == 200 }, "the listener from LDS never answered 200")
        XCTAssertEqual(fixture.get()?.header("x-upstream"), "backend-a")
        for type in [ProxyResources.listenerType, ProxyResources.clusterType, ProxyResources.routeType, ProxyResources.endpointType] {
            XCTAssertTrue(eventually { fixture.sync(type)?.status == "SYNCED" }, "\(type) is \(fixture.sync(type)?.status ?? "absent")")
            XCTAssertFalse(fixture.sync(type)?.versionAcked.isEmpty ?? true)
        }
        XCTAssertEqual(proxy.stats.value("listener_manager.lds.update_success"), 1)
        XCTAssertEqual(proxy.stats.value("cluster_manager.cds.update_success"), 1)
        XCTAssertEqual(proxy.stats.value("http.listener_http.rds.http-routes.update_success"), 1)
        XCTAssertEqual(proxy.stats.value("cluster.backend-a.update_success"), 1)
        XCTAssertNotEqual(proxy.stats.value("listener_manager.lds.version"), 0)

        // The admin's config_dump shows the dynamic resources with their versions.
        let dump = try JSONValue.parse(try TestClient.get(port: adminPort, path: "/config_dump", host: "admin").body)
        let configs = dump["configs"]?.array ?? []
        let listeners = configs.first { $0["@type"]?.string?.hasSuffix("ListenersConfigDump") == true }
        let active = listeners?["dynamic_listeners"]?.array?.first
        XCTAssertEqual(active?["name"]?.string, "listener_http")
        XCTAssertEqual(active?["active_state"]?["version_info"]?.string, fixture.sync(ProxyResources.listenerType)?.versionAcked)
        let clusters = configs.first { $0["@type"]?.string?.hasSuffix("ClustersConfigDump") == true }
        XCTAssertEqual(Set(clusters?["dynamic_active_clusters"]?.array?.compactMap { $0["cluster"]?["name"]?.string } ?? []), ["backend-a", "backend-b"])
        XCTAssertEqual(clusters?["static_clusters"]?.array?.count, 1)
        let routes = configs.first { $0["@type"]?.string?.hasSuffix("v3.RoutesConfigDump") == true }
        XCTAssertEqual(routes?["dynamic_route_configs"]?.array?.first?["route_config"]?["name"]?.string, "http-routes")

        // syncz as proxy-status reads it.
        let syncz = try TestClient.get(port: fixture.server.port, path: "/debug/syncz", host: "pilot").body
        let statuses = try ProxySyncStatus.read(syncz, istiod: "pilot")
        XCTAssertEqual(statuses.map(\.proxyID), ["app-1.default"])
        XCTAssertEqual(statuses.first?.statuses, ["CDS": "SYNCED", "LDS": "SYNCED", "RDS": "SYNCED", "EDS": "SYNCED"])
        XCTAssertEqual(statuses.first?.istioVersion, "1.28.0")
        // proxy-status POD: what the pilot sent against what the proxy holds.
        let pilotText = try TestClient.get(port: fixture.server.port, path: "/debug/config_dump?proxyID=app-1.default", host: "pilot").body
        let proxyText = try TestClient.get(port: adminPort, path: "/config_dump", host: "admin").body
        let report = ConfigComparison(istiod: try ConfigDump(text: pilotText, source: "pilot"), envoy: try ConfigDump(text: proxyText, source: "proxy")).report()
        XCTAssertTrue(report.hasPrefix("Clusters Match\nListeners Match\nRoutes Match"), report)
    }

    func testRouteChangeAppliesToNewRequestsWhileASlowOneFinishesOnTheOld() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let (proxy, _) = try startProxy(fixture)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.get()?.status == 200 })
        let routesSent = fixture.sync(ProxyResources.routeType)?.nonceSent
        let clustersVersion = fixture.sync(ProxyResources.clusterType)?.versionSent

        let slow = SlowRequest(port: fixture.listenerPort)
        XCTAssertTrue(eventually { fixture.upstreamA.requests.contains("/slow") }, "the slow request never reached backend-a")
        var resources = fixture.resources
        resources.routes = [XDSFixture.routes(to: "backend-b")]
        fixture.resources = resources
        fixture.server.push()

        XCTAssertTrue(eventually { fixture.get()?.header("x-upstream") == "backend-b" }, "new requests never followed the new route")
        let finished = try XCTUnwrap(slow.wait(), "the slow request got no answer")
        XCTAssertEqual(finished.status, 200)
        XCTAssertEqual(finished.header("x-upstream"), "backend-a", "the request under way should finish on the configuration it started with")
        XCTAssertNotEqual(fixture.sync(ProxyResources.routeType)?.nonceSent, routesSent)
        XCTAssertTrue(eventually { fixture.sync(ProxyResources.routeType)?.status == "SYNCED" })
        // A push that changes nothing for CDS wakes no CDS request: its version stays.
        XCTAssertEqual(fixture.sync(ProxyResources.clusterType)?.versionSent, clustersVersion)
    }

    func testBadListenerIsRejectedAndTheLastGoodConfigurationServes() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let (proxy, _) = try startProxy(fixture)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.get()?.status == 200 })
        let good = fixture.sync(ProxyResources.listenerType)?.versionAcked

        var resources = fixture.resources
        var bad = XDSFixture.listener(name: "listener_http", port: fixture.listenerPort)
        bad["per_listener_magic"] = .bool(true)
        resources.listeners = [bad]
        fixture.resources = resources
        fixture.server.push()

        XCTAssertTrue(eventually { !(fixture.sync(ProxyResources.listenerType)?.lastError.isEmpty ?? true) }, "the server never saw a NACK")
        let state = try XCTUnwrap(fixture.sync(ProxyResources.listenerType))
        XCTAssertEqual(state.status, "STALE")
        XCTAssertEqual(state.versionAcked, good)
        XCTAssertTrue(state.lastError.contains("resources[0].per_listener_magic"), state.lastError)
        XCTAssertEqual(proxy.stats.value("listener_manager.lds.update_rejected"), 1)
        XCTAssertEqual(fixture.get()?.status, 200, "the last good listener should keep serving")
        let syncz = try JSONValue.parse(try TestClient.get(port: fixture.server.port, path: "/debug/syncz", host: "pilot").body)
        XCTAssertTrue(syncz.array?.first?["resources"]?[ProxyResources.listenerType]?["lastError"]?.string?.contains("per_listener_magic") ?? false)
    }

    func testRemovedListenerStopsAccepting() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let (proxy, _) = try startProxy(fixture)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.get()?.status == 200 })
        var resources = fixture.resources
        resources.listeners = []
        fixture.resources = resources
        fixture.server.push()
        XCTAssertTrue(eventually { fixture.get() == nil }, "the removed listener still accepts")
        XCTAssertTrue(eventually { fixture.sync(ProxyResources.listenerType)?.status == "SYNCED" })
        XCTAssertTrue(proxy.listenerPorts.isEmpty)
    }

    func testNewListenerWarmsUntilItsRoutesArrive() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        var resources = fixture.resources
        let routes = resources.routes, endpoints = resources.endpoints
        resources.routes = []
        resources.endpoints = [endpoints[0]]
        fixture.resources = resources
        let (proxy, adminPort) = try startProxy(fixture)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.sync(ProxyResources.routeType)?.status == "SYNCED" })
        XCTAssertNil(fixture.get(), "a listener without its route configuration should not accept yet")
        let dump = try JSONValue.parse(try TestClient.get(port: adminPort, path: "/config_dump?resource=dynamic_listeners", host: "admin").body)
        XCTAssertNotNil(dump["configs"]?.array?.first?["warming_state"], dump.serialized)
        // An EDS cluster waits for its endpoints the same way.
        let clusters = try JSONValue.parse(try TestClient.get(port: adminPort, path: "/config_dump?resource=dynamic_warming_clusters", host: "admin").body)
        XCTAssertEqual(clusters["configs"]?.array?.compactMap { $0["cluster"]?["name"]?.string }, ["backend-b"])
        XCTAssertNil(proxy.runtime.clusters["backend-b"])

        resources.routes = routes
        resources.endpoints = endpoints
        fixture.resources = resources
        fixture.server.push()
        XCTAssertTrue(eventually { fixture.get()?.status == 200 }, "the listener never left warming")
        XCTAssertTrue(eventually { proxy.runtime.clusters["backend-b"] != nil }, "backend-b never left warming")
    }

    func testEndpointUpdateMovesTrafficAndUnchangedClustersKeepTheirState() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        // One worker, so one pool holds the cluster's keep-alive connection.
        let (proxy, _) = try startProxy(fixture, concurrency: 1)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.get()?.header("x-upstream") == "backend-a" })
        let untouched = try XCTUnwrap(proxy.runtime.clusters["backend-b"])
        var resources = fixture.resources
        resources.endpoints[0] = XDSFixture.assignment("backend-a", port: fixture.upstreamB.port)
        fixture.resources = resources
        fixture.server.push()
        XCTAssertTrue(eventually { fixture.get()?.header("x-upstream") == "backend-b" }, "the new endpoints of backend-a were never used")
        XCTAssertTrue(proxy.runtime.clusters["backend-b"] === untouched, "an unchanged cluster should keep its state")
        // The replaced cluster's idle keep-alive connection to the old endpoint was closed; the new one stays.
        XCTAssertTrue(eventually { proxy.stats.value("cluster.backend-a.upstream_cx_active") == 1 },
                      "upstream_cx_active is \(proxy.stats.value("cluster.backend-a.upstream_cx_active"))")
        XCTAssertTrue(eventually { fixture.sync(ProxyResources.endpointType)?.status == "SYNCED" })
    }

    func testSecretsArriveOverSDSAndTheirKeysAreRedacted() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        var resources = fixture.resources
        resources.clusters.append(XDSFixture.json(#"""
            {"name": "backend-tls", "type": "EDS", "connect_timeout": "1s", "eds_cluster_config": {"eds_config": \#(XDSFixture.restSource)},
             "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
               "common_tls_context": {"tls_certificate_sds_secret_configs": [{"name": "default", "sds_config": \#(XDSFixture.restSource)}],
                 "combined_validation_context": {"default_validation_context": {},
                   "validation_context_sds_secret_config": {"name": "ROOTCA", "sds_config": \#(XDSFixture.restSource)}}}}}}
            """#))
        resources.endpoints.append(XDSFixture.assignment("backend-tls", port: fixture.upstreamA.port))
        resources.secrets = [
            XDSFixture.json(#"{"name": "default", "tls_certificate": {"certificate_chain": {"inline_string": "CERT"}, "private_key": {"inline_string": "THE-PRIVATE-KEY"}}}"#),
            XDSFixture.json(#"{"name": "ROOTCA", "validation_context": {"trusted_ca": {"inline_string": "ROOT"}}}"#),
        ]
        fixture.resources = resources
        let (proxy, adminPort) = try startProxy(fixture)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.sync(ProxyResources.secretType)?.status == "SYNCED" })
        let body = try TestClient.get(port: adminPort, path: "/config_dump?resource=dynamic_active_secrets", host: "admin").body
        let secrets = try JSONValue.parse(body)["configs"]?.array ?? []
        XCTAssertEqual(Set(secrets.compactMap { $0["name"]?.string }), ["default", "ROOTCA"])
        XCTAssertEqual(secrets.first?["version_info"]?.string, fixture.sync(ProxyResources.secretType)?.versionAcked)
        XCTAssertFalse(body.contains("THE-PRIVATE-KEY"))
        XCTAssertTrue(body.contains("[redacted]"))
    }

    func testRemovedListenerDrainsItsConnections() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let (proxy, _) = try startProxy(fixture)
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.get()?.status == 200 })
        // An idle keep-alive connection, and one whose request is under way.
        let idle = try LoopbackClient(address: "127.0.0.1", port: fixture.listenerPort)
        try idle.send("GET /first HTTP/1.1\r\nhost: app\r\n\r\n")
        XCTAssertTrue(eventually { idle.readAvailable().contains("backend-a GET /first") })
        let busy = try LoopbackClient(address: "127.0.0.1", port: fixture.listenerPort)
        try busy.send("GET /slow HTTP/1.1\r\nhost: app\r\n\r\n")
        XCTAssertTrue(eventually { fixture.upstreamA.requests.contains("/slow") })

        var resources = fixture.resources
        resources.listeners = []
        fixture.resources = resources
        fixture.server.push()

        _ = idle.readUntilClosed(timeout: 10)
        XCTAssertNotNil(idle.closedAfter, "the idle connection was not closed by the drain")
        let answer = busy.readUntilClosed(timeout: 10)
        XCTAssertNotNil(busy.closedAfter, "the busy connection did not close after its answer")
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), answer)
        XCTAssertTrue(answer.lowercased().contains("connection: close"), answer)
        XCTAssertTrue(answer.hasSuffix("backend-a GET /slow\n"), answer)
    }
}

/// A `GET /slow` on its own thread (the upstream answers after 1 s).
final class SlowRequest: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var response: TestResponse?

    init(port: Int) {
        Thread.detachNewThread { [self] in
            response = try? TestClient.get(port: port, path: "/slow", host: "app")
            done.signal()
        }
    }

    func wait() -> TestResponse? {
        _ = done.wait(timeout: .now() + 15)
        return response
    }
}
