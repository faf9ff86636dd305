import EnvoyConfig
import Foundation
import Manifests

/// Failures at the upstream cluster (limits, host health) and at the destination's policy.
extension CauseRules {
    func circuitBreaker() -> [Cause] {
        var evidence = logEvidenceLines
        for name in ["upstream_rq_pending_overflow", "upstream_cx_overflow", "upstream_rq_retry_overflow", "upstream_cx_pool_overflow",
                     "circuit_breakers.default.remaining_cx", "circuit_breakers.default.remaining_pending"] {
            if let value = path.stat(name), value > 0 || name.contains("remaining") { evidence.append("stats.txt: cluster.\(path.clusterName);.\(name): \(value)") }
        }
        if symptom?.header("x-envoy-overloaded") == "true" { evidence.append("symptom.txt: x-envoy-overloaded: true (the proxy shed the request)") }
        if let thresholds = path.cluster?.json.field("circuit_breakers")?.field("thresholds")?.array?.first {
            let limits = ["max_connections", "max_pending_requests", "max_requests", "max_retries"].compactMap { name in
                thresholds.field(name)?.wrappedInteger.map { "\(name) \($0)" }
            }
            evidence.append("config_dump.json: cluster \(path.clusterName) circuit_breakers \(limits.joined(separator: ", "))")
        }
        let rule = path.destinationRule
        let pool = rule?.spec["trafficPolicy"]?["connectionPool"]
        if let rule, pool != nil { evidence.append(rule.field("spec.trafficPolicy.connectionPool")) }
        let fix = rule.map { rule in
            "Raise the connection pool limits to the concurrency the callers need (or remove them):\n" + Self.patch(rule, #"{"spec":{"trafficPolicy":{"connectionPool":{"tcp":{"maxConnections":100},"http":{"http1MaxPendingRequests":100,"http2MaxRequests":1000}}}}}"#)
        } ?? "Raise the cluster's circuit-breaker limits (DestinationRule trafficPolicy.connectionPool for \(path.destinationHost))"
        return [Cause(.circuitBreaker,
                      summary: "the client-side circuit breaker of \(path.clusterName) overflowed (UO): \(rule.map { "DestinationRule \($0.namespace)/\($0.name) limits the connection pool" } ?? "the cluster's limits are") too low for the concurrent requests",
                      evidence: evidence, fix: fix)]
    }

    /// UH: no host to send to. No endpoints at all, or hosts that outlier detection ejected.
    func noHealthyUpstream() -> [Cause] {
        var evidence = logEvidenceLines
        let hosts = path.hosts ?? []
        let ejected = hosts.filter(\.failedOutlierCheck)
        let total = path.stat("membership_total")
        let healthy = path.stat("membership_healthy")
        let ejections = path.stat("outlier_detection.ejections_active")
        let enforced = path.stat("outlier_detection.ejections_enforced_total")
        for name in ["membership_total", "membership_healthy", "outlier_detection.ejections_active", "outlier_detection.ejections_enforced_total", "upstream_cx_none_healthy"] {
            if let line = path.statLine(name) { evidence.append(line) }
        }
        if path.hosts != nil {
            evidence.append("clusters.json: \(path.clusterName) has \(hosts.count) host(s)" + (hosts.isEmpty ? "" : ": " + hosts.map { "\($0.endpoint) \($0.healthStatus)\($0.failedOutlierCheck ? " failed_outlier_check" : "")" }.joined(separator: ", ")))
        }
        let outlier = !ejected.isEmpty || (ejections ?? 0) > 0 || (hosts.isEmpty == false && (enforced ?? 0) > 0 && (healthy ?? 1) == 0)
        if outlier { return outlierEjected(evidence: evidence, ejected: ejected.count, hosts: hosts.count) }
        if hosts.isEmpty || total == 0 || (path.hosts == nil && total == nil) {
            return noEndpoints(evidence: evidence)
        }
        let healthyNow = hosts.filter { $0.healthStatus == "HEALTHY" && !$0.failedOutlierCheck }.count
        if healthyNow > 0, (healthy ?? healthyNow) > 0 { return endpointsArrivedLate(evidence: evidence, healthyNow: healthyNow) }
        // Hosts are there but none is healthy by EDS (not ready).
        return noEndpoints(evidence: evidence + ["no host of \(path.clusterName) is healthy (membership_healthy \(healthy.map(String.init) ?? "?")): the pods are not ready"])
    }

    /// UH, but the cluster has healthy hosts now: when these requests were made the proxy had no endpoint yet (the
    /// caller started before its sidecar had its configuration, or the pods became ready later).
    func endpointsArrivedLate(evidence base: [String], healthyNow: Int) -> [Cause] {
        var evidence = base
        let last = group.lines.last!
        let later = path.evidence.accessLog.filter { $0.line > last.line && $0.source == last.source && $0.entry.upstreamCluster == path.clusterName && (200..<400).contains($0.entry.responseCode) }
        evidence.append("clusters.json: \(healthyNow) host(s) of \(path.clusterName) are HEALTHY now\(later.isEmpty ? "" : ", and \(later.count) later request(s) to it succeeded (first at \(later[0].place))")")
        let name = path.service.map { "Service \($0.namespace)/\($0.name)" } ?? path.clusterName
        return [Cause(.noEndpoints,
                      summary: "\(name) had no ready endpoint in this proxy when these requests were made (UH), but has \(healthyNow) now: the endpoints arrived after the calls (a caller that starts before its sidecar has its configuration, or pods that became ready later)",
                      evidence: evidence,
                      fix: """
                      If the calls succeed now, nothing is broken any more. To keep an app from calling before its sidecar has its configuration, hold it until the proxy is ready:
                      kubectl -n \(path.proxyNamespace.isEmpty ? "NAMESPACE" : path.proxyNamespace) patch deployment CALLER --type merge -p '{"spec":{"template":{"metadata":{"annotations":{"proxy.istio.io/config":"holdApplicationUntilProxyStarts: true"}}}}}'
                      """)]
    }

    func outlierEjected(evidence base: [String], ejected: Int, hosts: Int) -> [Cause] {
        var evidence = base
        let rule = path.destinationRule
        if let rule, rule.spec["trafficPolicy"]?["outlierDetection"] != nil { evidence.append(rule.field("spec.trafficPolicy.outlierDetection")) }
        let errors = path.evidence.accessLog.filter { $0.entry.upstreamCluster == path.clusterName && $0.entry.responseCode >= 500 && $0.entry.responseCodeDetails == "via_upstream" }
        if let first = errors.first {
            evidence.append("\(first.place): the app itself answered \(first.entry.responseCode) (via_upstream)\(errors.count > 1 ? ", \(errors.count) such answers" : ""): the errors that got its hosts ejected")
        }
        let fix = rule.map { rule in
            "Fix the app's 5xx answers first; meanwhile keep some hosts in the pool:\n" + Self.patch(rule, #"{"spec":{"trafficPolicy":{"outlierDetection":{"consecutive5xxErrors":10,"maxEjectionPercent":50,"baseEjectionTime":"15s"}}}}"#)
        } ?? "Fix the app's 5xx answers, and relax the DestinationRule's outlierDetection (maxEjectionPercent below 100)"
        return [Cause(.outlierEjected,
                      summary: "outlier detection ejected \(ejected > 0 ? "\(ejected) of \(hosts)" : "the") host(s) of \(path.clusterName) after errors, leaving none to serve (UH no_healthy_upstream)\(rule.map { "; DestinationRule \($0.namespace)/\($0.name) sets outlierDetection" } ?? "")",
                      evidence: evidence, fix: fix)]
    }

    func noEndpoints(evidence base: [String]) -> [Cause] {
        var evidence = base
        guard let service = path.service else {
            return [Cause(.noEndpoints, summary: "\(path.clusterName.orNone) has no endpoints: no ready pod backs \(destinationName)",
                          evidence: evidence, fix: "Check that pods back the destination: kubectl get endpoints -A | grep \(destinationName)")]
        }
        let selector = service.spec["selector"]?.stringMap ?? [:]
        evidence.append(service.field("spec.selector"))
        let inNamespace = objects.workloads.filter { $0.object.namespace == service.namespace }
        let selected = objects.workloads(selectedBy: service)
        var summary: String
        var fix: String
        if let endpoints = objects.all("Endpoints").first(where: { $0.name == service.name && $0.namespace == service.namespace }) {
            let subsets = endpoints.json["subsets"]?.array ?? []
            let ready = subsets.reduce(0) { $0 + ($1["addresses"]?.array?.count ?? 0) }
            let notReady = subsets.reduce(0) { $0 + ($1["notReadyAddresses"]?.array?.count ?? 0) }
            evidence.append("\(endpoints.reference): \(ready) ready address(es), \(notReady) not ready")
        }
        if inNamespace.isEmpty {
            summary = "Service \(service.namespace)/\(service.name) has no ready endpoint, so \(path.clusterName) has no host (UH); the evidence holds none of its pods"
            fix = "See which pods the selector finds and why they are not ready:\nkubectl -n \(service.namespace) get pods -l \(LabelSelector.text(selector)) -o wide\nkubectl -n \(service.namespace) get endpoints \(service.name)"
        } else if selected.isEmpty {
            for workload in inNamespace.prefix(5) {
                evidence.append("\(workload.object.file):\(workload.object.line): \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name) pod labels \(LabelSelector.text(workload.podLabels).orNone)")
            }
            summary = "Service \(service.namespace)/\(service.name) selects \(LabelSelector.text(selector).orNone), which no pod carries, so \(path.clusterName) has no endpoints (UH)"
            let near = inNamespace.max { a, b in
                selector.filter { a.podLabels[$0.key] != nil }.count < selector.filter { b.podLabels[$0.key] != nil }.count
            }
            let labels = near.map { workload in selector.keys.sorted().compactMap { key in workload.podLabels[key].map { "\"\(key)\":\"\($0)\"" } } } ?? []
            fix = "Make the Service's selector match the pods' labels:\nkubectl -n \(service.namespace) patch service \(service.name) --type merge -p '{\"spec\":{\"selector\":{\(labels.isEmpty ? "\"app\":\"APP\"" : labels.joined(separator: ","))}}}'"
        } else if !path.subsetLabels.isEmpty, path.backends.isEmpty, let rule = path.destinationRule {
            evidence.append(rule.field("spec.subsets"))
            for workload in selected { evidence.append("\(workload.object.file):\(workload.object.line): \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name) pod labels \(LabelSelector.text(workload.podLabels))") }
            summary = "subset \(path.key?.subset ?? "") of DestinationRule \(rule.namespace)/\(rule.name) selects \(LabelSelector.text(path.subsetLabels)), which no pod of Service \(service.namespace)/\(service.name) carries, so \(path.clusterName) has no endpoints (UH)"
            fix = "Make the subset's labels match running pods (kubectl -n \(rule.namespace) edit destinationrule \(rule.name)), or deploy the version it names"
        } else {
            for workload in selected { evidence.append("\(workload.object.file):\(workload.object.line): \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name) replicas \(workload.replicas)") }
            let scaled = selected.first { $0.replicas == 0 }
            summary = scaled.map { "\($0.object.kind) \($0.object.namespace)/\($0.object.name) has 0 replicas, so Service \(service.namespace)/\(service.name) has no endpoints (UH)" }
                ?? "no ready pod backs Service \(service.namespace)/\(service.name), so \(path.clusterName) has no healthy endpoint (UH)"
            fix = scaled.map { "kubectl -n \($0.object.namespace) scale \($0.object.kind.lowercased()) \($0.object.name) --replicas=1" }
                ?? "Find out why the pods are not ready: kubectl -n \(service.namespace) get pods -l \(LabelSelector.text(selector)) and kubectl -n \(service.namespace) describe pods -l \(LabelSelector.text(selector))"
        }
        return [Cause(.noEndpoints, summary: summary, evidence: evidence, fix: fix)]
    }

    /// 403 from the RBAC filter: an AuthorizationPolicy denied the caller, or the caller has no identity because it
    /// runs without a sidecar while the policy matches on identities.
    func authorizationDenied() -> [Cause] {
        var evidence = logEvidenceLines
        if let denied = path.evidence.stats?.entries.first(where: { $0.name.hasSuffix("rbac.denied") }), case .number(let value) = denied.value {
            evidence.append("stats.txt: \(denied.name): \(value)")
        }
        if answeredByDestinationProxy, let symptom { evidence.append("symptom.txt: \(symptom.status) \(symptom.body.trimmingCharacters(in: .whitespacesAndNewlines)) (the destination's sidecar refused it)") }
        let workload = path.isInbound ? path.proxyWorkload : path.backends.first
        let labels = workload?.podLabels ?? path.proxyLabels
        let namespace = workload?.object.namespace ?? path.proxyNamespace
        let policies = objects.authorizationPolicies(for: labels, namespace: namespace)
        let matched = details.hasPrefix("rbac_access_denied_matched_policy[") ? String(details.dropFirst("rbac_access_denied_matched_policy[".count).dropLast()) : ""
        let deny = policies.first { matched.contains("policy[\($0.name)]") } ?? policies.first { ($0.spec["action"]?.string ?? "ALLOW") == "DENY" && matched != "none" }
        let allow = policies.filter { ($0.spec["action"]?.string ?? "ALLOW") == "ALLOW" }
        let chosen = deny ?? allow.first
        for policy in [deny].compactMap({ $0 }) + allow { evidence.append(policy.field("spec.rules")) }
        let identityBased = (chosen?.json.serialized ?? "").contains("principals") || (chosen?.json.serialized ?? "").contains("namespaces")
        let plaintext = path.isInbound && entry.requestedServerName.isEmpty
        var causes: [Cause] = []
        if plaintext, identityBased {
            evidence.append("the denied request arrived without mTLS (requested server name -), so it carried no peer identity for the policy's principals or namespaces to match")
        }
        if plaintext, identityBased, deny == nil, let caller = objects.workloads.first(where: { !objects.hasSidecar($0) && meshExpectsSidecar($0).0 }) {
            evidence.append("\(caller.object.file):\(caller.object.line): \(caller.object.kind) \(caller.object.namespace)/\(caller.object.name) runs without the proxy (\(objects.whyNoSidecar(caller) ?? "")), so its requests carry no identity")
            causes.append(Cause(.noSidecar,
                                summary: "the caller runs without the Istio sidecar, so its plaintext request has no identity and \(chosen.map { "AuthorizationPolicy \($0.namespace)/\($0.name)" } ?? "the ALLOW policy"), which matches on identities, denies it (403)",
                                evidence: evidence,
                                fix: "Run the caller with its sidecar (remove its sidecar.istio.io/inject: \"false\" opt-out), then restart it:\nkubectl -n \(caller.object.namespace) rollout restart \(caller.object.kind.lowercased())/\(caller.object.name)"))
        }
        let name = chosen.map { "AuthorizationPolicy \($0.namespace)/\($0.name)" } ?? "an AuthorizationPolicy"
        let summary = deny != nil
            ? "\(name) (action DENY) matches the caller, so the destination's sidecar answers 403 RBAC: access denied (\(details.orNone))"
            : "no rule of \(name) (action ALLOW) matches the caller, so the destination's sidecar answers 403 RBAC: access denied (\(details.orNone))"
        let fix: String
        if let chosen, deny == nil {
            fix = """
            Allow the caller's identity (its service account) in the policy, if it should be allowed:
            kubectl -n \(chosen.namespace) patch authorizationpolicy \(chosen.name) --type json -p '[{"op":"add","path":"/spec/rules/-","value":{"from":[{"source":{"principals":["cluster.local/ns/CALLER_NAMESPACE/sa/CALLER_SERVICE_ACCOUNT"]}}]}}]'
            # meshctl x describe pod CALLER shows its service account; the caller must run with a sidecar (mTLS) to have an identity
            """
        } else if let chosen {
            fix = "Narrow the DENY rule so it does not match this caller: kubectl -n \(chosen.namespace) edit authorizationpolicy \(chosen.name)"
        } else {
            fix = "List the policies that apply to the destination: kubectl get authorizationpolicy -A, and allow the caller"
        }
        causes.append(Cause(.authzDenied, summary: summary, evidence: evidence, fix: fix))
        return causes
    }
}
