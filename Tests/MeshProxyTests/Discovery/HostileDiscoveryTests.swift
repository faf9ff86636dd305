import ConfigValues
import Foundation
import MeshPilot
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// The xDS client on large and broken answers: 1,000 listeners replaced at once on a running proxy, a response with
/// 100,000 resources, and answers cut off in the middle.
final class HostileDiscoveryTests: XCTestCase {
    /// A listener that binds no port (a `use_original_dst` hand-off target), as a sidecar has one per service port.
    private static func handOffListener(_ index: Int, statPrefix: String) -> JSONValue {
        XDSFixture.json(#"""
        {"name": "0.0.0.0_\#(20_000 + index)", "address": {"socket_address": {"address": "0.0.0.0", "port_value": \#(20_000 + index)}},
         "bind_to_port": false,
         "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "stat_prefix": "\#(statPrefix)", "cluster": "backend-a"}}]}]}
        """#)
    }

    func testAThousandListenersReplacedAtOnceAndTheProxyKeepsServing() throws {
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let adminPort = freeLocalPort()
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try fixture.writeBootstrap(adminPort: adminPort)), concurrency: 2,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        XCTAssertTrue(eventually { fixture.get()?.status == 200 })
        for round in ["first", "second"] {
            var resources = fixture.resources
            resources.listeners = [resources.listeners[0]] + (0..<1_000).map { Self.handOffListener($0, statPrefix: round) }
            fixture.resources = resources
            let started = Date()
            fixture.server.push()
            XCTAssertTrue(eventually(timeout: 20) { proxy.store.current.listeners.count == 1_001 && fixture.sync(ProxyResources.listenerType)?.status == "SYNCED" },
                          "\(round): \(proxy.store.current.listeners.count) listeners, LDS \(String(describing: fixture.sync(ProxyResources.listenerType)))")
            print("1,000 listeners (\(round) version) taken in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
            XCTAssertEqual(fixture.get()?.status, 200)
        }
        XCTAssertEqual(proxy.stats.value("listener_manager.lds.update_rejected"), 0)
    }

    func testAResponseWithAHundredThousandResourcesReads() throws {
        let clusters = (0..<100_000).map { index in
            JSONValue.object([("name", .string("c\(index)")), ("type", .string("STATIC")), ("connect_timeout", .string("1s"))])
        }
        let bytes = DiscoveryResponse(versionInfo: "1", resources: clusters, typeURL: DiscoveryType.clusters.typeURL, nonce: "1").json.serializedBytes
        let started = Date()
        var discovered = DiscoveredResources()
        try discovered.accept(try DiscoveryResponse.read(bytes), type: .clusters, now: Date())
        XCTAssertEqual(discovered.clusters.items.count, 100_000)
        print("100,000 clusters (\(bytes.count >> 10) KiB) read in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        // Two resources with one name: the whole answer is refused, the previous set stays.
        let twice = DiscoveryResponse(versionInfo: "2", resources: Array(clusters.prefix(2)) + [clusters[0]], typeURL: DiscoveryType.clusters.typeURL, nonce: "2")
        XCTAssertThrowsError(try discovered.accept(try DiscoveryResponse.read(twice.json.serializedBytes), type: .clusters, now: Date()))
        XCTAssertEqual(discovered.clusters.items.count, 100_000)
    }

    func testAnAnswerCutOffAnywhereIsAnErrorNotATrap() throws {
        let fixture = XDSFixture.standard(listenerPort: 1, portA: 2, portB: 3, routeTo: "backend-a")
        let bytes = DiscoveryResponse(versionInfo: "1", resources: fixture.listeners + fixture.clusters, typeURL: DiscoveryType.listeners.typeURL, nonce: "1")
            .json.serializedBytes
        var refused = 0
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            var discovered = DiscoveredResources()
            do { try discovered.accept(try DiscoveryResponse.read(Array(bytes[..<cut])), type: .listeners, now: Date()) } catch { refused += 1 }
        }
        XCTAssertEqual(refused, (bytes.count + 6) / 7, "every cut-off answer is refused")
    }
}
