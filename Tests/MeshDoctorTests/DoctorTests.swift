import Foundation
import MeshDoctor
import XCTest

/// The 503 doctor on the corpus's captures (set A), and on captures edited at run time into the faults set A
/// does not have: each edit plants the evidence Envoy and Istio document for that fault.
final class DoctorTests: XCTestCase {
    /// Set A: the cause comes first and names the Istio object or application fact behind it.
    func testSetANamesTheCauseAndTheObjectBehindIt() throws {
        let cases: [(scenario: String, cause: CauseID, mentions: [String])] = [
            ("target-port-mismatch", .targetPortMismatch, ["payments", "8081", "8080"]),
            ("circuit-breaker", .circuitBreaker, ["DestinationRule shop/inventory", "upstream_rq_pending_overflow"]),
            ("route-timeout", .routeTimeout, ["VirtualService ml/recommendations", "0.3s"]),
            ("fault-injected", .faultInjected, ["VirtualService rewards/loyalty", "fault"]),
            ("no-route", .noRoute, ["VirtualService orders/orders-api", "/v2/"]),
            ("authz-denied", .authzDenied, ["AuthorizationPolicy finance/ledger-allow-billing", "rbac.denied"]),
            ("mtls-mismatch", .mtlsMismatch, ["ISTIO_MUTUAL", "WRONG_VERSION_NUMBER", "mailer"]),
        ]
        for item in cases {
            let diagnosis = try EditableCapture(item.scenario).diagnose()
            XCTAssertEqual(diagnosis.causes.first?.id, item.cause, "\(item.scenario): \(diagnosis.causes.map(\.id.rawValue))")
            let text = diagnosis.text
            for word in item.mentions { XCTAssertTrue(text.contains(word), "\(item.scenario): the diagnosis does not mention \(word):\n\(text)") }
            XCTAssertFalse(diagnosis.causes.first?.fix.isEmpty ?? true)
        }
    }

    func testHealthyCapturesHaveNoCause() throws {
        for scenario in ["target-port-mismatch", "circuit-breaker", "authz-denied", "no-route"] {
            var capture = try EditableCapture(scenario)
            capture.keepLogLines { $0.contains("\" 200 ") }
            capture.files["symptom.txt"] = nil
            let diagnosis = try capture.diagnose()
            XCTAssertEqual(diagnosis.causes.map(\.id), [], "\(scenario): \(diagnosis.text)")
            XCTAssertTrue(diagnosis.checked.first?.contains("0 failing") == true, diagnosis.checked.joined(separator: "\n"))
        }
    }

    // MARK: Edited captures: the nine ids set A lacks

    /// UH with membership_total 0: the Service's selector matches no pod.
    func testNoHealthyUpstreamWithoutMembersIsNoEndpoints() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.replaceInFailingLines("503 UO upstream_reset_before_response_started{overflow}", with: "503 UH no_healthy_upstream")
        capture.keepLogLines { !($0.contains("\"inventory:7070\"") && $0.contains("\" 200 ")) }
        capture.replace("stats.txt", "inventory.shop.svc.cluster.local;.membership_total: 1", with: "inventory.shop.svc.cluster.local;.membership_total: 0")
        capture.replace("stats.txt", "inventory.shop.svc.cluster.local;.membership_healthy: 1", with: "inventory.shop.svc.cluster.local;.membership_healthy: 0")
        try capture.editClusterStatuses { cluster in
            if (cluster["name"] as? String)?.contains("inventory") == true { cluster["host_statuses"] = [] }
        }
        capture.replace("istio.yaml", "  selector:\n    app: inventory\n", with: "  selector:\n    app: inventory-api\n")
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .noEndpoints, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.evidence.contains { $0.contains("membership_total: 0") } == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.summary.contains("app=inventory-api") == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("patch service inventory") == true, diagnosis.text)
    }

    /// UH with hosts present but failed_outlier_check: outlier detection ejected them.
    func testNoHealthyUpstreamWithEjectedHostsIsOutlierEjected() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.replaceInFailingLines("503 UO upstream_reset_before_response_started{overflow}", with: "503 UH no_healthy_upstream")
        try capture.editClusterStatuses { cluster in
            guard (cluster["name"] as? String)?.contains("inventory") == true else { return }
            cluster["host_statuses"] = (cluster["host_statuses"] as? [[String: Any]] ?? []).map { host in
                var host = host
                var health = host["health_status"] as? [String: Any] ?? [:]
                health["failed_outlier_check"] = true
                host["health_status"] = health
                return host
            }
        }
        capture.files["stats.txt"]! += "cluster.outbound|7070||inventory.shop.svc.cluster.local;.outlier_detection.ejections_active: 1\n"
        capture.replace("istio.yaml", "    connectionPool:\n", with: "    outlierDetection:\n      consecutive5xxErrors: 1\n      maxEjectionPercent: 100\n    connectionPool:\n")
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .outlierEjected, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("failed_outlier_check"), diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("outlierDetection"), diagnosis.text)
    }

    /// NC: the route names a subset cluster the proxy does not have.
    func testRouteToAnUndefinedSubsetIsMissingSubset() throws {
        var capture = try EditableCapture("route-timeout")
        capture.rewriteLogLines(containing: "504 UT response_timeout") {
            $0.replacingOccurrences(of: "504 UT response_timeout", with: "503 NC cluster_not_found")
                .replacingOccurrences(of: " outbound|5000||recommendations.ml.svc.cluster.local ", with: " - ")
        }
        capture.replace("config_dump.json", #""cluster": "outbound|5000||recommendations.ml.svc.cluster.local""#,
                        with: #""cluster": "outbound|5000|v3|recommendations.ml.svc.cluster.local""#)
        capture.replace("istio.yaml", "        host: recommendations\n    timeout: 0.3s\n", with: "        host: recommendations\n        subset: v3\n")
        capture.files["istio.yaml"]! += "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: recommendations\n  namespace: ml\nspec:\n  host: recommendations\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n"
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .missingSubset, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.summary.contains("\"v3\"") == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("destinationrule recommendations") == true, diagnosis.text)
    }

    /// Six UO overflows, then the Service changed and a later request found a route to a subset that does not
    /// exist: the latest failure the proxy made is what fails now, so it comes first; the overflows follow.
    func testTheLatestProxyMadeFailureComesFirst() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.files["symptom.txt"] = nil
        XCTAssertEqual(try capture.diagnose().causes.first?.id, .circuitBreaker)
        capture.files["access.log"]! += #"[2026-11-30T19:44:44.001Z] "GET /v1/stock/reserve HTTP/1.1" 503 NC cluster_not_found - "-" 0 0 0 - "-" "checkout/1.9 okhttp/4.12.0" "7d0c1a2e-0000-4000-8000-00000000a001" "inventory:7070" "-" outbound|7070|v3|inventory.shop.svc.cluster.local - 127.0.0.1:21131 127.0.0.1:37600 - default"# + "\n"
        // An app's own 503 after it changes nothing: the app answered, the proxy did not fail.
        capture.files["access.log"]! += #"[2026-11-30T19:44:44.101Z] "GET /v1/prices/sku-9001 HTTP/1.1" 503 - via_upstream - "-" 0 19 1 1 "-" "checkout/1.9 okhttp/4.12.0" "7d0c1a2e-0000-4000-8000-00000000a002" "pricing:7070" "127.0.0.1:21134" outbound|7070||pricing.shop.svc.cluster.local 127.0.0.1:52150 127.0.0.1:21131 127.0.0.1:37578 - default"# + "\n"
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.map(\.id), [.missingSubset, .circuitBreaker], diagnosis.text)
    }

    /// UH while the cluster has a healthy host now and later requests succeeded: the endpoints arrived after those
    /// calls (a caller that started before its sidecar had its configuration). Still no-endpoints, said as such.
    func testNoHealthyUpstreamWithHealthyHostsNowSaysTheEndpointsArrivedLate() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.replaceInFailingLines("503 UO upstream_reset_before_response_started{overflow}", with: "503 UH no_healthy_upstream")
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .noEndpoints, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.summary.contains("when these requests were made") == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.evidence.contains { $0.contains("HEALTHY now") } == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("holdApplicationUntilProxyStarts") == true, diagnosis.text)
    }

    /// UC: the upstream closed the connection before answering.
    func testConnectionTerminationIsUpstreamConnectionClosed() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.replaceInFailingLines("503 UO upstream_reset_before_response_started{overflow}", with: "503 UC upstream_reset_before_response_started{connection_termination}")
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .upstreamConnectionClosed, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("idleTimeout") == true, diagnosis.text)
    }

    /// UPE: HTTP/2 (port named http2) to an app that speaks HTTP/1.1.
    func testProtocolErrorIsProtocolMismatch() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.replaceInFailingLines("503 UO upstream_reset_before_response_started{overflow}", with: "502 UPE upstream_reset_before_response_started{protocol_error}")
        capture.replace("istio.yaml", "  - name: http\n    port: 7070\n", with: "  - name: http2\n    port: 7070\n")
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .protocolMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("http2"), diagnosis.text)
    }

    /// 426 DPE low_version: the app spoke HTTP/1.0 to its own sidecar, which takes it only with HTTP10 set. The line
    /// is Envoy's for a request it could not read (no method, path, authority or cluster), and `--to` keeps it.
    func testHTTP10FromTheAppIsHTTP10Refused() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.rewriteLogLines(containing: "503 UO") { line in
            let time = line.prefix { $0 != "]" } + "]"
            return time + #" "- - -" 426 DPE low_version - "-" 0 16 0 - "-" "-" "-" "-" "-" - - 127.0.0.1:21131 127.0.0.1:37524 - -"#
        }
        capture.files["symptom.txt"] = "HTTP/1.1 426 Upgrade Required\ncontent-type: text/plain\n\nUpgrade Required\n"
        var evidence = try capture.evidence()
        evidence.keepRequests(to: "inventory:7070")
        let diagnosis = Doctor(evidence).diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .http10Refused, diagnosis.text)
        let cause = try XCTUnwrap(diagnosis.causes.first)
        XCTAssertTrue(cause.evidence.contains { $0.contains("426 DPE low_version") }, diagnosis.text)
        XCTAssertTrue(cause.evidence.contains { $0.contains("no HTTP10") }, diagnosis.text)
        XCTAssertTrue(cause.fix.contains("kubectl -n shop patch deployment checkout-v1") && cause.fix.contains("ISTIO_META_HTTP10"), cause.fix)
    }

    /// With `--to`, a 426 line that names no destination is kept but ranks after a failure known to go there, even
    /// when it is the latest: an old HTTP/1.0 call does not hide the overflow the caller asks about.
    func testAnUnattributedLineRanksAfterTheDestinationsOwnFailures() throws {
        var capture = try EditableCapture("circuit-breaker")
        let failing = (capture.files["access.log"] ?? "").split(separator: "\n").last { $0.contains("503 UO") }.map(String.init) ?? ""
        let time = failing.prefix { $0 != "]" } + "]"
        capture.files["access.log"] = (capture.files["access.log"] ?? "")
            + time + #" "- - -" 426 DPE low_version - "-" 0 16 0 - "-" "-" "-" "-" "-" - - 127.0.0.1:21131 127.0.0.1:37524 - -"# + "\n"
        capture.files["symptom.txt"] = nil
        var evidence = try capture.evidence()
        evidence.keepRequests(to: "inventory:7070")
        let diagnosis = Doctor(evidence).diagnose()
        XCTAssertEqual(diagnosis.causes.map(\.id).first, .circuitBreaker, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.contains { $0.id == .http10Refused } || diagnosis.checked.contains { $0.contains("426 DPE low_version") }, diagnosis.text)
    }

    /// 429 RL from a local rate limit an EnvoyFilter adds.
    func testRateLimitIsRateLimited() throws {
        var capture = try EditableCapture("authz-denied")
        capture.replaceInFailingLines("403 - rbac_access_denied_matched_policy[none]", with: "429 RL local_rate_limited")
        capture.files["istio.yaml"]! += """
        ---
        apiVersion: networking.istio.io/v1alpha3
        kind: EnvoyFilter
        metadata:
          name: ledger-ratelimit
          namespace: finance
        spec:
          workloadSelector:
            labels:
              app: ledger
          configPatches:
          - applyTo: HTTP_FILTER
            patch:
              operation: INSERT_BEFORE
              value:
                name: envoy.filters.http.local_ratelimit

        """
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .rateLimited, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("EnvoyFilter finance/ledger-ratelimit"), diagnosis.text)
    }

    /// REGISTRY_ONLY: an unknown host hits the block_all route (HTTP) or BlackHoleCluster (TCP).
    func testUnknownHostUnderRegistryOnlyIsEgressBlocked() throws {
        var capture = try EditableCapture("no-route")
        capture.rewriteLogLines(containing: "404 NR route_not_found") {
            $0.replacingOccurrences(of: "404 NR route_not_found", with: "502 - direct_response")
                .replacingOccurrences(of: "\"orders-api.orders:8080\"", with: "\"api.partner.example:8080\"")
                .replacingOccurrences(of: " - -", with: " - block_all")
        }
        capture.replace("istio.yaml", "mode: ALLOW_ANY", with: "mode: REGISTRY_ONLY")
        capture.files["symptom.txt"] = nil
        var diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .egressBlocked, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("kind: ServiceEntry") == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("api.partner.example") == true, diagnosis.text)

        capture.keepLogLines { $0.contains("\" 200 ") }
        capture.files["access.log"]! += #"[2026-11-30T19:45:08.001Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 10.96.0.1:443 127.0.0.1:43990 - -"# + "\n"
        diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .egressBlocked, diagnosis.text)
    }

    /// Connection refused with a targetPort the pods do open: the app listens on 127.0.0.1 only.
    func testRefusedAtTheRightPortIsAppNotListening() throws {
        var capture = try EditableCapture("target-port-mismatch")
        capture.bindPaymentsToLoopbackBehindTheRightTargetPort()
        var diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .appNotListening, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("127.0.0.1"), diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("0.0.0.0") == true, diagnosis.text)

        // Without a loopback bind: nothing listens (the app is down).
        capture.replace("istio.yaml", "        args: [\"--listen=127.0.0.1:8080\"]\n", with: "")
        diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .appNotListening, diagnosis.text)
    }

    /// A Service written with `ports: []` and pods that open another port: a finding with the port left out, not
    /// a trap on the empty list (this indexed ports[0]).
    func testRefusedToAServiceWithAnEmptyPortListDoesNotTrap() throws {
        var capture = try EditableCapture("target-port-mismatch")
        capture.replace("istio.yaml", "  ports:\n  - name: http\n    port: 8080\n    targetPort: 8081\n    protocol: TCP\n", with: "  ports: []\n")
        capture.replace("istio.yaml", "        - name: http\n          containerPort: 8080\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: catalog",
                        with: "        - name: http\n          containerPort: 9090\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: catalog")
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .targetPortMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("9090") == true, diagnosis.text)
    }

    /// Refused at the captured pod's own inbound cluster: its Service's targetPort is a port the container does not open.
    func testInboundRefusedAtAnUndeclaredTargetPortIsTargetPortMismatch() throws {
        var capture = try EditableCapture("authz-denied")
        capture.rewriteLogLines(containing: "403 - rbac_access_denied_matched_policy[none]") {
            $0.replacingOccurrences(of: "403 - rbac_access_denied_matched_policy[none] - \"-\"",
                                    with: "503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - \"delayed_connect_error:_Connection_refused\"")
                .replacingOccurrences(of: "inbound|8080||", with: "inbound|8081||")
        }
        let text = capture.files["istio.yaml"]!
        let service = try XCTUnwrap(text.range(of: "kind: Service\nmetadata:\n  name: ledger\n"))
        let target = try XCTUnwrap(text.range(of: "targetPort: 8080", range: service.upperBound..<text.endIndex))
        capture.files["istio.yaml"] = text.replacingCharacters(in: target, with: "targetPort: 8081")
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .targetPortMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("patch service ledger") == true, diagnosis.text)
    }

    /// A fault delay is a planted fault even when the request then succeeds or the caller gives up.
    func testInjectedDelayIsFaultInjected() throws {
        var capture = try EditableCapture("fault-injected")
        capture.replaceInFailingLines("503 FI fault_filter_abort", with: "0 DI,DC downstream_remote_disconnect")
        capture.files["symptom.txt"] = "curl: (28) Operation timed out after 2000 milliseconds with 0 bytes received\n"
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .faultInjected, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("VirtualService rewards/loyalty"), diagnosis.text)
    }

    /// The destination runs a sidecar: its sidecar's connection to the app is refused, and the caller's sidecar only
    /// passes on its 503 (via_upstream). The reason is in the body the caller saw.
    func testRefusedBehindTheDestinationsSidecar() throws {
        var capture = try EditableCapture("target-port-mismatch")
        let body = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused"
        capture.replaceInFailingLines(#"503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 121"#,
                                      with: #"503 - via_upstream - "-" 0 \#(body.utf8.count)"#)
        capture.replace("istio.yaml", "  name: billing\n  labels:\n    istio-injection: disabled", with: "  name: billing\n  labels:\n    istio-injection: enabled")
        capture.files["symptom.txt"] = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: \(body.utf8.count)\r\ncontent-type: text/plain\r\nserver: istio-envoy\r\n\r\n" + body
        var diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .targetPortMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("the destination's sidecar answered 503"), diagnosis.text)

        capture.bindPaymentsToLoopbackBehindTheRightTargetPort()
        diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .appNotListening, diagnosis.text)
    }

    /// Live, the caller's sidecar only passes on a 503 or 403 (`via_upstream`); the destination sidecar's own line
    /// for the same x-request-id says what it answered for the app: a refused connection, an RBAC denial.
    func testTheDestinationSidecarsLineExplainsWhatTheCallerPassedOn() throws {
        var capture = try EditableCapture("target-port-mismatch")
        let refused = #"503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 121"#
        capture.replaceInFailingLines(refused, with: #"503 - via_upstream - "-" 0 121"#)
        capture.files["symptom.txt"] = nil
        XCTAssertEqual(try capture.diagnose().causes.count, 0, "a bare 503 via_upstream names nothing")
        func destinationLine(_ outcome: String) -> String {
            #"[2026-11-30T19:44:32.803Z] "GET /api/v1/charges/ch_3PqL1042 HTTP/1.1" \#(outcome) 0 121 1 - "-" "storefront/3.2" "e4fdf68a-ca8a-42a6-b546-f8ff915c5f18" "payments.billing:8080" "10.0.0.9:8081" inbound|8081|| - 10.0.0.9:8081 10.0.0.5:41474 outbound_.8080_._.payments.billing.svc.cluster.local default"#
        }
        var evidence = try capture.evidence()
        evidence.addDestinationLog(destinationLine(#"503 UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused""#),
                                   source: "pod payments-v1-abc.billing istio-proxy log")
        var diagnosis = Doctor(evidence).diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .targetPortMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.evidence.contains { $0.contains("the destination's sidecar answered it") && $0.contains("e4fdf68a") } == true, diagnosis.text)

        // A 403 the destination's RBAC filter made: authz-denied; the same 403 without its line is the app's business.
        capture.replaceInFailingLines(#"503 - via_upstream - "-" 0 121"#, with: #"403 - via_upstream - "-" 0 19"#)
        XCTAssertEqual(try capture.diagnose().causes.count, 0, (try? capture.diagnose().text) ?? "")
        evidence = try capture.evidence()
        evidence.addDestinationLog(destinationLine(#"403 - rbac_access_denied_matched_policy[none] - "-""#), source: "pod payments-v1-abc.billing istio-proxy log")
        diagnosis = Doctor(evidence).diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .authzDenied, diagnosis.text)
    }

    /// A TLS app behind a Service port named http: its sidecar sends plaintext and the app answers 400 (or closes,
    /// or answers bytes that are not HTTP). The container port's name says https: protocol-mismatch. Without that
    /// conflict in the objects, an app's 400 is no cause.
    func testATLSAppBehindAnHTTPPortIsProtocolMismatch() throws {
        var capture = try EditableCapture("target-port-mismatch")
        capture.replace("istio.yaml", "  - name: http\n    port: 8080\n    targetPort: 8081\n", with: "  - name: http\n    port: 8080\n    targetPort: 8080\n")
        let refused = #"503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 121"#
        capture.replaceInFailingLines(refused, with: #"400 - via_upstream - "-" 0 48"#)
        capture.files["symptom.txt"] = nil
        XCTAssertEqual(try capture.diagnose().causes.count, 0, (try? capture.diagnose().text) ?? "")
        let declared = "(the Service's targetPort says 8081)\n        ports:\n        - name: http\n"
        capture.replace("istio.yaml", declared, with: declared.replacingOccurrences(of: "name: http", with: "name: https"))
        var diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .protocolMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.evidence.contains { $0.contains("named https") } == true, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("\"value\":\"https\"") == true, diagnosis.text)
        // The same app closing the connection on the plaintext it cannot read (UC) is the same conflict.
        capture.replaceInFailingLines(#"400 - via_upstream - "-" 0 48"#, with: #"503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95"#)
        diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .protocolMismatch, diagnosis.text)
    }

    /// Istio mTLS to pods that opted out of injection in a namespace that has it: the pod lacks the sidecar the
    /// mesh expects (no-sidecar), where set A's namespace outside the mesh is a TLS settings mismatch.
    func testIstioMutualToAnOptedOutPodIsNoSidecar() throws {
        var capture = try EditableCapture("mtls-mismatch")
        capture.replace("istio.yaml", "  name: legacy\n  labels:\n    istio-injection: disabled", with: "  name: legacy\n  labels:\n    istio-injection: enabled")
        capture.replace("istio.yaml", "      labels:\n        app: mailer\n        version: v1\n",
                        with: "      labels:\n        app: mailer\n        version: v1\n        sidecar.istio.io/inject: \"false\"\n")
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.map(\.id), [.noSidecar, .mtlsMismatch], diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.evidence.contains { $0.contains("sidecar.istio.io/inject") } == true, diagnosis.text)
    }

    /// The client sidecar sends plaintext (DestinationRule tls DISABLE) to pods whose PeerAuthentication is STRICT:
    /// their sidecar drops the connection (UC), an mTLS mismatch rather than an app closing connections.
    func testPlaintextFromTheClientToStrictPodsIsMTLSMismatch() throws {
        var capture = try EditableCapture("circuit-breaker")
        capture.replaceInFailingLines("503 UO upstream_reset_before_response_started{overflow}", with: "503 UC upstream_reset_before_response_started{connection_termination}")
        try capture.editClusters { cluster in
            if (cluster["name"] as? String)?.contains("inventory") == true { cluster["transport_socket_matches"] = nil }
        }
        capture.replace("istio.yaml", "    connectionPool:\n", with: "    tls:\n      mode: DISABLE\n    connectionPool:\n")
        capture.files["istio.yaml"]! += "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: shop\nspec:\n  mtls:\n    mode: STRICT\n"
        capture.files["symptom.txt"] = nil
        let diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .mtlsMismatch, diagnosis.text)
        XCTAssertTrue(diagnosis.text.contains("spec.trafficPolicy.tls.mode: DISABLE"), diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.fix.contains("ISTIO_MUTUAL") == true, diagnosis.text)
    }

    /// Plaintext reaching a STRICT inbound listener (no filter chain matches): from a pod that opted out of the
    /// sidecar, no-sidecar; from a namespace outside the mesh, an mTLS mode mismatch.
    func testPlaintextToStrictInbound() throws {
        var capture = try EditableCapture("authz-denied")
        capture.keepLogLines { $0.contains("\" 200 ") }
        capture.files["access.log"]! += #"[2026-11-30T19:45:15.001Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 127.0.0.1:21230 127.0.0.1:59999 - -"# + "\n"
        capture.files["istio.yaml"]! += "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: finance\nspec:\n  mtls:\n    mode: STRICT\n"
        capture.files["symptom.txt"] = nil
        var diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .mtlsMismatch, diagnosis.text)

        capture.replace("istio.yaml", "      labels:\n        app: reports\n", with: "      labels:\n        app: reports\n        sidecar.istio.io/inject: \"false\"\n")
        diagnosis = try capture.diagnose()
        XCTAssertEqual(diagnosis.causes.first?.id, .noSidecar, diagnosis.text)
        XCTAssertTrue(diagnosis.causes.first?.summary.contains("analytics/reports") == true, diagnosis.text)
    }

    func testJSONShape() throws {
        let diagnosis = try EditableCapture("circuit-breaker").diagnose()
        let json = diagnosis.json
        XCTAssertEqual(json["causes"]?.array?.first?["id"]?.string, "circuit-breaker")
        XCTAssertNotNil(json["causes"]?.array?.first?["evidence"]?.array)
        XCTAssertNotNil(json["causes"]?.array?.first?["fix"]?.string)
        XCTAssertNotNil(json["checked"]?.array)
        XCTAssertEqual(json.object?.map(\.key), ["causes", "checked"])
    }
}

extension EditableCapture {
    /// target-port-mismatch's capture edited so the Service's targetPort is right and the payments app binds 127.0.0.1.
    mutating func bindPaymentsToLoopbackBehindTheRightTargetPort() {
        replace("istio.yaml", "targetPort: 8081", with: "targetPort: 8080")
        replace("istio.yaml", "        image: registry.example.com/billing/payments:1.4.2\n",
                with: "        image: registry.example.com/billing/payments:1.4.2\n        args: [\"--listen=127.0.0.1:8080\"]\n")
    }
}
