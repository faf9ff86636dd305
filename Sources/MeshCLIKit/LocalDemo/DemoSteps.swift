import Foundation
import Manifests

/// The demo's five steps: each applies a rule (or none), measures traffic, and checks the measurement against
/// what the rule says.
struct DemoSteps {
    let run: LocalDemoRun
    let cluster: DemoCluster
    let frontend: String
    let legacyClient: String

    private var shop: String { DemoManifests.shopNamespace }
    private var legacy: String { DemoManifests.legacyNamespace }
    private let strictSample = 20
    private let permissiveSample = 5

    /// 1: no rule; the load balancer spreads frontend's requests over cart's endpoints.
    func traffic(_ step: inout DemoStep) throws {
        if run.removedLeftoverRules {
            step.actions.append(try run.waitForSidecar(cluster, pod: frontend, what: "no VirtualService for cart") { dump in
                !SidecarConfigQuery.hasWeightedCluster(dump, named: DemoManifests.subsetCluster("v2")) && !SidecarConfigQuery.hasFaultAbort(dump)
            })
        }
        guard let took = run.waitUntil(timeout: 20, { if case .answered(200..<300, _, _) = run.sendOne(from: frontend, namespace: shop) { true } else { false } }) else {
            let last = run.sendOne(from: frontend, namespace: shop)
            return step.couldNotMeasure("frontend's requests to reach cart within 20 s", "\(last)")
        }
        step.actions.append(String(format: "frontend's first request reached cart after %.1f s", took))
        if let path = run.path(from: frontend, namespace: shop) { step.actions.append("local curl -v: " + path) }
        let versions = Dictionary(grouping: try cluster.readyPods(app: "cart", namespace: shop)) { $0.labelMap["version"] ?? "unknown" }.mapValues(\.count)
        let endpoints = versions.values.reduce(0, +)
        step.rule = "no VirtualService for cart: frontend's sidecar balances over cart's ready endpoints ("
            + versions.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value) pod\($0.value == 1 ? "" : "s")" }.joined(separator: ", ") + ")"
        let tally = measure(&step, from: frontend, namespace: shop)
        checkAllAnswered(&step, tally)
        for (version, count) in versions.sorted(by: { $0.key < $1.key }) {
            checkShare(&step, "\(version) share", BinomialCheck(observed: tally.okByVersion[version] ?? 0, trials: tally.total,
                                                              expectedShare: Double(count) / Double(max(endpoints, 1))))
        }
    }

    /// 2: 90/10 between the subsets.
    func canary(_ step: inout DemoStep) throws {
        try applyRule(&step, DemoManifests.canary, "VirtualService shop/cart: subset v1 weight 90, subset v2 weight 10")
        step.actions.append(try run.waitForSidecar(cluster, pod: frontend, what: "the 90/10 route") { dump in
            SidecarConfigQuery.hasWeightedCluster(dump, named: DemoManifests.subsetCluster("v2"))
        })
        step.rule = "VirtualService cart: 90% of requests to subset v1, 10% to subset v2 (DestinationRule cart: subsets by the version label)"
        let tally = measure(&step, from: frontend, namespace: shop)
        checkAllAnswered(&step, tally)
        checkShare(&step, "v2 share", BinomialCheck(observed: tally.okByVersion["v2"] ?? 0, trials: tally.total, expectedShare: 0.1))
    }

    /// 3: an abort fault on half the requests.
    func fault(_ step: inout DemoStep) throws {
        try applyRule(&step, DemoManifests.abortHalf, "VirtualService shop/cart: fault.abort httpStatus 503 for 50% of requests, then 90/10")
        step.actions.append(try run.waitForSidecar(cluster, pod: frontend, what: "the fault filter's abort") { dump in
            SidecarConfigQuery.hasFaultAbort(dump)
        })
        step.rule = "VirtualService cart: abort 50% of requests with HTTP \(DemoManifests.abortStatus) (Envoy's fault filter, body \"fault filter abort\")"
        let tally = measure(&step, from: frontend, namespace: shop)
        checkShare(&step, "injected \(DemoManifests.abortStatus)s", BinomialCheck(observed: tally.faultInjected, trials: tally.total, expectedShare: 0.5))
        let rest = tally.total - tally.faultInjected
        step.check(tally.ok == rest, expected: "the other requests answered 2xx", measured: "\(tally.ok) of \(rest) answered 2xx"
                   + (tally.ok == rest ? "" : " (\(tally.outcomesText))"))
    }

    /// 4: PeerAuthentication STRICT: plaintext from a pod without a sidecar is refused, mTLS from frontend is not.
    func strictMTLS(_ step: inout DemoStep) throws {
        try applyRule(&step, DemoManifests.canary, "VirtualService shop/cart: the fault removed (the 90/10 canary again)", show: false)
        step.actions.append(try run.waitForSidecar(cluster, pod: frontend, what: "no fault") { !SidecarConfigQuery.hasFaultAbort($0) })
        step.rule = "PeerAuthentication shop/default: mtls.mode STRICT; the sidecars in shop accept mutual TLS only"
        let before = TrafficTally((0..<permissiveSample).map { _ in run.sendOne(from: legacyClient, namespace: legacy) })
        step.actions.append("before: sent \(permissiveSample) requests from legacy/\(legacyClient) (no sidecar: plaintext)")
        step.check(before.ok == before.total, expected: "before STRICT (PERMISSIVE): legacy's plaintext requests answered 2xx",
                   measured: "\(before.ok) of \(before.total) answered 2xx" + (before.ok == before.total ? "" : " (\(before.outcomesText))"))
        try applyRule(&step, DemoManifests.strictMTLS, "PeerAuthentication shop/default: mtls STRICT")
        // Each cart pod's sidecar takes the policy in its own time: wait until every one refuses, asked at its own address.
        let cartAddresses = try cluster.readyPods(app: "cart", namespace: shop).compactMap { $0["status"]?["podIP"]?.string }
        var accepting = Set(cartAddresses)
        let took = run.waitUntil(timeout: 15) {
            for address in accepting {
                if case .answered(200..<300, _, _) = run.sendOne(from: legacyClient, namespace: legacy, url: "http://\(address):8080/") { continue }
                accepting.remove(address)
            }
            return accepting.isEmpty
        }
        step.actions.append(took.map { String(format: "every cart pod's sidecar (%d) refused legacy's plaintext %.1f s after the apply", cartAddresses.count, $0) }
                            ?? "cart's sidecars at \(accepting.sorted().joined(separator: ", ")) still answered legacy's plaintext 15 s after the apply")
        let legacyTally = TrafficTally((0..<strictSample).map { _ in run.sendOne(from: legacyClient, namespace: legacy) })
        let frontendTally = run.send(strictSample, from: frontend, namespace: shop)
        step.actions.append("sent \(strictSample) requests from legacy/\(legacyClient) and \(strictSample) from shop/\(frontend)")
        step.check(legacyTally.ok == 0, expected: "legacy (no sidecar) refused: none of its requests answered by cart",
                   measured: "\(legacyTally.ok) of \(legacyTally.total) answered 2xx (\(legacyTally.outcomesText))")
        step.check(frontendTally.ok == frontendTally.total, expected: "frontend (sidecar, mTLS) still answered 2xx",
                   measured: "\(frontendTally.ok) of \(frontendTally.total) answered 2xx" + (frontendTally.ok == frontendTally.total ? "" : " (\(frontendTally.outcomesText))"))
    }

    /// 5: the real `meshctl proxy-config routes` of the frontend pod.
    func routes(_ step: inout DemoStep) throws {
        step.actions.append("ran: meshctl proxy-config routes \(frontend).shop")
        step.rule = "frontend's sidecar holds the route VirtualService cart made"
        let result = run.proxyConfigRoutes(frontend)
        step.output = result.exitCode == .success ? result.stdout : result.stderr
        let listsCart = result.stdout.split(separator: "\n").contains { $0.contains("cart") }
        step.check(result.exitCode == .success && listsCart, expected: "proxy-config routes answers and lists cart's route",
                   measured: result.exitCode == .success ? (listsCart ? "cart's route listed" : "no line names cart")
                                                         : "exit \(result.exitCode.rawValue): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    // MARK: - Shared parts

    private func applyRule(_ step: inout DemoStep, _ yaml: String, _ summary: String, show: Bool = true) throws {
        if show {
            run.say("applying:")
            for line in yaml.split(separator: "\n") { run.say("  | " + line) }
        }
        try run.apply(yaml, step: step.name)
        step.actions.append("applied " + summary)
    }

    private func measure(_ step: inout DemoStep, from pod: String, namespace: String) -> TrafficTally {
        let start = Date()
        let tally = run.send(run.requests, from: pod, namespace: namespace)
        step.actions.append(String(format: "sent %d GET %@ from %@/%@ (meshctl local curl --from, %d at a time) in %.1f s",
                                   run.requests, DemoManifests.cartURL, namespace, pod, DemoTraffic.lanes, Date().timeIntervalSince(start)))
        return tally
    }

    private func checkAllAnswered(_ step: inout DemoStep, _ tally: TrafficTally) {
        step.check(tally.ok == tally.total, expected: "every request answered 2xx",
                   measured: "\(tally.ok) of \(tally.total) answered 2xx: \(tally.splitText)" + (tally.ok == tally.total ? "" : " (\(tally.outcomesText))"))
    }

    private func checkShare(_ step: inout DemoStep, _ what: String, _ check: BinomialCheck) {
        step.check(check.holds, expected: "\(what) \(check.expectedText)", measured: "\(what) \(check.measuredText)")
    }
}
