import EnvoyConfig
import Foundation
import ConfigValues
import XCTest

/// The envoy-admin samples: real Envoy 1.40 output in ../shared/conformance/envoy-admin.
enum EnvoyAdminSamples {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/conformance/envoy-admin")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }
}

final class ConfigDumpTests: XCTestCase {
    func testRealConfigDumpSections() throws {
        let dump = try ConfigDump(text: try EnvoyAdminSamples.text("config_dump.json"), source: "config_dump.json")
        let clusters = try dump.clusters()
        XCTAssertTrue(clusters.contains { $0.name == "outbound|9080|v1|reviews.default.svc.cluster.local" })
        XCTAssertEqual(clusters.first { $0.name == "BlackHoleCluster" }?.discoveryType, "STATIC")
        XCTAssertEqual(SubsetKey("outbound|9080|v1|reviews.default.svc.cluster.local"),
                       SubsetKey("outbound|9080|v1|reviews.default.svc.cluster.local"))
        XCTAssertEqual(SubsetKey("outbound|9080|v1|reviews.default.svc.cluster.local")?.port, 9080)

        let listeners = try dump.listeners()
        let inbound = try XCTUnwrap(listeners.first { $0.name == "virtualInbound" })
        XCTAssertEqual(inbound.address.port, 15006)
        XCTAssertEqual(inbound.filterChains.count, 3)
        XCTAssertEqual(inbound.protocolType, "HTTP")
        XCTAssertTrue(listeners.contains { $0.name.isEmpty && $0.address.port == 15090 }, "the unnamed listener is kept")

        let routes = try dump.routeConfigurations()
        let rds = try XCTUnwrap(routes.first { $0.name == "9080" })
        XCTAssertEqual(rds.virtualHosts.map(\.name), ["reviews.default.svc.cluster.local:9080", "ratings.default.svc.cluster.local:9080"])
        XCTAssertEqual(rds.virtualHosts[0].routes.first?.managedBy, "reviews.default")
        XCTAssertEqual(rds.virtualHosts[0].routes.first?.matchDescription, "/fault/abort*")

        let secrets = try dump.secrets()
        XCTAssertEqual(secrets.map(\.name), ["default", "ROOTCA"])
        let workload = try CertificateFacts(pem: try XCTUnwrap(secrets[0].certificates.first?.pem))
        XCTAssertFalse(workload.isCA)
        XCTAssertEqual(workload.trustDomain, "cluster.local")
        let root = try CertificateFacts(pem: try XCTUnwrap(secrets[1].certificates.first?.pem))
        XCTAssertTrue(root.isCA)
        XCTAssertLessThan(root.notBefore, root.notAfter)

        let bootstrap = try dump.bootstrap()
        XCTAssertEqual(bootstrap.istioVersion, "1.32-sample")
        XCTAssertEqual(bootstrap.envoyVersion, "1.40.0/Clean/RELEASE/BoringSSL")
        XCTAssertEqual(dump.unknownTypes, [])
    }

    func testLoadAssignmentsOfIncludeEDS() throws {
        let dump = try ConfigDump(text: try EnvoyAdminSamples.text("config_dump-include_eds.json"), source: "config_dump-include_eds.json")
        let assignments = dump.loadAssignments()
        let v3 = try XCTUnwrap(assignments.first { $0.clusterName == "outbound|9080|v3|reviews.default.svc.cluster.local" })
        XCTAssertEqual(v3.localities.first?.endpoints.first?.addressTexts, ["127.0.0.1:19089"])
        XCTAssertEqual(v3.localities.first?.locality, "us-central1/us-central1-c")
        XCTAssertNil(v3.filtered { _ in false })
    }

    /// Unknown `@type`s and unknown fields are kept; a dump without a section says which it lacks.
    func testUnknownTypesAreKeptAndMissingSectionsNamed() throws {
        let text = #"{"configs":[{"@type":"type.googleapis.com/example.FutureConfigDump","x":1},{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","static_clusters":[{"cluster":{"name":"a","future_field":{"y":2}}}]}]}"#
        let dump = try ConfigDump(text: text, source: "t.json")
        XCTAssertEqual(dump.unknownTypes, ["example.FutureConfigDump"])
        XCTAssertEqual(try dump.clusters().first?.json["future_field"]?["y"]?.int, 2)
        XCTAssertThrowsError(try dump.listeners()) { error in
            XCTAssertTrue("\(error)".contains("config dump has no configuration type envoy.admin.v3.ListenersConfigDump"))
        }
        XCTAssertThrowsError(try ConfigDump(text: "{\"configs\": [", source: "t.json")) { error in
            XCTAssertTrue("\(error)".hasPrefix("t.json:1:"), "\(error)")
        }
        XCTAssertThrowsError(try ConfigDump(text: "[]", source: "t.json"))
    }

    func testCamelCaseDumpsAreReadToo() throws {
        let text = #"{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.EndpointsConfigDump","staticEndpointConfigs":[{"endpointConfig":{"clusterName":"c","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":80}}},"healthStatus":"HEALTHY"}]}]}}]}]}"#
        let dump = try ConfigDump(text: text, source: "t.json")
        XCTAssertEqual(dump.loadAssignments().first?.localities.first?.endpoints.first?.addressTexts, ["10.0.0.1:80"])
        XCTAssertEqual(EnvoyFieldName.camelCased("cluster_name"), "clusterName")
        let converted = EnvoyFieldName.protoJSON(try JSONValue.parse(#"{"cluster_name":"c","metadata":{"filter_metadata":{"istio":{"a_b":"x"}}}}"#))
        XCTAssertEqual(converted.serialized, #"{"clusterName":"c","metadata":{"filterMetadata":{"istio":{"a_b":"x"}}}}"#)
    }

    func testClusterStatusesAndLogging() throws {
        let statuses = try ClusterStatuses(text: try EnvoyAdminSamples.text("clusters.json"), source: "clusters.json")
        let v3 = try XCTUnwrap(statuses.clusters.first { $0.name == "outbound|9080|v3|reviews.default.svc.cluster.local" })
        XCTAssertEqual(v3.hosts.first?.endpoint, "127.0.0.1:19089")
        XCTAssertEqual(v3.hosts.first?.failedOutlierCheck, true)
        let ratings = try XCTUnwrap(statuses.clusters.first { $0.name == "outbound|9080||ratings.default.svc.cluster.local" })
        XCTAssertEqual(ratings.hosts.first?.stat("rq_total"), 20)
        XCTAssertEqual(ratings.hosts.first?.stat("rq_error"), 0)
        XCTAssertEqual(try ClusterStatuses(text: "{}", source: "x").clusters.count, 0)

        let levels = LoggerLevels(text: try EnvoyAdminSamples.text("logging.txt"))
        XCTAssertEqual(levels.levels.first?.logger, "a2a")
        XCTAssertEqual(levels.levels.first?.level, "info")
        XCTAssertTrue(levels.levels.contains { $0.logger == "http" })
    }

    func testTimestamps() {
        XCTAssertEqual(CertificateFacts.timestamp(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(CertificateFacts.timestamp(1_684_200_772), "2023-05-16T01:32:52Z")
    }
}

final class PrivateKeyRedactionTests: XCTestCase {
    func testKeysAreReplacedWhereverTheyAre() throws {
        let dump = try JSONValue.parse(#"{"a":[{"tls_certificate":{"private_key":{"inline_string":"-----BEGIN PRIVATE KEY-----x"},"certificate_chain":{"inline_string":"cert"}}}]}"#)
        let text = PrivateKeyRedaction.redacted(dump).serialized
        XCTAssertFalse(text.contains("BEGIN PRIVATE KEY"))
        XCTAssertTrue(text.contains(#""private_key":{"inline_string":"[redacted]"}"#), text)
        XCTAssertTrue(text.contains("cert"))
    }
}

final class StatsTests: XCTestCase {
    func testRealStatsText() throws {
        let stats = try EnvoyStats(text: try EnvoyAdminSamples.text("stats.txt"), source: "stats.txt")
        XCTAssertEqual(stats.entries.count, 1660)
        XCTAssertEqual(stats.entries.first?.value, .text("2026-11-27T16:00:00Z/7"))
        XCTAssertNotNil(stats.number("cluster.BlackHoleCluster.assignment_stale"))
        guard case .histogram(let quantiles)? = stats.entries.first(where: { $0.name == "cluster.inbound|9080||.upstream_rq_time" })?.value else {
            return XCTFail("no histogram")
        }
        XCTAssertEqual(quantiles.first?.quantile, "P0")
        XCTAssertEqual(quantiles.count, 10)
        XCTAssertThrowsError(try EnvoyStats(text: "a: 1\nbroken\n", source: "s.txt")) { XCTAssertTrue("\($0)".contains("s.txt:2")) }
    }

    func testRealPrometheusText() throws {
        let text = try EnvoyAdminSamples.text("stats-prometheus.txt")
        let prometheus = try PrometheusText(text: text, source: "stats-prometheus.txt")
        XCTAssertEqual(prometheus.types["envoy_cluster_assignment_stale"], "counter")
        let sample = try XCTUnwrap(prometheus.samples.first { $0.name == "envoy_cluster_assignment_stale" && $0.labels["envoy_cluster_name"] == "inbound|9080||" })
        XCTAssertEqual(sample.value, 0)
        XCTAssertGreaterThan(prometheus.samples.count, 1000)
    }
}

final class ProxySyncStatusTests: XCTestCase {
    func testSynczListAndCSDSAnswer() throws {
        let syncz = #"[{"cluster_id":"Kubernetes","proxy":"sidecar~10.0.0.1~web-1.shop~shop.svc.cluster.local","istio_version":"1.32.0","cluster_sent":"n1","cluster_acked":"n1","listener_sent":"n2","listener_acked":"n1","route_sent":"","route_acked":"x"}]"#
        let proxies = try ProxySyncStatus.read(syncz, istiod: "istiod-1")
        XCTAssertEqual(proxies.first?.statuses, ["CDS": "SYNCED", "LDS": "STALE", "RDS": "NOT SENT"])
        XCTAssertEqual(proxies.first?.clusterID, "Kubernetes")

        let csds = #"{"resources":[{"node":{"id":"p1","metadata":{"CLUSTER_ID":"c1","ISTIO_VERSION":"1.20"}},"genericXdsConfigs":[{"typeUrl":"type.googleapis.com/envoy.config.cluster.v3.Cluster","configStatus":"NOT_SENT"},{"typeUrl":"type.googleapis.com/envoy.config.listener.v3.Listener","configStatus":"UNKNOWN"}]}]}"#
        let fromCSDS = try ProxySyncStatus.read(csds, istiod: "istiod-2")
        XCTAssertEqual(fromCSDS, [ProxySyncStatus(proxyID: "p1", clusterID: "c1", istioVersion: "1.20", istiod: "istiod-2", statuses: ["CDS": "NOT SENT"])])
        XCTAssertEqual(try ProxySyncStatus.read("{}", istiod: "i"), [])
        XCTAssertThrowsError(try ProxySyncStatus.read("<html>", istiod: "i"))
    }
}

final class CertificateFactsTests: XCTestCase {
    /// Every truncation and a flipped byte of a real certificate is an error or a reading, never a trap.
    func testDamagedCertificatesAreErrors() throws {
        let dump = try ConfigDump(text: try EnvoyAdminSamples.text("config_dump.json"), source: "config_dump.json")
        let pem = try XCTUnwrap(try dump.secrets().last?.certificates.first?.pem)
        let der = try XCTUnwrap(try CertificateFacts.derBlocks(pem).first)
        for length in 0..<der.count { _ = try? CertificateFacts(pem: Self.pem(Array(der.prefix(length)))) }
        for index in stride(from: 0, to: der.count, by: 7) {
            var damaged = der
            damaged[index] ^= 0xFF
            _ = try? CertificateFacts(pem: Self.pem(damaged))
        }
        XCTAssertThrowsError(try CertificateFacts.shareACertificate("invalid data", pem)) {
            XCTAssertEqual("\($0)", "failed to parse certificates: invalid data")
        }
    }

    static func pem(_ der: [UInt8]) -> String {
        "-----BEGIN CERTIFICATE-----\n" + Base64.encode(der) + "\n-----END CERTIFICATE-----\n"
    }
}
