@testable import EnvoyConfig
import Foundation
import ConfigValues
import XCTest

final class ProtoJSONWriterTests: XCTestCase {
    /// jsonpb's layout: a Struct's members one level deeper than a message's, a Struct or list inside a Struct
    /// deeper again; ordinary messages, lists and maps of messages as any pretty-printer.
    func testStructsAreIndentedAsJsonpbDoes() throws {
        let message = try JSONValue.parse(#"""
        {"node":{"id":"p1","metadata":{"B":"2","A":{"x":[1,{"y":true}]}}},"list":[{"a":1}],"typedPerFilterConfig":{"f":{"@type":"t","v":1}}}
        """#)
        XCTAssertEqual(ProtoJSONWriter().write(message), """
        {
            "node": {
                "id": "p1",
                "metadata": {
                        "A": {
                                    "x": [
                                                1,
                                                {
                                                            "y": true
                                                        }
                                            ]
                                },
                        "B": "2"
                    }
            },
            "list": [
                {
                    "a": 1
                }
            ],
            "typedPerFilterConfig": {
                "f": {
                    "@type": "t",
                    "v": 1
                }
            }
        }
        """)
        XCTAssertEqual(ProtoJSONWriter().write(.object([])), "{\n\n}")
        XCTAssertEqual(ProtoJSONWriter().write(.object([("s", .string("<a&b>"))])), "{\n    \"s\": \"\\u003ca\\u0026b\\u003e\"\n}")
    }

    /// A cluster's metadata is a message holding filter_metadata, a map of Structs.
    func testFilterMetadataIsAMapOfStructs() throws {
        let cluster = try JSONValue.parse(#"{"metadata":{"filterMetadata":{"istio":{"config":"/x"}}}}"#)
        XCTAssertEqual(ProtoJSONWriter().write(cluster), """
        {
            "metadata": {
                "filterMetadata": {
                    "istio": {
                            "config": "/x"
                        }
                }
            }
        }
        """)
    }
}

final class UnifiedDiffTests: XCTestCase {
    func testHunksWithContext() {
        let a = (1...20).map { "line \($0)" }.joined(separator: "\n")
        var lines = (1...20).map { "line \($0)" }
        lines[9] = "changed 10"
        lines.insert("new", at: 15)
        let diff = UnifiedDiff.text(from: a, to: lines.joined(separator: "\n"), fromName: "A", toName: "B", context: 2)
        XCTAssertEqual(diff, """
        --- A
        +++ B
        @@ -8,5 +8,5 @@
         line 8
         line 9
        -line 10
        +changed 10
         line 11
         line 12
        @@ -14,4 +14,5 @@
         line 14
         line 15
        +new
         line 16
         line 17

        """)
        XCTAssertEqual(UnifiedDiff.text(from: a, to: a, fromName: "A", toName: "B", context: 7), "")
        XCTAssertEqual(UnifiedDiff.text(from: "", to: "x", fromName: "A", toName: "B", context: 7), "--- A\n+++ B\n@@ -0,0 +1 @@\n+x\n")
    }
}

final class ConfigComparisonTests: XCTestCase {
    /// istioctl's comparator data (dynamic clusters, listeners and routes) and the envoy-admin sample (static
    /// clusters and listeners, dynamic routes).
    static let compareData = EnvoyAdminSamples.folder.deletingLastPathComponent().appendingPathComponent("istio/proxy-config/writer/compare/testdata")

    func testSameDumpsMatchAndChangesAreShown() throws {
        let dump = try ConfigDump(text: try String(contentsOf: Self.compareData.appendingPathComponent("configdump.json"), encoding: .utf8), source: "a")
        let changed = try ConfigDump(text: try String(contentsOf: Self.compareData.appendingPathComponent("configdump_diff.json"), encoding: .utf8), source: "b")
        XCTAssertTrue(ConfigComparison(istiod: dump, envoy: dump).report().hasPrefix("Clusters Match\nListeners Match\nRoutes Match"))
        let report = ConfigComparison(istiod: dump, envoy: changed).report()
        XCTAssertTrue(report.hasPrefix("Clusters Don't Match\n--- Istiod Clusters\n+++ Envoy Clusters\n@@ -"), report)
        XCTAssertTrue(report.contains("\nListeners Don't Match\n--- Istiod Listeners\n+++ Envoy Listeners\n@@ -"), report)
        XCTAssertTrue(report.contains("\nRoutes Don't Match"), report)

        // The sample's routes were loaded at one time, shown in the zone asked for; a route less is a difference.
        let text = try EnvoyAdminSamples.text("config_dump.json")
        let envoy = try ConfigDump(text: text, source: "config_dump.json")
        let same = ConfigComparison(istiod: envoy, envoy: envoy).report(timeZone: TimeZone(identifier: "UTC")!)
        XCTAssertEqual(same, "Clusters Match\nListeners Match\nRoutes Match (RDS last loaded at Fri, 27 Nov 2026 16:41:35 UTC)\n")
        var root = try JSONValue.parse(text)
        var configs = root["configs"]?.array ?? []
        for index in configs.indices where configs[index]["@type"]?.string?.hasSuffix(".v3.RoutesConfigDump") == true {
            var routes = configs[index]["dynamic_route_configs"]?.array ?? []
            routes[0]["version_info"] = .string("another version, not compared")
            configs[index]["dynamic_route_configs"] = .array(routes)
        }
        root["configs"] = .array(configs)
        XCTAssertTrue(ConfigComparison(istiod: try ConfigDump(root, source: "istiod"), envoy: envoy).report().contains("Routes Match"))
        for index in configs.indices where configs[index]["@type"]?.string?.hasSuffix(".v3.RoutesConfigDump") == true {
            configs[index]["dynamic_route_configs"] = .array(Array((configs[index]["dynamic_route_configs"]?.array ?? []).dropFirst()))
        }
        root["configs"] = .array(configs)
        let fewer = ConfigComparison(istiod: try ConfigDump(root, source: "istiod"), envoy: envoy).report(timeZone: TimeZone(identifier: "UTC")!)
        XCTAssertTrue(fewer.contains("Routes Don't Match (RDS last loaded at Fri, 27 Nov 2026 16:41:35 UTC)\n--- Istiod Routes\n+++ Envoy Routes\n@@ "), fewer)

        // A dump without a section compares istioctl's error text.
        let empty = try ConfigDump(text: "{}", source: "istiod")
        XCTAssertTrue(ConfigComparison(istiod: empty, envoy: envoy).report().contains("-config dump has no configuration type envoy.admin.v3.ClustersConfigDump"))
    }
}

final class AuthorizationSummaryTests: XCTestCase {
    func testPolicyNamesAreReadAsIstioWritesThem() {
        XCTAssertTrue(AuthorizationSummary.policyName("ns[default]-policy[httpbin]-rule[0]") == ("httpbin.default", "0"))
        XCTAssertTrue(AuthorizationSummary.policyName("istio-ext-authz-ns[shop]-policy[ext-authz]-rule[12]") == ("ext-authz.shop", "12"))
        XCTAssertTrue(AuthorizationSummary.policyName("something else") == ("", ""))
        XCTAssertTrue(AuthorizationSummary.policyName("ns[a]-rule[1]-policy[b]") == ("", ""))
    }
}

