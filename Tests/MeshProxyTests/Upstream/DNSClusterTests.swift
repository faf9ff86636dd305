import Foundation
import MeshNet
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// STRICT_DNS and LOGICAL_DNS clusters (a ServiceEntry with `resolution: DNS`): endpoints name hosts, looked up with
/// the system resolver when connecting; STATIC and EDS clusters keep taking only IP addresses.
final class DNSClusterTests: XCTestCase {
    private func cluster(type: String, host: String, port: Int) -> String {
        """
        type: \(type)
        connect_timeout: 1s
        dns_lookup_family: V4_ONLY
        dns_refresh_rate: 5s
        load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: \(host), port_value: \(port)}}}}]}]}
        """
    }

    func testDNSClustersLookUpTheirHosts() throws {
        let upstream = try SampleUpstream(name: "external")
        defer { upstream.stop() }
        for type in ["STRICT_DNS", "LOGICAL_DNS"] {
            let (proxy, port) = try OneRouteProxy.start(cluster: cluster(type: type, host: "localhost", port: upstream.port))
            defer { proxy.stop() }
            XCTAssertEqual(proxy.store.current.cluster(named: "c")?.kind.rawValue, type)
            let response = try TestClient.get(port: port, path: "/dns", host: "external.example")
            XCTAssertEqual(response.status, 200, "\(type): \(response.body)")
            XCTAssertEqual(response.header("x-upstream"), "external")
        }
    }

    func testAnUnknownHostIsAConnectFailure() throws {
        let (proxy, port) = try OneRouteProxy.start(cluster: cluster(type: "STRICT_DNS", host: "no-such-host.invalid", port: 80))
        defer { proxy.stop() }
        let response = try TestClient.get(port: port, path: "/", host: "external.example")
        XCTAssertEqual(response.status, 503)
    }

    func testStaticClustersRefuseHostNames() throws {
        XCTAssertThrowsError(try OneRouteProxy.load(cluster: cluster(type: "STATIC", host: "localhost", port: 80))) { error in
            XCTAssertTrue("\(error)".contains("use type STRICT_DNS or LOGICAL_DNS"), "\(error)")
        }
    }

    func testAStrictDNSClusterBalancesOverEveryAddressItsNamesHave() throws {
        let first = try SampleUpstream(name: "first"), second = try SampleUpstream(name: "second")
        defer { first.stop(); second.stop() }
        // `localhost` through the system resolver, and an IP literal (answered as itself) as a second endpoint.
        let (proxy, port) = try OneRouteProxy.start(cluster: """
            type: STRICT_DNS
            connect_timeout: 1s
            dns_lookup_family: V4_ONLY
            dns_refresh_rate: 0.05s
            load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: localhost, port_value: \(first.port)}}}},
                                                                         {endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(second.port)}}}}]}]}
            """)
        defer { proxy.stop() }
        var seen: [String] = []
        for _ in 0..<4 { seen.append(try TestClient.get(port: port, path: "/", host: "dns.example").header("x-upstream") ?? "-") }
        XCTAssertEqual(seen.sorted(), ["first", "first", "second", "second"])
        let text = ClustersWriter(proxy: proxy).text()
        XCTAssertTrue(text.contains("c::127.0.0.1:\(first.port)::hostname::localhost\n"), text)
        XCTAssertTrue(text.contains("c::127.0.0.1:\(second.port)::hostname::127.0.0.1\n"), text)
        XCTAssertEqual(proxy.stats.value("cluster.c.membership_total"), 2)
        XCTAssertEqual(proxy.stats.value("cluster.c.membership_change"), 1)
        // Looked up again at dns_refresh_rate, the same answer changes nothing.
        let deadline = Date().addingTimeInterval(10)
        while proxy.stats.value("cluster.c.update_no_rebuild") < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertGreaterThanOrEqual(proxy.stats.value("cluster.c.update_no_rebuild"), 2)
        XCTAssertEqual(proxy.stats.value("cluster.c.membership_change"), 1)
    }

    func testStrictDNSAddsAndRemovesHostsAsTheAnswerChanges() throws {
        let table = DNSTable(["svc.example": ["10.0.0.1", "10.0.0.2"], "other.example": ["10.0.0.9"]])
        let stats = ProxyStats()
        let cluster = UpstreamCluster(try Self.dnsCluster("STRICT_DNS", names: ["svc.example", "other.example"]), stats: stats, lookup: table.lookup)
        XCTAssertNil(cluster.chooseHost(hash: nil, avoid: [], attempts: 1), "no host before the first answer")
        XCTAssertTrue(cluster.resolveHosts())
        XCTAssertEqual(cluster.presentHosts.map(\.endpoint.address.description), ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.9:80"])
        XCTAssertEqual(cluster.presentHosts.map(\.endpoint.hostname), ["svc.example", "svc.example", "other.example"])
        XCTAssertEqual(stats.value("cluster.c.membership_total"), 3)
        XCTAssertEqual(stats.value("cluster.c.membership_change"), 1)

        table.set("svc.example", ["10.0.0.2", "10.0.0.3"])
        XCTAssertTrue(cluster.resolveHosts())
        XCTAssertEqual(cluster.presentHosts.map(\.index), [1, 2, 3], "10.0.0.1 left; 10.0.0.3 is a new host")
        XCTAssertEqual(cluster.endpoint(3).address.description, "10.0.0.3:80")
        XCTAssertEqual(stats.value("cluster.c.membership_total"), 3)
        XCTAssertEqual(stats.value("cluster.c.membership_change"), 2)
        for _ in 0..<12 { XCTAssertNotEqual(cluster.chooseHost(hash: nil, avoid: [], attempts: 1), 0, "a removed host is never chosen") }

        // The same answer again: no membership change. A failed lookup keeps that endpoint's hosts.
        XCTAssertTrue(cluster.resolveHosts())
        XCTAssertEqual(stats.value("cluster.c.update_no_rebuild"), 1)
        table.set("other.example", nil)
        XCTAssertFalse(cluster.resolveHosts())
        XCTAssertEqual(stats.value("cluster.c.update_failure"), 1)
        XCTAssertEqual(cluster.presentHosts.count, 3)

        // An address that comes back takes its old slot.
        table.set("svc.example", ["10.0.0.1"])
        XCTAssertTrue(cluster.resolveHosts() == false)  // other.example still fails
        XCTAssertEqual(cluster.presentHosts.map(\.index), [0, 2])
        XCTAssertEqual(stats.value("cluster.c.membership_total"), 2)
    }

    func testLogicalDNSKeepsOneHostWhoseAddressIsTheFirstAnswer() throws {
        let table = DNSTable(["svc.example": ["10.0.0.1", "10.0.0.2"]])
        let stats = ProxyStats()
        let cluster = UpstreamCluster(try Self.dnsCluster("LOGICAL_DNS", names: ["svc.example"]), stats: stats, lookup: table.lookup)
        cluster.resolveHosts()
        XCTAssertEqual(cluster.presentHosts.map(\.endpoint.address.description), ["10.0.0.1:80"])
        table.set("svc.example", ["10.0.0.7", "10.0.0.1"])
        cluster.resolveHosts()
        XCTAssertEqual(cluster.presentHosts.map(\.index), [0])
        XCTAssertEqual(cluster.hostAddress(0), "10.0.0.7:80")
        XCTAssertEqual(cluster.presentHosts[0].endpoint.hostname, "svc.example")
        XCTAssertEqual(stats.value("cluster.c.membership_total"), 1)
        XCTAssertEqual(stats.value("cluster.c.update_success"), 2)
    }

    func testLookupFamiliesChooseAsEnvoyDocuments() {
        let v4 = ["10.0.0.1"], v6 = ["fd00::1"]
        XCTAssertEqual(DNSLookupFamily.auto.choose(v4: v4, v6: v6), v6)
        XCTAssertEqual(DNSLookupFamily.auto.choose(v4: v4, v6: []), v4)
        XCTAssertEqual(DNSLookupFamily.v4Preferred.choose(v4: v4, v6: v6), v4)
        XCTAssertEqual(DNSLookupFamily.v4Preferred.choose(v4: [], v6: v6), v6)
        XCTAssertEqual(DNSLookupFamily.v4Only.choose(v4: [], v6: v6), [])
        XCTAssertEqual(DNSLookupFamily.v6Only.choose(v4: v4, v6: v6), v6)
        XCTAssertEqual(DNSLookupFamily.all.choose(v4: v4, v6: v6), v4 + v6)
    }

    func testDNSSettingsAreCheckedWhereTheyAre() throws {
        let endpoint = "{endpoint: {address: {socket_address: {address: svc.example, port_value: 80}}}}"
        let cases: [(String, String)] = [
            ("type: STRICT_DNS\ndns_lookup_family: V5\nload_assignment: {endpoints: [{lb_endpoints: [\(endpoint)]}]}", "dns_lookup_family"),
            ("type: STRICT_DNS\ndns_refresh_rate: 0s\nload_assignment: {endpoints: [{lb_endpoints: [\(endpoint)]}]}", "at least 1ms"),
            ("type: LOGICAL_DNS\nload_assignment: {endpoints: [{lb_endpoints: [\(endpoint), \(endpoint)]}]}", "exactly one endpoint"),
            ("type: STRICT_DNS\ndns_failure_refresh_rate: {base_interval: 1s, jitter: 2}\nload_assignment: {endpoints: [{lb_endpoints: [\(endpoint)]}]}", "jitter"),
        ]
        for (cluster, expected) in cases {
            XCTAssertThrowsError(try OneRouteProxy.load(cluster: cluster), cluster) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(cluster): \(error)")
            }
        }
        let loaded = try OneRouteProxy.load(cluster: "type: STRICT_DNS\ndns_refresh_rate: 2s\ndns_failure_refresh_rate: {base_interval: 0.5s, max_interval: 4s}\nrespect_dns_ttl: true\nload_assignment: {endpoints: [{lb_endpoints: [\(endpoint)]}]}")
        let dns = try XCTUnwrap(loaded.configuration.cluster(named: "c")?.dns)
        XCTAssertEqual(dns.refreshRate, 2)
        XCTAssertEqual(dns.failureRefreshRate, 0.5)
        XCTAssertEqual(dns.lookupFamily, .auto)
    }

    static func dnsCluster(_ type: String, names: [String]) throws -> Cluster {
        let endpoints = names.map { "{endpoint: {address: {socket_address: {address: \($0), port_value: 80}}}}" }.joined(separator: ", ")
        let loaded = try OneRouteProxy.load(cluster: "type: \(type)\nload_assignment: {endpoints: [{lb_endpoints: [\(endpoints)]}]}")
        return try XCTUnwrap(loaded.configuration.cluster(named: "c"))
    }
}

/// A resolver answering from a table a test changes (nil: the lookup fails).
final class DNSTable: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [String: [String]]

    init(_ answers: [String: [String]]) { self.answers = answers }

    func set(_ name: String, _ addresses: [String]?) {
        lock.lock(); answers[name] = addresses; lock.unlock()
    }

    var lookup: DNSLookup {
        { [self] name, _ in
            lock.lock(); defer { lock.unlock() }
            return answers[name].map { .success($0) } ?? .failure(.address(name))
        }
    }
}
