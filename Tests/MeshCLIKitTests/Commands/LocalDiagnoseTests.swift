import Foundation
import LocalPods
import Manifests
import MeshTestSupport
import XCTest

/// Issue 18's ground truth on the local mesh: each of `x diagnose`'s 17 causes planted with plain Kubernetes and
/// Istio YAML and the echo app's settings, a failing `meshctl local curl --from`, then `meshctl x diagnose` of the
/// caller, whose first cause must be the planted one, with evidence. One local mode serves every scenario: the
/// workloads start once, each scenario has its own Service (so `--to` keeps its requests apart from the others')
/// and removes the Istio objects it applied. Each class prints `local diagnose (meshctl sidecars): N/17 causes named`.
class LocalDiagnoseScenarios: XCTestCase {
    nonisolated(unsafe) static var meshes: [ObjectIdentifier: DiagnoseMesh] = [:]
    nonisolated(unsafe) static var skipReasons: [ObjectIdentifier: String] = [:]
    /// Cause id → whether it was named (false: it failed or was skipped, with why).
    nonisolated(unsafe) static var results: [ObjectIdentifier: [String: (named: Bool, note: String)]] = [:]

    /// What runs in the sidecars: `local up --proxy`.
    class var proxy: String { "meshctl" }
    /// The causes this class plants.
    class var causes: [String] { [] }
    static let allCauses = ["mtls-mismatch", "protocol-mismatch", "no-endpoints", "app-not-listening", "target-port-mismatch", "no-sidecar",
                            "upstream-connection-closed", "circuit-breaker", "outlier-ejected", "missing-subset", "no-route", "route-timeout",
                            "fault-injected", "authz-denied", "egress-blocked", "rate-limited", "http10-refused"]
    class func unavailable() -> String? { nil }

    override class func tearDown() {
        let key = ObjectIdentifier(self)
        meshes[key]?.finish()
        meshes[key] = nil
        guard !causes.isEmpty else { return }
        let results = results[key] ?? [:]
        let named = causes.filter { results[$0]?.named == true }
        print("local diagnose (\(proxy) sidecars): \(named.count)/\(causes.count) causes named")
        if let reason = skipReasons[key] {
            // Not one scenario ran: one line says why.
            return print("  not run: \(reason)")
        }
        for cause in causes where results[cause]?.named != true {
            print("  not named: \(cause): \(results[cause]?.note ?? "did not run")")
        }
    }

    func record(_ cause: String, named: Bool, note: String = "") {
        Self.results[ObjectIdentifier(type(of: self)), default: [:]][cause] = (named, note)
    }

    /// The shared mesh, started by the first scenario.
    func running() throws -> DiagnoseMesh {
        let key = ObjectIdentifier(type(of: self))
        if let mesh = Self.meshes[key] {
            if let problem = mesh.notReady { throw XCTSkip(problem) }
            return mesh
        }
        if let reason = Self.skipReasons[key] { throw XCTSkip(reason) }
        if let unavailable = try localModeSkipReason({ type(of: self).unavailable() }) {
            Self.skipReasons[key] = unavailable
            throw XCTSkip(unavailable)
        }
        let mesh = try DiagnoseMesh.start(proxy: type(of: self).proxy)
        Self.meshes[key] = mesh
        if let problem = mesh.notReady { throw XCTSkip(problem) }
        return mesh
    }

    /// Plants a cause and checks that the doctor names it: applies `yaml`, calls `url` from the client until it gets
    /// `status` with `body` in the answer, then diagnoses the client's requests to `url` and expects `cause` first,
    /// with evidence. `removing` lists the applied objects (`kind/name`, in namespace diag) to delete afterwards.
    @discardableResult
    func plant(_ cause: String, _ yaml: String? = nil, removing: [String] = [], url: String, status: Int, body: String, http10: Bool = false,
               before: ((DiagnoseMesh) throws -> Void)? = nil, timeout: Double = 60, printingText: Bool = false) throws -> [String] {
        let mesh: DiagnoseMesh
        do { mesh = try running() } catch let skip as XCTSkip {
            record(cause, named: false, note: "skipped: \(skip.message ?? "")")
            throw skip
        }
        if let yaml { try mesh.apply(yaml) }
        defer { if !removing.isEmpty { mesh.delete(removing) } }
        var answer = (status: 0, body: "", stderr: "")
        let failed = try mesh.eventually(timeout: timeout) {
            try before?(mesh)
            answer = try mesh.curl(url, http10: http10)
            return answer.status == status && (body.isEmpty || answer.body.contains(body))
        }
        guard failed else {
            record(cause, named: false, note: "the planted fault did not show: the last call got \(answer.status) \(answer.body.prefix(200)) \(answer.stderr.suffix(300))")
            XCTFail("\(cause): expected \(status) with \"\(body)\" from \(url); got \(answer.status) \"\(answer.body)\" \(answer.stderr)")
            return []
        }
        var diagnosis: (first: String, json: String) = ("", "")
        // The access log reaches the pod's log a moment after the answer: diagnose until the request is seen.
        let named = try mesh.eventually(timeout: 30) {
            diagnosis = try mesh.diagnose(to: url)
            return diagnosis.first == cause
        }
        record(cause, named: named, note: named ? "" : "the doctor named \(diagnosis.first.isEmpty ? "nothing" : diagnosis.first): \(diagnosis.json.prefix(3000))")
        XCTAssertTrue(named, "\(cause): x diagnose named \(diagnosis.first.isEmpty ? "no cause" : diagnosis.first):\n\(diagnosis.json)")
        let causes = named ? (try JSONValue.parse(diagnosis.json)["causes"]?.array ?? []) : []
        if named {
            XCTAssertFalse(causes.first?["evidence"]?.array?.isEmpty ?? true, "\(cause) comes with evidence: \(diagnosis.json)")
            XCTAssertFalse(causes.first?["fix"]?.string?.isEmpty ?? true, "\(cause) comes with a fix: \(diagnosis.json)")
        }
        if printingText {
            // What an operator sees (README's worked example comes from this).
            print("$ meshctl local curl --from deploy/client -n diag \(url)\n\(answer.status) \(answer.body)")
            print("$ meshctl x diagnose deploy/client -n diag --to \(url)\n" + (try mesh.home.meshctl(["x", "diagnose", "deploy/client", "-n", "diag", "--to", url]).stdout))
        }
        return causes.compactMap { $0["fix"]?.string }
    }

    // MARK: Scenarios

    /// A good call gives no cause. The Service is called only once the client's sidecar holds its endpoint, so the
    /// log holds no failure from before (a call made earlier gets a true 503 UH, which the doctor would name).
    func checkAHealthyCallGivesNoCause() throws {
        let mesh = try running()
        let client = try mesh.podName("client")
        var endpoints = ""
        // Envoy's sidecars poll the pilot every second; on a loaded machine the first answers take a while.
        XCTAssertTrue(try mesh.eventually(timeout: 90) {
            endpoints = try mesh.home.meshctl(["proxy-config", "endpoints", "-n", "diag", client, "--cluster", "outbound|80||good.diag.svc.cluster.local"]).stdout
            return endpoints.contains("HEALTHY")
        }, endpoints)
        XCTAssertEqual(try mesh.curl("http://good/healthy").status, 200)
        var diagnosis: (first: String, json: String) = ("", "")
        // Until the call reaches the sidecar's log, the doctor sees no request at all.
        XCTAssertTrue(try mesh.eventually(timeout: 30) {
            diagnosis = try mesh.diagnose(to: "http://good/")
            return diagnosis.json.contains("\"access log: ") && !diagnosis.json.contains("\"access log: 0 line(s)")
        }, diagnosis.json)
        XCTAssertEqual(try JSONValue.parse(diagnosis.json)["causes"]?.array?.count, 0, diagnosis.json)
    }

    /// ISTIO_MUTUAL to a namespace without injection: the handshake meets a plaintext app.
    func checkMTLSMismatch() throws {
        try plant("mtls-mismatch", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: legacy, namespace: diag}
            spec:
              host: legacy.outside.svc.cluster.local
              trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}

            """, removing: ["destinationrule/legacy"], url: "http://legacy.outside/", status: 503, body: "upstream connect error")
    }

    /// The app serves TLS on a port the Service names http: its sidecar sends it plaintext HTTP, and the app's TLS
    /// server answers 400, as Go's and the echo app's do.
    func checkProtocolMismatch() throws {
        try plant("protocol-mismatch", url: "http://tls/", status: 400, body: "Client sent an HTTP request to an HTTPS server")
    }

    /// The Service selects no pod.
    func checkNoEndpoints() throws {
        try plant("no-endpoints", url: "http://nobody/", status: 503, body: "no healthy upstream")
    }

    /// The app binds 127.0.0.1, which its sidecar cannot reach.
    func checkAppNotListening() throws {
        try plant("app-not-listening", url: "http://loopback/", status: 503, body: "upstream connect error")
    }

    /// The Service's targetPort is not a port the pods open.
    /// README's worked example: plant, curl, diagnose, then the fix the doctor gives, and the call answers.
    func checkTargetPortMismatch() throws {
        let fixes = try plant("target-port-mismatch", url: "http://web-port/", status: 503, body: "upstream connect error", printingText: true)
        let patch = #"[{"op":"replace","path":"/spec/ports/0/targetPort","value":8080}]"#
        guard fixes.first?.contains("kubectl -n diag patch service web-port --type json -p '\(patch)'") == true else {
            return XCTFail("the fix is not the patch README shows: \(fixes)")
        }
        let mesh = try running()
        let patched = try mesh.home.kubectl(["-n", "diag", "patch", "service", "web-port", "--type", "json", "-p", patch])
        XCTAssertEqual(patched.status, 0, patched.stderr)
        var answer = (status: 0, body: "", stderr: "")
        XCTAssertTrue(try mesh.eventually(timeout: 30) {
            answer = try mesh.curl("http://web-port/")
            return answer.status == 200
        }, "after the fix: \(answer)")
    }

    /// A pod opted out of injection in an injected namespace, sent Istio mTLS.
    func checkNoSidecar() throws {
        try plant("no-sidecar", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: bare, namespace: diag}
            spec:
              host: bare
              trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}

            """, removing: ["destinationrule/bare"], url: "http://bare/", status: 503, body: "upstream connect error")
    }

    /// The app drops the kept-alive connection its sidecar reuses.
    func checkUpstreamConnectionClosed() throws {
        try plant("upstream-connection-closed", url: "http://closer/", status: 503, body: "upstream connect error")
    }

    /// One connection and one pending request allowed; more at once overflow.
    func checkCircuitBreaker() throws {
        try plant("circuit-breaker", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: slow-cb, namespace: diag}
            spec:
              host: slow-cb
              trafficPolicy:
                connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}}

            """, removing: ["destinationrule/slow-cb"], url: "http://slow-cb/", status: 503, body: "overflow",
            before: { mesh in mesh.callInBackground(3, "http://slow-cb/held") })
    }

    /// The only pod always fails and outlier detection ejects it.
    func checkOutlierEjected() throws {
        try plant("outlier-ejected", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: broken, namespace: diag}
            spec:
              host: broken
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 120s, maxEjectionPercent: 100}

            """, removing: ["destinationrule/broken"], url: "http://broken/", status: 503, body: "no healthy upstream")
    }

    /// A route to a subset no DestinationRule defines.
    func checkMissingSubset() throws {
        try plant("missing-subset", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web-subset, namespace: diag}
            spec:
              hosts: [web-subset]
              http:
              - route: [{destination: {host: web-subset, subset: v9}}]

            """, removing: ["virtualservice/web-subset"], url: "http://web-subset/", status: 503, body: "")
    }

    /// No route of the VirtualService matches the path.
    func checkNoRoute() throws {
        try plant("no-route", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web-route, namespace: diag}
            spec:
              hosts: [web-route]
              http:
              - match: [{uri: {prefix: /api}}]
                route: [{destination: {host: web-route}}]

            """, removing: ["virtualservice/web-route"], url: "http://web-route/other", status: 404, body: "")
    }

    /// A route timeout shorter than the app takes.
    func checkRouteTimeout() throws {
        try plant("route-timeout", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: slow-timeout, namespace: diag}
            spec:
              hosts: [slow-timeout]
              http:
              - route: [{destination: {host: slow-timeout}}]
                timeout: 0.5s

            """, removing: ["virtualservice/slow-timeout"], url: "http://slow-timeout/", status: 504, body: "upstream request timeout")
    }

    /// A VirtualService fault aborts every request.
    func checkFaultInjected() throws {
        try plant("fault-injected", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web-fault, namespace: diag}
            spec:
              hosts: [web-fault]
              http:
              - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
                route: [{destination: {host: web-fault}}]

            """, removing: ["virtualservice/web-fault"], url: "http://web-fault/", status: 503, body: "fault filter abort")
    }

    /// An AuthorizationPolicy denies the path at the destination's sidecar.
    func checkAuthzDenied() throws {
        try plant("authz-denied", """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: web-private, namespace: diag}
            spec:
              selector: {matchLabels: {app: web}}
              action: DENY
              rules: [{to: [{operation: {paths: [/private]}}]}]

            """, removing: ["authorizationpolicy/web-private"], url: "http://web/private", status: 403, body: "RBAC: access denied")
    }

    /// REGISTRY_ONLY for the client, and a host no Service or ServiceEntry declares.
    func checkEgressBlocked() throws {
        try plant("egress-blocked", """
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: client-registry-only, namespace: diag}
            spec:
              workloadSelector: {labels: {app: client}}
              outboundTrafficPolicy: {mode: REGISTRY_ONLY}

            """, removing: ["sidecar/client-registry-only"], url: "http://127.0.0.77/", status: 502, body: "")
    }

    /// A local rate limit of one request a minute on the destination's sidecar.
    func checkRateLimited() throws {
        try plant("rate-limited", """
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: limited-ratelimit, namespace: diag}
            spec:
              workloadSelector: {labels: {app: limited}}
              configPatches:
              - applyTo: HTTP_FILTER
                match:
                  context: SIDECAR_INBOUND
                  listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}
                patch:
                  operation: INSERT_BEFORE
                  value:
                    name: envoy.filters.http.local_ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                      stat_prefix: http_local_rate_limiter
                      token_bucket: {max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s}
                      filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}
                      filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: 100, denominator: HUNDRED}}

            """, removing: ["envoyfilter/limited-ratelimit"], url: "http://limited/", status: 429, body: "local_rate_limited")
    }

    /// The client's app speaks HTTP/1.0 (`local curl -0`): its own sidecar answers 426, as Istio's do without HTTP10.
    func checkHTTP10Refused() throws {
        try plant("http10-refused", url: "http://good/old-client", status: 426, body: "Upgrade Required", http10: true)
    }
}

/// Every cause with meshctl's proxy in the sidecars.
final class LocalDiagnoseTests: LocalDiagnoseScenarios {
    override class var causes: [String] { LocalDiagnoseScenarios.allCauses }

    func testAHealthyCallGivesNoCause() throws { try checkAHealthyCallGivesNoCause() }
    func testMTLSMismatch() throws { try checkMTLSMismatch() }
    func testProtocolMismatch() throws { try checkProtocolMismatch() }
    func testNoEndpoints() throws { try checkNoEndpoints() }
    func testAppNotListening() throws { try checkAppNotListening() }
    func testTargetPortMismatch() throws { try checkTargetPortMismatch() }
    func testNoSidecar() throws { try checkNoSidecar() }
    func testUpstreamConnectionClosed() throws { try checkUpstreamConnectionClosed() }
    func testCircuitBreaker() throws { try checkCircuitBreaker() }
    func testOutlierEjected() throws { try checkOutlierEjected() }
    func testMissingSubset() throws { try checkMissingSubset() }
    func testNoRoute() throws { try checkNoRoute() }
    func testRouteTimeout() throws { try checkRouteTimeout() }
    func testFaultInjected() throws { try checkFaultInjected() }
    func testAuthzDenied() throws { try checkAuthzDenied() }
    func testEgressBlocked() throws { try checkEgressBlocked() }
    func testRateLimited() throws { try checkRateLimited() }
    func testHTTP10Refused() throws { try checkHTTP10Refused() }
}

/// The same scenarios with real Envoy in the sidecars (`local up --proxy envoy`). Opt-in with
/// MESHCTL_DIAGNOSE_ENVOY=1 (it doubles the file's time, and meshctl's proxy already reproduces every cause);
/// skipped with the reason otherwise, or when no Envoy is installed.
final class LocalDiagnoseEnvoyTests: LocalDiagnoseScenarios {
    override class var proxy: String { "envoy" }
    override class var causes: [String] { LocalDiagnoseScenarios.allCauses }
    override class func unavailable() -> String? {
        if ProcessInfo.processInfo.environment["MESHCTL_DIAGNOSE_ENVOY"] != "1" {
            return "the diagnose scenarios with Envoy sidecars run with MESHCTL_DIAGNOSE_ENVOY=1 (meshctl's proxy runs them in LocalDiagnoseTests)"
        }
        return LocalMeshEnvoyTests.envoy == nil ? "no envoy binary (set ENVOY, or `make test` installs Envoy 1.40)" : nil
    }

    func testAHealthyCallGivesNoCause() throws { try checkAHealthyCallGivesNoCause() }
    func testMTLSMismatch() throws { try checkMTLSMismatch() }
    func testProtocolMismatch() throws { try checkProtocolMismatch() }
    func testNoEndpoints() throws { try checkNoEndpoints() }
    func testAppNotListening() throws { try checkAppNotListening() }
    func testTargetPortMismatch() throws { try checkTargetPortMismatch() }
    func testNoSidecar() throws { try checkNoSidecar() }
    func testUpstreamConnectionClosed() throws { try checkUpstreamConnectionClosed() }
    func testCircuitBreaker() throws { try checkCircuitBreaker() }
    func testOutlierEjected() throws { try checkOutlierEjected() }
    func testMissingSubset() throws { try checkMissingSubset() }
    func testNoRoute() throws { try checkNoRoute() }
    func testRouteTimeout() throws { try checkRouteTimeout() }
    func testFaultInjected() throws { try checkFaultInjected() }
    func testAuthzDenied() throws { try checkAuthzDenied() }
    func testEgressBlocked() throws { try checkEgressBlocked() }
    func testRateLimited() throws { try checkRateLimited() }
    func testHTTP10Refused() throws { try checkHTTP10Refused() }
}

/// A local control plane with the diagnose scenarios' workloads: namespace `diag` (injection on) with a client and
/// one destination per kind of fault, namespace `outside` (no injection) with a plain app.
final class DiagnoseMesh: @unchecked Sendable {
    let home: LocalModeHome
    private(set) var notReady: String?

    struct NotReady: Error, CustomStringConvertible {
        let description: String
    }

    private init(home: LocalModeHome) { self.home = home }

    /// An echo Deployment in `namespace`; `port` is its container port (named `portName`).
    static func echo(_ app: String, namespace: String = "diag", port: Int = 8080, portName: String = "http", environment: [(String, String)] = [],
                     labels: [String: String] = [:], probe: Bool = false) -> String {
        var env = environment.isEmpty ? "" : "\n        env: [" + environment.map { "{name: \($0.0), value: \"\($0.1)\"}" }.joined(separator: ", ") + "]"
        if probe { env += "\n        readinessProbe: {httpGet: {path: /status/200, port: \(portName)}, periodSeconds: 1}" }
        let podLabels = (["app": app] as [String: String]).merging(labels) { $1 }.sorted { $0.key < $1.key }
            .map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ")
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: \(app), namespace: \(namespace)}
            spec:
              replicas: 1
              selector: {matchLabels: {app: \(app)}}
              template:
                metadata: {labels: {\(podLabels)}}
                spec:
                  terminationGracePeriodSeconds: 2
                  containers:
                  - name: echo
                    image: meshctl/echo:latest
                    ports: [{name: \(portName), containerPort: \(port)}]\(env)
            ---

            """
    }

    /// A Service on port 80 selecting `app`, to `targetPort`.
    static func service(_ name: String, namespace: String = "diag", app: String? = nil, targetPort: String = "http", portName: String = "http") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          selector: {app: \(app ?? name)}
          ports: [{name: \(portName), port: 80, targetPort: \(targetPort)}]
        ---

        """
    }

    /// The Deployments that must be ready before the scenarios run.
    static let deployments = ["client", "web", "tls", "loopback", "closer", "slow", "broken", "bare", "limited", "legacy"]

    static var workloads: String {
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: diag, labels: {istio-injection: enabled}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: outside}
        ---

        """
            + echo("client") + service("client")
            + echo("web", probe: true) + service("web") + service("good", app: "web")
            + service("web-port", app: "web", targetPort: "8081") + service("web-subset", app: "web")
            + service("web-route", app: "web") + service("web-fault", app: "web")
            // The app speaks TLS (its container port says https) where the Service says http.
            + echo("tls", portName: "https", environment: [("ECHO_TLS", "true")]) + service("tls", targetPort: "https")
            // Bound to loopback (on a port of its own: 127.0.0.1 is shared by the whole machine).
            + echo("loopback", port: 18_277, environment: [("ECHO_BIND", "127.0.0.1")]) + service("loopback")
            + echo("closer", environment: [("ECHO_CLOSE_AFTER", "1")]) + service("closer")
            + echo("slow", environment: [("ECHO_DELAY", "3s")]) + service("slow-cb", app: "slow") + service("slow-timeout", app: "slow")
            + echo("broken", environment: [("ECHO_ERROR_RATE", "1")]) + service("broken")
            + echo("bare", labels: ["sidecar.istio.io/inject": "false"], probe: true) + service("bare")
            + echo("limited", probe: true) + service("limited")
            + service("nobody")
            + echo("legacy", namespace: "outside", probe: true) + service("legacy", namespace: "outside")
    }

    /// Starts local mode, applies the workloads and waits until every Deployment is ready.
    static func start(proxy: String) throws -> DiagnoseMesh {
        let home = try LocalModeHome("diagnose-\(proxy)", variables: proxy == "envoy" ? ["ENVOY": LocalMeshEnvoyTests.envoy ?? ""] : [:])
        let mesh = DiagnoseMesh(home: home)
        do {
            let up = try home.meshctl(["local", "up", "--state-dir", home.state, "--proxy", proxy])
            guard up.status == 0 else { throw NotReady(description: "local up failed: \(up.stderr)") }
            try mesh.apply(workloads)
            var waiting: Set<String> = []
            let ready = try mesh.eventually(timeout: 120) {
                let listed = try home.kubectl(["get", "deployments", "-A", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.readyReplicas} {end}"]).stdout
                let names = Set(listed.split(separator: " ").filter { $0.hasSuffix("=1") }.map { String($0.dropLast(2)) })
                waiting = Set(deployments).subtracting(names)
                return waiting.isEmpty
            }
            if !ready { mesh.notReady = "deployments \(waiting.sorted().joined(separator: ", ")) did not become ready within 120 s" }
        } catch {
            mesh.finish()
            throw error
        }
        return mesh
    }

    func finish() { home.finish() }

    /// The first pod of a Deployment in `diag`, by name.
    func podName(_ deployment: String) throws -> String {
        let pods = try home.kubectl(["get", "pods", "-n", "diag", "-l", "app=\(deployment)", "-o", "jsonpath={.items[*].metadata.name}"]).stdout
        guard let pod = pods.split(separator: " ").first else { throw NotReady(description: "no pod of deployment \(deployment)") }
        return String(pod)
    }

    func apply(_ yaml: String) throws {
        let applied = try home.kubectl(["apply", "-f", "-"], stdin: yaml)
        guard applied.status == 0 else { throw NotReady(description: "kubectl apply failed: \(applied.stderr)") }
    }

    func delete(_ objects: [String]) {
        _ = try? home.kubectl(["delete", "-n", "diag", "--wait=false", "--ignore-not-found"] + objects)
    }

    /// Polls `condition` until it holds or `timeout` passes.
    func eventually(timeout: Double = 20, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if (try? condition()) == true { return true }
            Thread.sleep(forTimeInterval: 0.2)
        } while Date() < deadline
        return try condition()
    }

    /// `meshctl local curl --from deploy/client -n diag -v URL`: the status (0: no answer), body and the head.
    func curl(_ url: String, http10: Bool = false) throws -> (status: Int, body: String, stderr: String) {
        let run = try home.meshctl(["local", "curl", "--state-dir", home.state, "-n", "diag", "--from", "deploy/client", "-m", "10", "-v"]
                                   + (http10 ? ["--http1.0"] : []) + [url])
        let statusLine = run.stderr.split(separator: "\n").first { $0.hasPrefix("< HTTP/") }
        let status = statusLine.flatMap { $0.split(separator: " ").dropFirst(2).first.flatMap { Int($0) } } ?? 0
        return (status, run.stdout, run.stderr)
    }

    /// `meshctl x diagnose deploy/client -n diag --to URL -o json`: the first cause id ("" for none) and the output.
    func diagnose(to url: String) throws -> (first: String, json: String) {
        let run = try home.meshctl(["x", "diagnose", "deploy/client", "-n", "diag", "--to", url, "-o", "json"])
        guard run.status == 0 else { return ("", "exit \(run.status): \(run.stderr)") }
        let first = (try? JSONValue.parse(run.stdout))?["causes"]?.array?.first?["id"]?.string ?? ""
        return (first, run.stdout)
    }

    private let lock = NSLock()
    private var inBackground = 0

    /// Keeps `count` requests from the client under way, not waited for (they hold a slow backend's pool).
    func callInBackground(_ count: Int, _ url: String) {
        lock.lock()
        let missing = max(0, count - inBackground)
        inBackground += missing
        lock.unlock()
        for _ in 0..<missing {
            DispatchQueue.global().async { [self] in
                _ = try? curl(url)
                lock.lock(); inBackground -= 1; lock.unlock()
            }
        }
    }
}
