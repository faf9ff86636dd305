import EnvoyConfig
import Foundation
import Manifests

/// Failures decided before any upstream is picked: routes, faults, rate limits, egress policy.
extension CauseRules {
    /// The VirtualService (and its http route index) behind the matched route, or the first one for the host.
    func virtualServiceRoute() -> (MeshObject, Int)? {
        let services = path.virtualServices
        for vs in services {
            let routes = vs.spec["http"]?.array ?? []
            if let index = routes.firstIndex(where: { !entry.routeName.isEmpty && ($0["name"]?.string == entry.routeName || entry.routeName.hasPrefix(($0["name"]?.string ?? "\u{0}") + ".")) }) {
                return (vs, index)
            }
        }
        return services.first.map { ($0, 0) }
    }

    func faultInjected() -> [Cause] {
        var evidence = logEvidenceLines
        let found = path.virtualServices.lazy.compactMap { vs -> (MeshObject, Int)? in
            (vs.spec["http"]?.array ?? []).firstIndex { $0["fault"] != nil }.map { (vs, $0) }
        }.first
        if let route = path.route, let fault = route.json.field("typed_per_filter_config")?["envoy.filters.http.fault"] {
            evidence.append("config_dump.json: route \(route.name) typed_per_filter_config envoy.filters.http.fault: \(fault.serialized)")
        }
        let delay = flags.contains("DI")
        guard let (vs, index) = found else {
            return [Cause(.faultInjected, summary: "Envoy's fault filter \(delay ? "delayed" : "aborted") the request (\(flagText)); the app was not at fault",
                          evidence: evidence, fix: "Remove the fault from the VirtualService that routes \(entry.authority): kubectl get virtualservice -A -o yaml | grep -n fault")]
        }
        evidence.append(vs.field("spec.http[\(index)].fault"))
        return [Cause(.faultInjected,
                      summary: "VirtualService \(vs.namespace)/\(vs.name) injects a fault: the \(delay ? "delay" : "abort") in spec.http[\(index)].fault answered \(entry.responseCode) for \(destinationName) (\(flagText.orNone) \(details.orNone)); the backend was never called",
                      evidence: evidence,
                      fix: "Remove the fault injection (it is for tests):\nkubectl -n \(vs.namespace) patch virtualservice \(vs.name) --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/http/\(index)/fault\"}]'")]
    }

    func rateLimited() -> [Cause] {
        var evidence = logEvidenceLines
        for stat in path.evidence.stats?.entries ?? [] where stat.name.contains("rate_limit") && stat.name.hasSuffix("rate_limited") {
            if case .number(let value) = stat.value { evidence.append("stats.txt: \(stat.name): \(value)") }
        }
        let filters = objects.all("EnvoyFilter").filter { filter in
            filter.json.serialized.contains("local_ratelimit") || filter.json.serialized.contains("ratelimit")
        }
        for filter in filters { evidence.append("\(filter.file):\(filter.line): \(filter.kind) \(filter.namespace)/\(filter.name) adds a rate limit filter") }
        if let dump = path.evidence.configDump, let listeners = try? dump.listeners() {
            for listener in listeners {
                let text = listener.json.serialized
                guard let range = text.range(of: "\"token_bucket\":") ?? text.range(of: "\"tokenBucket\":") else { continue }
                let bucket = text[range.upperBound...].prefix { $0 != "}" } + "}"
                evidence.append("config_dump.json: listener \(listener.name) local rate limit token_bucket \(bucket)")
                break
            }
        }
        let fix = filters.first.map { filter in
            "Raise the token bucket (max_tokens, tokens_per_fill, fill_interval) of the rate limit to the traffic the workload must take:\nkubectl -n \(filter.namespace) edit envoyfilter \(filter.name)   # spec.configPatches[].patch.value.typed_config.token_bucket"
        } ?? "Raise the rate limit's token bucket, or slow the caller down (it must back off on 429)"
        return [Cause(.rateLimited, summary: "a rate limit refused the requests to \(destinationName) with \(entry.responseCode) (\(flagText.orNone) \(details.orNone))\(filters.first.map { ": EnvoyFilter \($0.namespace)/\($0.name)" } ?? "")",
                      evidence: evidence, fix: fix)]
    }

    func missingSubset() -> [Cause] {
        var evidence = logEvidenceLines
        let known = Set(((try? path.evidence.configDump?.clusters()) ?? []).map(\.name))
        let weighted = (path.route?.json.field("route")?.field("weighted_clusters")?.field("clusters")?.array ?? []).compactMap { $0["name"]?.string }
        let target = path.route?.cluster ?? weighted.first { !known.contains($0) } ?? (entry.upstreamCluster.isEmpty ? "" : entry.upstreamCluster)
        if !target.isEmpty { evidence.append("config_dump.json: route \(path.route?.name ?? "") sends to cluster \(target), which is not among the proxy's clusters") }
        let key = SubsetKey(target)
        let host = key?.host ?? path.destinationHost
        let rule = objects.destinationRule(host: host)
        let vs = virtualServiceRoute()
        if let (vs, index) = vs { evidence.append(vs.field("spec.http[\(index)].route")) }
        if let rule { evidence.append(rule.field("spec.subsets")) } else { evidence.append("no DestinationRule defines subsets for \(host)") }
        let subset = key?.subset ?? ""
        let defined = (rule?.spec["subsets"]?.array ?? []).compactMap { $0["name"]?.string }
        let fix: String
        if let rule {
            fix = """
            Define subset \(subset.isEmpty ? "NAME" : subset) in DestinationRule \(rule.namespace)/\(rule.name) (labels of the pods it means), or route to one of \(defined.joined(separator: ", ").orNone):
            kubectl -n \(rule.namespace) patch destinationrule \(rule.name) --type json -p '[{"op":"add","path":"/spec/subsets/-","value":{"name":"\(subset)","labels":{"version":"\(subset)"}}}]'
            """
        } else {
            let (name, ns) = MeshObjects.serviceName(host: host, namespace: path.proxyNamespace)
            fix = """
            Create the DestinationRule that defines subset \(subset):
            kubectl apply -f - <<'EOF'
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: \(name), namespace: \(ns)}
            spec:
              host: \(host)
              subsets:
              - name: \(subset)
                labels: {version: \(subset)}
            EOF
            """
        }
        return [Cause(.missingSubset, summary: "the route sends \(destinationName) traffic to subset \"\(subset)\" (cluster \(target.orNone)), which \(rule.map { "DestinationRule \($0.namespace)/\($0.name)" } ?? "no DestinationRule") does not define, so the proxy has no such cluster (NC)",
                      evidence: evidence, fix: fix)]
    }

    func noRoute() -> [Cause] {
        var evidence = logEvidenceLines
        if let virtualHost = path.virtualHost {
            evidence.append("config_dump.json: route configuration \(path.routeConfiguration?.name ?? "") virtual host \(virtualHost.name) has routes for \(virtualHost.routes.map { $0.matchDescription.orNone }.joined(separator: ", ")); none matches \(entry.path)")
        }
        let found = virtualServiceRoute()
        var fix = "Add a route for \(entry.path) to the VirtualService of \(destinationName), or a last route without match as the default"
        if let (vs, _) = found {
            for (index, route) in (vs.spec["http"]?.array ?? []).enumerated() where route["match"] != nil {
                evidence.append(vs.field("spec.http[\(index)].match"))
            }
            let destination = (vs.spec["hosts"]?.array?.first?.string) ?? path.destinationHost
            fix = """
            Add a default route (without match) at the end of VirtualService \(vs.namespace)/\(vs.name), or a match for \(entry.path.split(separator: "?").first.map(String.init) ?? entry.path):
            kubectl -n \(vs.namespace) patch virtualservice \(vs.name) --type json -p '[{"op":"add","path":"/spec/http/-","value":{"route":[{"destination":{"host":"\(destination)"}}]}}]'
            """
        }
        return [Cause(.noRoute, summary: "no route matches \(entry.method) \(entry.path) to \(entry.authority) (404 NR route_not_found)\(found.map { ": no route of VirtualService \($0.0.namespace)/\($0.0.name) matches this request" } ?? "")",
                      evidence: evidence, fix: fix)]
    }

    /// Egress to a host the mesh does not know, under REGISTRY_ONLY: the block_all route or BlackHoleCluster.
    func egressIfBlocked() -> [Cause]? {
        let mode = objects.outboundTrafficMode(namespace: path.proxyNamespace)
        let host = MeshObjects.withoutPort(entry.authority)
        let known = objects.service(host: host, namespace: path.proxyNamespace) != nil && host.contains(".svc") || (!host.contains(".") && objects.service(host: host, namespace: path.proxyNamespace) != nil)
        guard mode.mode == "REGISTRY_ONLY", !known, path.virtualHost?.domains.contains("*") ?? true else { return nil }
        return egressBlocked()
    }

    func egressBlocked() -> [Cause] {
        var evidence = logEvidenceLines
        let mode = objects.outboundTrafficMode(namespace: path.proxyNamespace)
        evidence.append("\(mode.source): \(mode.mode)")
        if path.entry.routeName == "block_all" || path.virtualHost?.name == "block_all" {
            evidence.append("config_dump.json: the request matched virtual host block_all (REGISTRY_ONLY's catch-all that refuses unknown hosts)")
        }
        let host = MeshObjects.withoutPort(entry.authority)
        let entries = objects.serviceEntries(host: host)
        evidence.append("ServiceEntries for \(host.orNone): \(entries.map(\.reference).joined(separator: ", ").orNone)")
        let port = entry.authority.split(separator: ":").last.flatMap { Int($0) } ?? 443
        let fix = """
        Declare the external host so the mesh lets it out (or set outboundTrafficPolicy ALLOW_ANY):
        kubectl apply -f - <<'EOF'
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(host.isEmpty ? "external-host" : host.replacingOccurrences(of: ".", with: "-")), namespace: \(path.proxyNamespace.isEmpty ? "default" : path.proxyNamespace)}
        spec:
          hosts: [\(host.isEmpty ? "HOST" : host)]
          location: MESH_EXTERNAL
          resolution: DNS
          ports: [{number: \(port), name: \(port == 443 ? "tls" : "http"), protocol: \(port == 443 ? "TLS" : "HTTP")}]
        EOF
        """
        return [Cause(.egressBlocked, summary: "outbound traffic policy REGISTRY_ONLY blocks \(host.isEmpty ? "the destination" : host): no Service or ServiceEntry declares it, so the proxy sends it to \(entry.upstreamCluster == "BlackHoleCluster" ? "BlackHoleCluster" : "the block_all route")",
                      evidence: evidence, fix: fix)]
    }

    func routeTimeout() -> [Cause] {
        if flags.contains("DI") { return faultInjected() }
        var evidence = logEvidenceLines
        let durations = group.lines.compactMap { $0.entry.duration }
        if let low = durations.min(), let high = durations.max() { evidence.append("access.log: the failing requests lasted \(low == high ? "\(low)" : "\(low)-\(high)") ms") }
        if let timeout = path.route?.json.field("route")?.field("timeout")?.string {
            evidence.append("config_dump.json: route \(path.route?.name ?? "") timeout \(timeout)")
        }
        if let line = path.statLine("upstream_rq_timeout") { evidence.append(line) }
        let found = path.virtualServices.lazy.compactMap { vs -> (MeshObject, Int)? in
            (vs.spec["http"]?.array ?? []).firstIndex { $0["timeout"] != nil }.map { (vs, $0) }
        }.first
        if let (vs, index) = found {
            evidence.append(vs.field("spec.http[\(index)].timeout"))
            let current = vs.spec["http"]?.array?[index]["timeout"]?.string ?? ""
            return [Cause(.routeTimeout, summary: "the route to \(destinationName) times out after \(current) (VirtualService \(vs.namespace)/\(vs.name)) and the backend takes longer, so the proxy answers 504 upstream request timeout (UT)",
                          evidence: evidence,
                          fix: "Give the route the time the backend needs (or make the backend faster):\nkubectl -n \(vs.namespace) patch virtualservice \(vs.name) --type json -p '[{\"op\":\"replace\",\"path\":\"/spec/http/\(index)/timeout\",\"value\":\"5s\"}]'")]
        }
        if details == "upstream_per_try_timeout", let (vs, index) = virtualServiceRoute() {
            evidence.append(vs.field("spec.http[\(index)].retries"))
        }
        return [Cause(.routeTimeout, summary: "the route timeout to \(destinationName) fired before the backend answered (\(flagText.orNone) \(details.orNone))",
                      evidence: evidence, fix: "Raise http[].timeout (and retries.perTryTimeout) in the VirtualService for \(path.destinationHost.orNone), or make the backend answer faster")]
    }
}
