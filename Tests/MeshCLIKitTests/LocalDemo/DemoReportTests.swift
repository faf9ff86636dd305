import ConfigValues
import XCTest
@testable import MeshCLIKit

/// The demo's report as text and JSON, the failure line, and what it reads from pods and config dumps.
final class DemoReportTests: XCTestCase {
    private func canaryStep(v2: Int) -> DemoStep {
        var step = DemoStep(name: "canary", title: "Canary: 90/10")
        step.actions = ["applied VirtualService shop/cart"]
        step.rule = "VirtualService cart: 90% to v1, 10% to v2"
        let check = BinomialCheck(observed: v2, trials: 200, expectedShare: 0.1)
        step.check(check.holds, expected: "v2 share \(check.expectedText)", measured: "v2 share \(check.measuredText)")
        step.seconds = 1.25
        return step
    }

    func testAStepPrintsWhatItDidTheRuleExpectedMeasuredAndTheVerdict() {
        XCTAssertEqual(DemoReport.text(canaryStep(v2: 19), number: 2), """

            2. Canary: 90/10
               - applied VirtualService shop/cart
               rule:     VirtualService cart: 90% to v1, 10% to v2
               expected: v2 share 10.0% ± 6.4% (3 sigma of 200 requests)
               measured: v2 share 19 of 200 (9.5%), 0.2 sigma off
               result:   as the rule says (1.2 s)

            """)
        let failing = canaryStep(v2: 60)
        XCTAssertFalse(failing.passed)
        XCTAssertTrue(DemoReport.text(failing, number: 2).contains("result:   NOT as the rule says"))
        XCTAssertEqual(failing.disagreements, [DemoStep.Disagreement(expected: "v2 share 10.0% ± 6.4% (3 sigma of 200 requests)",
                                                                     measured: "v2 share 60 of 200 (30.0%), 9.4 sigma off")])
        XCTAssertFalse(DemoStep(name: "empty", title: "nothing checked").passed, "a step that checked nothing never passes")
    }

    func testTheJSONDocumentCarriesEveryStepAndTheFailure() throws {
        var report = DemoReport(requests: 200)
        report.steps = [canaryStep(v2: 60)]
        report.failure = DemoFailure(step: "2 (canary)", kind: .measurement, expected: "v2 share 10.0%", measured: "60 of 200")
        report.totalSeconds = 12.5
        report.teardown = "Local mode stopped"
        let document = try JSONValue.parse(report.json)
        XCTAssertEqual(document["passed"]?.bool, false)
        XCTAssertEqual(document["requests"]?.int, 200)
        XCTAssertEqual(document["steps"]?.array?.first?["name"]?.string, "canary")
        XCTAssertEqual(document["steps"]?.array?.first?["passed"]?.bool, false)
        XCTAssertEqual(document["steps"]?.array?.first?["measured"]?.array?.first?.string, "v2 share 60 of 200 (30.0%), 9.4 sigma off")
        XCTAssertEqual(document["failure"]?["kind"]?.string, "measurement")
        XCTAssertEqual(document["failure"]?["message"]?.string, "demo step 2 (canary) failed: expected v2 share 10.0%; measured 60 of 200")
        XCTAssertEqual(document["totalSeconds"], .number("12.50"))

        var passing = DemoReport(requests: 200)
        passing.steps = [canaryStep(v2: 20)]
        XCTAssertEqual(try JSONValue.parse(passing.json)["failure"], .null)
        XCTAssertTrue(passing.closingText.contains("every step measured what its rule says"))
        XCTAssertTrue(report.closingText.contains("stopped at step 2 (canary)"))
    }

    func testASidecarThatCannotRunIsToldApartFromOneStillStarting() throws {
        func pod(_ statuses: String, containers: String = #"[{"name":"cart"},{"name":"istio-proxy"}]"#) throws -> JSONValue {
            try JSONValue.parse(#"{"spec":{"containers":\#(containers),"initContainers":[{"name":"istio-init"}]},"status":\#(statuses)}"#)
        }
        let refused = try pod(#"{"initContainerStatuses":[{"name":"istio-init","ready":false,"state":{"waiting":{"reason":"ErrImageNeverPull","message":"local mode runs only meshctl/echo"}}}]}"#)
        XCTAssertEqual(DemoCluster.sidecarState(refused).cannotRun, true)
        XCTAssertEqual(DemoCluster.sidecarState(refused).problem, "container istio-init waits (ErrImageNeverPull: local mode runs only meshctl/echo)")
        let starting = try pod(#"{"containerStatuses":[{"name":"istio-proxy","ready":false,"state":{"running":{"startedAt":"x"}}}]}"#)
        XCTAssertEqual(DemoCluster.sidecarState(starting).cannotRun, false)
        XCTAssertEqual(DemoCluster.sidecarState(starting).problem, "istio-proxy is not ready: running")
        let ready = try pod(#"{"containerStatuses":[{"name":"istio-proxy","ready":true,"state":{"running":{}}}]}"#)
        XCTAssertNil(DemoCluster.sidecarState(ready).problem)
        let plain = try pod("{}", containers: #"[{"name":"cart"}]"#)
        XCTAssertEqual(DemoCluster.sidecarState(plain).problem, "no istio-proxy container: the pod was not injected")
    }

    func testConfigDumpQueriesFindTheWeightedSubsetAndTheFault() throws {
        let dump = try JSONValue.parse("""
            {"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.RoutesConfigDump","dynamic_route_configs":[{"route_config":{"name":"80",
             "virtual_hosts":[{"name":"cart.shop.svc.cluster.local:80","routes":[{"match":{"prefix":"/"},
              "route":{"weighted_clusters":{"clusters":[{"name":"outbound|80|v1|cart.shop.svc.cluster.local","weight":90},
                                                        {"name":"outbound|80|v2|cart.shop.svc.cluster.local","weight":10}]}},
              "typed_per_filter_config":{"envoy.filters.http.fault":{"@type":"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                "abort":{"http_status":503,"percentage":{"numerator":500000,"denominator":"MILLION"}}}}}]}]}}]}]}
            """)
        XCTAssertTrue(SidecarConfigQuery.hasWeightedCluster(dump, named: DemoManifests.subsetCluster("v2")))
        XCTAssertFalse(SidecarConfigQuery.hasWeightedCluster(dump, named: "outbound|80|v3|cart.shop.svc.cluster.local"))
        XCTAssertTrue(SidecarConfigQuery.hasFaultAbort(dump))
        let plain = try JSONValue.parse(#"{"configs":[{"route":{"cluster":"outbound|80||cart.shop.svc.cluster.local"}}]}"#)
        XCTAssertFalse(SidecarConfigQuery.hasWeightedCluster(plain, named: DemoManifests.subsetCluster("v2")))
        XCTAssertFalse(SidecarConfigQuery.hasFaultAbort(plain))
    }
}
