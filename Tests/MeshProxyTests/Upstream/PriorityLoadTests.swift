import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Priority levels and locality weighting, against the numbers Envoy's load balancing documentation gives.
final class PriorityLoadTests: XCTestCase {
    private func loads(_ healthyPercents: [Int]) -> [Int] {
        PriorityLoad(levels: healthyPercents.map { (healthy: $0, total: 100) }).loads
    }

    func testTwoLevelsFollowEnvoysTable() {
        // Envoy's table for P=1 fully healthy: P=0 keeps all traffic down to ~71.4% healthy, then sheds.
        XCTAssertEqual(loads([100, 100]), [100, 0])
        XCTAssertEqual(loads([72, 100]), [100, 0])
        XCTAssertEqual(loads([71, 100]), [99, 1])
        XCTAssertEqual(loads([50, 100]), [70, 30])
        XCTAssertEqual(loads([25, 100]), [35, 65])
        XCTAssertEqual(loads([0, 100]), [0, 100])
    }

    func testLevelsBelowFullHealthAreScaledToAHundred() {
        XCTAssertEqual(loads([60, 100, 100]), [84, 16, 0])
        XCTAssertEqual(loads([20, 100, 100]), [28, 72, 0])
        XCTAssertEqual(loads([20, 20, 100]), [28, 28, 44])
        XCTAssertEqual(loads([20, 20, 20]), [34, 33, 33])
        let panic = PriorityLoad(levels: [(40, 100), (20, 100)])
        XCTAssertEqual(panic.loads, [67, 33])
        XCTAssertEqual(panic.normalizedTotalHealth, 84)
        XCTAssertEqual(PriorityLoad(levels: [(0, 2), (0, 3)]).loads, [40, 60], "no healthy host anywhere: by host count")
    }

    func testLocalitiesTakeTrafficByWeightTimesAvailability() {
        let west = LocalityKey(ClusterEndpoint(address: SocketAddress(host: "10.0.0.1", port: 80), weight: 1, region: "us", zone: "west", subZone: "", priority: 0))
        let east = LocalityKey(ClusterEndpoint(address: SocketAddress(host: "10.0.0.2", port: 80), weight: 1, region: "us", zone: "east", subZone: "", priority: 0))
        let north = LocalityKey(ClusterEndpoint(address: SocketAddress(host: "10.0.0.3", port: 80), weight: 1, region: "us", zone: "north", subZone: "", priority: 0))
        var picker = LocalityPicker()
        let picks = (0..<40).map { _ in picker.choose([(west, 1, 2, 2), (east, 3, 2, 2), (north, 0, 2, 2)]) }
        XCTAssertEqual(picks.filter { $0 == west }.count, 10)
        XCTAssertEqual(picks.filter { $0 == east }.count, 30)
        // East half healthy: availability 0.7, effective weight 2.1 against west's 1.
        var halved = LocalityPicker()
        let split = (0..<310).map { _ in halved.choose([(west, 1, 2, 2), (east, 3, 1, 2)]) }
        XCTAssertEqual(split.filter { $0 == west }.count, 100)
        var unweighted = LocalityPicker()
        XCTAssertNil(unweighted.choose([(west, 0, 1, 1)]), "no weight: no traffic")
    }

    private static let endpointsYAML = """
        load_assignment:
          cluster_name: c
          endpoints:
          - locality: {region: us, zone: west}
            load_balancing_weight: 1
            lb_endpoints:
            - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}
            - endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}
          - locality: {region: us, zone: east}
            load_balancing_weight: 3
            lb_endpoints:
            - endpoint: {address: {socket_address: {address: 10.0.0.3, port_value: 80}}}
          - locality: {region: eu, zone: central}
            priority: 1
            lb_endpoints:
            - endpoint: {address: {socket_address: {address: 10.0.0.9, port_value: 80}}}
        """

    func testAClusterSendsToItsFirstLevelUntilItsHostsAreEjected() throws {
        let cluster = UpstreamCluster(try XCTUnwrap(OneRouteProxy.load(cluster: "type: STATIC\noutlier_detection: {consecutive_5xx: 1, max_ejection_percent: 100}\n" + Self.endpointsYAML)
            .configuration.cluster(named: "c")), stats: ProxyStats())
        func toLevelOne() -> Int { (0..<100).filter { cluster.chooseHost(hash: UInt64($0), avoid: [], attempts: 1) == 3 }.count }
        XCTAssertEqual(toLevelOne(), 0)
        cluster.record(.status(503), host: 0, now: 0)  // 2 of 3 healthy: health 93
        XCTAssertEqual(toLevelOne(), 7)
        cluster.record(.status(503), host: 1, now: 0)  // 1 of 3: health 46
        XCTAssertEqual(toLevelOne(), 54)
        XCTAssertEqual(Set((0..<46).compactMap { cluster.chooseHost(hash: UInt64($0), avoid: [], attempts: 1) }), [2])
    }

    func testLocalityWeightsSplitALevel() throws {
        let config = try XCTUnwrap(OneRouteProxy.load(cluster: "type: STATIC\ncommon_lb_config: {locality_weighted_lb_config: {}}\n" + Self.endpointsYAML)
            .configuration.cluster(named: "c"))
        XCTAssertTrue(config.localityWeighted)
        XCTAssertEqual(config.endpoints.map(\.localityWeight), [1, 1, 3, 0])
        let cluster = UpstreamCluster(config, stats: ProxyStats())
        var counts = [0, 0, 0, 0]
        for _ in 0..<400 { counts[try XCTUnwrap(cluster.chooseHost(hash: nil, avoid: [], attempts: 1))] += 1 }
        XCTAssertEqual(counts[0] + counts[1], 100, "\(counts)")
        XCTAssertEqual(counts[2], 300, "\(counts)")
        XCTAssertEqual(counts[3], 0)
    }

    func testPriorityFailsOverToTheNextLevelOverRealSockets() throws {
        let backup = try SampleUpstream(name: "backup")
        defer { backup.stop() }
        let dead = freeLocalPort()
        let (proxy, port) = try OneRouteProxy.start(cluster: """
            type: STATIC
            connect_timeout: 1s
            outlier_detection: {consecutive_5xx: 1, max_ejection_percent: 100, interval: 60s}
            load_assignment:
              cluster_name: c
              endpoints:
              - lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(dead)}}}}]
              - priority: 1
                lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(backup.port)}}}}]
            """)
        defer { proxy.stop() }
        XCTAssertEqual(try TestClient.get(port: port, path: "/", host: "failover.example").status, 503, "P=0's only host refuses")
        for _ in 0..<5 { XCTAssertEqual(try TestClient.get(port: port, path: "/", host: "failover.example").header("x-upstream"), "backup") }
        let text = ClustersWriter(proxy: proxy).text()
        XCTAssertTrue(text.contains("c::127.0.0.1:\(backup.port)::priority::1\n"), text)
    }

    func testLocalityWeightsAreCheckedWhereTheyAre() {
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\ncommon_lb_config: {locality_weighted_lb_config: {x: 1}}\n" + Self.endpointsYAML)) { error in
            XCTAssertTrue("\(error)".contains("locality_weighted_lb_config"), "\(error)")
        }
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\nload_assignment: {endpoints: [{priority: 500, lb_endpoints: []}]}")) { error in
            XCTAssertTrue("\(error)".contains("priority"), "\(error)")
        }
    }

    func testTheAssignmentPolicySetsTheFactorAndWeightedHealth() throws {
        XCTAssertEqual(PriorityLoad(levels: [(80, 100), (100, 100)], factor: 100).loads, [80, 20])
        let yaml = """
            type: STATIC
            outlier_detection: {consecutive_5xx: 1, max_ejection_percent: 100}
            load_assignment:
              cluster_name: c
              policy: {overprovisioning_factor: 100, weighted_priority_health: true, endpoint_stale_after: 60s}
              endpoints:
              - lb_endpoints:
                - {endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}, load_balancing_weight: 3}
                - {endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}, load_balancing_weight: 1}
              - priority: 1
                lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.9, port_value: 80}}}}]
            """
        let config = try XCTUnwrap(OneRouteProxy.load(cluster: yaml).configuration.cluster(named: "c"))
        XCTAssertEqual(config.assignmentPolicy.overprovisioningFactor, 100)
        XCTAssertTrue(config.assignmentPolicy.weightedPriorityHealth)
        let cluster = UpstreamCluster(config, stats: ProxyStats())
        cluster.record(.status(503), host: 1, now: 0)  // weight 3 of 4 healthy, factor 1: P=0 takes 75%
        XCTAssertEqual((0..<100).filter { cluster.chooseHost(hash: UInt64($0), avoid: [], attempts: 1) == 2 }.count, 25)
        for (policy, expected) in [("{overprovisioning_factor: 0}", "above 0"), ("{drop_overloads: [{drop_percentage: {numerator: 1}}]}", "category")] {
            XCTAssertThrowsError(try OneRouteProxy.load(cluster: "type: STATIC\nload_assignment: {policy: \(policy), endpoints: []}")) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("policy"), "\(policy): \(error)")
            }
        }
    }
}
