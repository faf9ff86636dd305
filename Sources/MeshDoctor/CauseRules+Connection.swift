import EnvoyConfig
import Foundation
import Manifests

/// Connection-level failures: refused connections, TLS handshakes, closed connections and protocol errors.
extension CauseRules {
    func connectionFailure() -> [Cause] {
        let failure = transportFailure
        var evidence = logEvidenceLines
        let failurePlace = entry.upstreamTransportFailureReason.isEmpty ? (destinationAnswer?.place ?? group.first.place) : group.first.place
        if !failure.isEmpty { evidence.append("\(failurePlace): upstream transport failure reason \(failure)") }
        if answeredByDestinationProxy, let symptom {
            evidence.append("symptom.txt: the destination's sidecar answered \(symptom.status): \(symptom.body.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        if let failed = path.stat("upstream_cx_connect_fail"), failed > 0, let line = path.statLine("upstream_cx_connect_fail") { evidence.append(line) }
        if let strict = plaintextToStrictOutbound(evidence: evidence) { return [strict] }
        switch TransportFailure.kind(failure) {
        case .tlsHandshake(let reason): return tlsFailure(reason: reason, evidence: evidence)
        case .connectionRefused, .connectionTimeout, .other: return refused(evidence: evidence)
        }
    }

    /// The connection was refused (or got no answer): the Service's targetPort against the pods' ports.
    func refused(evidence base: [String]) -> [Cause] {
        var evidence = base
        let workloads = path.isInbound ? path.backends : path.backends
        let port = path.isInbound ? String(path.port) : path.targetPort
        // A Pod and its Deployment declare the same ports: each number once.
        var numbers = Set<Int>()
        let declared = workloads.flatMap(\.containerPorts).filter { numbers.insert($0.number).inserted }
        let numeric = Int(port)
        let opened = declared.contains { numeric != nil ? $0.number == numeric : $0.name == port }
        if !path.isInbound, let service = path.service {
            let index = service.spec["ports"]?.array?.firstIndex { $0["port"]?.int == path.port } ?? 0
            evidence.append(service.field("spec.ports[\(index)].targetPort"))
        }
        for workload in workloads {
            let ports = (workload.appContainers.first?["ports"]?.array?.isEmpty == false)
            evidence.append("\(workload.object.file):\(workload.object.line): \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name) container ports: \(workload.containerPorts.map { $0.name.isEmpty ? "\($0.number)" : "\($0.number) (\($0.name))" }.joined(separator: ", ").orNone)\(ports ? "" : " (none declared)")")
        }
        // Inbound: the Service of this workload whose targetPort is the port the inbound cluster connects to.
        let inboundService = path.isInbound ? workloads.first.flatMap { workload in
            objects.all("Service").first { service in
                objects.workloads(selectedBy: service).contains { $0.object.name == workload.object.name && $0.object.namespace == workload.object.namespace }
                    && (service.spec["ports"]?.array ?? []).contains { ($0["targetPort"]?.int ?? $0["port"]?.int) == path.port || $0["targetPort"]?.string == port }
            }
        } : nil
        if path.isInbound, let service = inboundService, let index = service.spec["ports"]?.array?.firstIndex(where: { ($0["targetPort"]?.int ?? $0["port"]?.int) == path.port }) {
            evidence.append(service.field("spec.ports[\(index)].targetPort"))
        }
        if !declared.isEmpty, !opened, let service = path.isInbound ? inboundService : path.service {
            let suggested = declared.first!
            let servicePort = path.isInbound ? (service.spec["ports"]?.array?.first { ($0["targetPort"]?.int ?? $0["port"]?.int) == path.port }?["port"]?.int ?? path.port) : path.port
            let index = service.spec["ports"]?.array?.firstIndex { $0["port"]?.int == servicePort } ?? 0
            let ports = service.spec["ports"]?.array ?? []
            let portName = ports.indices.contains(index) ? ports[index]["name"]?.string ?? "" : ""
            return [Cause(.targetPortMismatch,
                          summary: "Service \(service.namespace)/\(service.name) sends port \(servicePort) to targetPort \(port), but its pods open \(declared.map { "\($0.number)" }.joined(separator: ", ")): the connection is refused (\(flagText.orNone))",
                          evidence: evidence,
                          fix: """
                          Point the Service's targetPort at the port the container listens on:
                          kubectl -n \(service.namespace) patch service \(service.name) --type json -p '[{"op":"replace","path":"/spec/ports/\(index)/targetPort","value":\(suggested.number)}]'
                          # or in the Service YAML: ports: [{name: \(portName.isEmpty ? "http" : portName), port: \(servicePort), targetPort: \(suggested.number)}]
                          """)]
        }
        if workloads.isEmpty {
            evidence.append("the evidence holds no pod or Deployment behind \(destinationName), so the targetPort was not compared with container ports")
        }
        // The port is right: nothing listens there (bound to loopback, or down).
        let loopback = workloads.first { workload in
            workload.appContainers.contains { container in
                let text = ((container["args"]?.array ?? []) + (container["command"]?.array ?? [])).compactMap(\.string).joined(separator: " ")
                    + (container["env"]?.array ?? []).compactMap { $0["value"]?.string }.joined(separator: " ")
                return text.contains("127.0.0.1") || text.contains("localhost")
            }
        }
        let target = workloads.first.map { "\($0.object.kind) \($0.object.namespace)/\($0.object.name)" } ?? destinationName
        var summary = "nothing listens on port \(port) of \(target): the proxy's connection is refused"
        var fix = "Make the application listen on 0.0.0.0:\(port) (all interfaces), or start it if it is down; check with:\nkubectl -n \(workloads.first?.object.namespace ?? path.proxyNamespace) logs deploy/\(workloads.first?.object.name ?? "APP") -c \(workloads.first?.appContainers.first?["name"]?.string ?? "APP")"
        if let loopback {
            let container = loopback.appContainers.first { c in
                ((c["args"]?.array ?? []) + (c["command"]?.array ?? [])).compactMap(\.string).contains { $0.contains("127.0.0.1") || $0.contains("localhost") }
            } ?? loopback.appContainers[0]
            let args = ((container["args"]?.array ?? []) + (container["command"]?.array ?? [])).compactMap(\.string)
            evidence.append("\(loopback.object.file):\(loopback.object.line): \(loopback.object.kind) \(loopback.object.namespace)/\(loopback.object.name) container \(container["name"]?.string ?? "") runs with \(args.joined(separator: " ")): it binds 127.0.0.1, which the sidecar's connection (from 127.0.0.6 or the pod IP) cannot reach")
            summary = "the app of \(target) listens on 127.0.0.1 only, so connections to port \(port) are refused"
            let fixedArgs = args.map { $0.replacingOccurrences(of: "127.0.0.1", with: "0.0.0.0").replacingOccurrences(of: "localhost", with: "0.0.0.0") }
            fix = """
            Bind the app to all interfaces (0.0.0.0), not loopback:
            kubectl -n \(loopback.object.namespace) patch \(loopback.object.kind.lowercased()) \(loopback.object.name) --type strategic -p '{"spec":{"template":{"spec":{"containers":[{"name":"\(container["name"]?.string ?? "")","args":\(JSONValue.array(fixedArgs.map { .string($0) }).serialized)}]}}}}'
            """
        }
        return [Cause(.appNotListening, summary: summary, evidence: evidence, fix: fix)]
    }

    /// A TLS handshake failed: Istio mTLS to a pod without a sidecar, or TLS settings that disagree.
    func tlsFailure(reason: String, evidence base: [String]) -> [Cause] {
        var evidence = base
        evidence.append("config_dump.json: cluster \(path.clusterName) TLS: \(path.tlsDescription)")
        let rule = path.destinationRule
        if let rule, rule.spec["trafficPolicy"]?["tls"] != nil { evidence.append(rule.field("spec.trafficPolicy.tls.mode")) }
        let bare = destinationsWithoutSidecar
        for (workload, why) in bare { evidence.append("\(workload.object.file):\(workload.object.line): \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name) runs without the Istio proxy: \(why)") }
        if let (workload, _) = bare.first {
            let (expected, because) = meshExpectsSidecar(workload)
            let ns = workload.object.namespace
            if expected {
                evidence.append("\(because), so the pods are meant to run the proxy")
                return [Cause(.noSidecar,
                              summary: "\(workload.object.kind) \(ns)/\(workload.object.name) runs without the Istio sidecar, but the client sends it Istio mTLS (\(reason)); \(because)",
                              evidence: evidence,
                              fix: """
                              Give the pods their sidecar: remove the opt-out and restart them:
                              kubectl -n \(ns) patch \(workload.object.kind.lowercased()) \(workload.object.name) --type json -p '[{"op":"remove","path":"/spec/template/metadata/labels/sidecar.istio.io~1inject"}]'
                              kubectl -n \(ns) rollout restart \(workload.object.kind.lowercased())/\(workload.object.name)
                              meshctl check-inject -n \(ns)   # confirms the pods will get the proxy
                              """),
                        mtlsCause(reason: reason, rule: rule, evidence: evidence, workload: workload)]
            }
            return [mtlsCause(reason: reason, rule: rule, evidence: evidence, workload: workload)]
        }
        return [mtlsCause(reason: reason, rule: rule, evidence: evidence, workload: nil)]
    }

    func mtlsCause(reason: String, rule: MeshObject?, evidence: [String], workload: MeshWorkload?) -> Cause {
        let target = destinationName
        if let workload {
            let ns = workload.object.namespace
            let fix: String
            if let rule, rule.spec["trafficPolicy"]?["tls"] != nil {
                fix = """
                The destination has no sidecar to terminate Istio mTLS: send it plaintext (or remove the tls setting and let auto mTLS decide):
                \(Self.patch(rule, #"{"spec":{"trafficPolicy":{"tls":{"mode":"DISABLE"}}}}"#))
                # or bring \(ns) into the mesh: kubectl label namespace \(ns) istio-injection=enabled --overwrite && kubectl -n \(ns) rollout restart deploy
                """
            } else {
                fix = "Bring \(ns) into the mesh (kubectl label namespace \(ns) istio-injection=enabled --overwrite, then kubectl -n \(ns) rollout restart deploy), or set a DestinationRule for \(path.destinationHost) with trafficPolicy.tls.mode: DISABLE"
            }
            return Cause(.mtlsMismatch,
                         summary: "the client sidecar originates Istio mTLS to \(target)\(rule.map { " (\($0.kind) \($0.name) sets tls \($0.spec["trafficPolicy"]?["tls"]?["mode"]?.string ?? "auto"))" } ?? ""), but its pods have no sidecar and answer in plaintext, so the TLS handshake fails (\(reason))",
                         evidence: evidence, fix: fix)
        }
        let fix = rule.map { rule in
            "Make the client's TLS settings match the server: for a destination in the mesh use ISTIO_MUTUAL (or remove the tls block for auto mTLS):\n" + Self.patch(rule, #"{"spec":{"trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"}}}}"#)
        } ?? "Check the destination's certificates and PeerAuthentication: meshctl proxy-config secret and meshctl x describe pod on both sides"
        return Cause(.mtlsMismatch, summary: "the TLS handshake to \(target) fails (\(reason)): the client's TLS settings and the server's do not agree",
                     evidence: evidence, fix: fix)
    }

    /// A connection that arrived in plaintext where only mTLS is accepted (no filter chain matched), or a
    /// plaintext client whose server closed the connection.
    func plaintextToStrict() -> [Cause] {
        var evidence = logEvidenceLines
        guard let workload = path.proxyWorkload ?? path.backends.first else {
            return [Cause(.mtlsMismatch, summary: "a connection matched no filter chain of the listener (\(details.orNone)): it did not speak what the port requires (plaintext to an mTLS-only port)",
                          evidence: evidence, fix: "Check the PeerAuthentication of the destination and whether the caller runs a sidecar: meshctl x describe pod POD")]
        }
        let pa = objects.peerAuthentication(for: workload)
        if let object = pa.object { evidence.append(object.field("spec.mtls.mode")) }
        evidence.append("the connection carried no TLS (requested server name \(entry.requestedServerName.isEmpty ? "-" : entry.requestedServerName)); the listener only accepts Istio mTLS under PeerAuthentication \(pa.mode)")
        let callers = objects.workloads.filter { !objects.hasSidecar($0) }
        let strictFix = pa.object.map { Self.patch($0, #"{"spec":{"mtls":{"mode":"PERMISSIVE"}}}"#) } ?? "set PeerAuthentication mtls.mode PERMISSIVE for \(workload.object.namespace)"
        if let caller = callers.first(where: { meshExpectsSidecar($0).0 }) {
            let why = objects.whyNoSidecar(caller) ?? ""
            evidence.append("\(caller.object.file):\(caller.object.line): \(caller.object.kind) \(caller.object.namespace)/\(caller.object.name) runs without the proxy (\(why)), so it can only send plaintext")
            return [Cause(.noSidecar, summary: "a caller without the Istio sidecar (\(caller.object.namespace)/\(caller.object.name)) sends plaintext to \(workload.object.namespace)/\(workload.object.name), which requires mTLS (PeerAuthentication \(pa.mode))",
                          evidence: evidence,
                          fix: "Give the caller its sidecar: kubectl -n \(caller.object.namespace) patch \(caller.object.kind.lowercased()) \(caller.object.name) --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/template/metadata/labels/sidecar.istio.io~1inject\"}]' && kubectl -n \(caller.object.namespace) rollout restart \(caller.object.kind.lowercased())/\(caller.object.name)\n# or accept plaintext while migrating: \(strictFix)")]
        }
        for caller in callers.prefix(3) { evidence.append("\(caller.object.file):\(caller.object.line): \(caller.object.kind) \(caller.object.namespace)/\(caller.object.name) runs without the proxy (\(objects.whyNoSidecar(caller) ?? "")): a plaintext caller") }
        return [Cause(.mtlsMismatch, summary: "plaintext reaches \(workload.object.namespace)/\(workload.object.name), whose PeerAuthentication is \(pa.mode): the client's TLS (none) and the server's mTLS mode disagree",
                      evidence: evidence, fix: "Accept plaintext while clients migrate, or make the clients send Istio mTLS (run them with a sidecar):\n\(strictFix)")]
    }

    /// This proxy sends plaintext (DestinationRule tls DISABLE) to pods whose sidecar requires mTLS (STRICT): their
    /// sidecar finds no filter chain for it and drops the connection.
    func plaintextToStrictOutbound(evidence base: [String]) -> Cause? {
        guard path.plaintextOnly, let workload = path.backends.first(where: { objects.hasSidecar($0) }) else { return nil }
        let pa = objects.peerAuthentication(for: workload)
        guard pa.mode == "STRICT" else { return nil }
        var evidence = base
        evidence.append("config_dump.json: cluster \(path.clusterName) TLS: plaintext (no transport socket)")
        if let rule = path.destinationRule, rule.spec["trafficPolicy"]?["tls"] != nil { evidence.append(rule.field("spec.trafficPolicy.tls.mode")) }
        if let object = pa.object { evidence.append(object.field("spec.mtls.mode")) }
        let fix = path.destinationRule.map { Self.patch($0, #"{"spec":{"trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"}}}}"#) }
            ?? "remove the setting that disables TLS for \(path.destinationHost)"
        return Cause(.mtlsMismatch, summary: "the client sidecar sends plaintext to \(destinationName), whose pods require mTLS (PeerAuthentication STRICT), so their sidecar drops the connection",
                     evidence: evidence, fix: "Send Istio mTLS to the destination:\n\(fix)")
    }

    /// The upstream closed the connection before answering: a plaintext client against STRICT mTLS, or an app that
    /// drops kept-alive connections.
    func connectionClosed() -> [Cause] {
        var evidence = logEvidenceLines
        for name in ["upstream_cx_destroy_remote_with_active_rq", "upstream_cx_destroy_remote", "upstream_rq_retry"] {
            if let line = path.statLine(name) { evidence.append(line) }
        }
        if let strict = plaintextToStrictOutbound(evidence: evidence) { return [strict] }
        if let conflict = declaredProtocolConflict() { return protocolMismatch(conflict) }
        let rule = path.destinationRule
        if let rule, rule.spec["trafficPolicy"]?["connectionPool"]?["http"] != nil { evidence.append(rule.field("spec.trafficPolicy.connectionPool.http")) }
        let reused = group.lines.count
        evidence.append("the upstream closed the connection before answering (reset reason \(resetReason.orNone)); \(reused) request(s) failed this way while others to the same destination may succeed, the mark of reused keep-alive connections the app had already given up")
        let fix: String
        if let rule {
            fix = "Close idle upstream connections before the app does (set idleTimeout below the app's keep-alive timeout), or use each connection once:\n" + Self.patch(rule, #"{"spec":{"trafficPolicy":{"connectionPool":{"http":{"idleTimeout":"5s","maxRequestsPerConnection":1}}}}}"#)
        } else {
            let (name, ns) = MeshObjects.serviceName(host: path.destinationHost, namespace: path.proxyNamespace)
            fix = """
            Close idle upstream connections before the app does, with a DestinationRule:
            kubectl apply -f - <<'EOF'
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: \(name), namespace: \(ns)}
            spec:
              host: \(path.destinationHost)
              trafficPolicy:
                connectionPool:
                  http: {idleTimeout: 5s, maxRequestsPerConnection: 1}
            EOF
            # and fix the app's keep-alive handling (it must answer or refuse a request, not close mid-way)
            """
        }
        return [Cause(.upstreamConnectionClosed, summary: "the app behind \(destinationName) closes connections without answering (UC): keep-alive connections the proxy reuses are closed under it",
                      evidence: evidence, fix: fix)]
    }

    /// What a port's name (or appProtocol) says the app speaks, in Istio's `<protocol>[-<suffix>]` convention:
    /// `tls` (https, tls), `h2` (http2, grpc, grpc-web), `http` (HTTP/1.1), nil when it says nothing of the kind.
    static func declaredWire(name: String, appProtocol: String? = nil) -> String? {
        let word = (appProtocol?.isEmpty == false ? appProtocol! : name).lowercased()
        switch word.split(separator: "-", maxSplits: 1).first.map(String.init) ?? word {
        case "https", "tls": return "tls"
        case "http2", "grpc", "kubernetes.io/h2c": return "h2"
        case "http": return word.hasPrefix("grpc-web") ? "h2" : "http"
        default: return nil
        }
    }

    /// The Service port says one protocol and the pods' port it targets says another (an app serving TLS on a port
    /// the Service names `http`, or HTTP/1.1 where the Service says `http2`/`grpc`): what Istio's sidecar speaks to
    /// the app follows the Service, so the app cannot understand it. The evidence lines, or nil when they agree.
    func declaredProtocolConflict() -> [String]? {
        guard !path.isInbound, let service = path.service,
              let index = service.spec["ports"]?.array?.firstIndex(where: { $0["port"]?.int == path.port }) else { return nil }
        let port = service.spec["ports"]!.array![index]
        guard let spoken = Self.declaredWire(name: port["name"]?.string ?? "", appProtocol: port["appProtocol"]?.string) else { return nil }
        let target = path.targetPort
        for workload in path.backends {
            for container in workload.appContainers {
                for declared in container["ports"]?.array ?? [] {
                    let number = declared["containerPort"]?.int
                    guard Int(target) == number || declared["name"]?.string == target,
                          let served = Self.declaredWire(name: declared["name"]?.string ?? ""), served != spoken,
                          served == "tls" || spoken == "tls" || (served == "http" && spoken == "h2") else { continue }
                    let portIndex = container["ports"]?.array?.firstIndex { $0["containerPort"]?.int == number } ?? 0
                    let containerIndex = workload.appContainers.firstIndex { $0["name"]?.string == container["name"]?.string } ?? 0
                    return [service.field("spec.ports[\(index)].name"),
                            "\(workload.object.file):\(workload.object.line): \(workload.object.kind) \(workload.object.namespace)/\(workload.object.name) "
                                + "containers[\(containerIndex)].ports[\(portIndex)]: \(number.map(String.init) ?? "?") named \(declared["name"]?.string ?? ""): the app declares \(Self.wireName(served)) "
                                + "where the Service declares \(Self.wireName(spoken))"]
                }
            }
        }
        return nil
    }

    static func wireName(_ wire: String) -> String {
        switch wire {
        case "tls": return "TLS"
        case "h2": return "HTTP/2"
        default: return "HTTP/1.1"
        }
    }

    /// The upstream answered in another protocol than the cluster speaks (`conflict`: the port declarations that
    /// disagree, when the objects show them).
    func protocolMismatch(_ conflict: [String]? = nil) -> [Cause] {
        var evidence = logEvidenceLines
        let h2 = path.cluster.map { cluster in
            cluster.json.field("typed_extension_protocol_options")?.object?.contains { $0.value.field("explicit_http_config")?.field("http2_protocol_options") != nil } ?? false
                || cluster.json.field("http2_protocol_options") != nil
        } ?? false
        evidence.append("config_dump.json: cluster \(path.clusterName) speaks \(h2 ? "HTTP/2 (http2_protocol_options)" : "HTTP/1.1") to the app")
        var fix = "Name the Service port after the protocol the app speaks (http for HTTP/1.1, http2/grpc only for HTTP/2, tls/https for TLS) or set appProtocol"
        let conflict = conflict ?? declaredProtocolConflict()
        evidence += conflict ?? []
        let appSpeaksTLS = conflict?.last?.contains("declares TLS where") == true
        if appSpeaksTLS, let service = path.service, let index = service.spec["ports"]?.array?.firstIndex(where: { $0["port"]?.int == path.port }) {
            fix = """
            The app serves TLS on this port: name the Service port https (or tls) so the sidecars pass its TLS through, and call it with https://;
            or make the app serve plaintext HTTP and leave encryption to Istio's mTLS:
            kubectl -n \(service.namespace) patch service \(service.name) --type json -p '[{"op":"replace","path":"/spec/ports/\(index)/name","value":"https"}]'
            """
            return [Cause(.protocolMismatch, summary: "Service \(service.namespace)/\(service.name) names port \(path.port) for plaintext HTTP, but the app behind it serves TLS there: its sidecar sends plaintext HTTP, which the app's TLS server cannot read (\(entry.responseCode) \(flags.sorted().joined(separator: ",").orNone) \(details.orNone))",
                          evidence: evidence, fix: fix)]
        }
        if let service = path.service, let index = service.spec["ports"]?.array?.firstIndex(where: { $0["port"]?.int == path.port }) {
            let port = service.spec["ports"]!.array![index]
            if conflict == nil { evidence.append(service.field("spec.ports[\(index)].name")) }
            if port["appProtocol"] != nil { evidence.append(service.field("spec.ports[\(index)].appProtocol")) }
            fix = """
            The app speaks HTTP/1.1 on this port: say so in the Service (Istio reads the protocol from the port name or appProtocol):
            kubectl -n \(service.namespace) patch service \(service.name) --type json -p '[{"op":"replace","path":"/spec/ports/\(index)/name","value":"http"}\(port["appProtocol"] != nil ? #",{"op":"replace","path":"/spec/ports/\#(index)/appProtocol","value":"http"}"# : "")]'
            """
        }
        if let rule = path.destinationRule, rule.spec["trafficPolicy"]?["connectionPool"]?["http"]?["h2UpgradePolicy"] != nil {
            evidence.append(rule.field("spec.trafficPolicy.connectionPool.http.h2UpgradePolicy"))
            fix += "\n" + Self.patch(rule, #"{"spec":{"trafficPolicy":{"connectionPool":{"http":{"h2UpgradePolicy":"DO_NOT_UPGRADE"}}}}}"#)
        }
        return [Cause(.protocolMismatch, summary: "the proxy speaks \(h2 ? "HTTP/2" : "another protocol") to \(destinationName) but the app answers otherwise (UPE, protocol error): the port's declared protocol is wrong",
                      evidence: evidence, fix: fix)]
    }

    /// 426 `low_version`: the app spoke HTTP/1.0 (or older) to its sidecar, whose HTTP listeners answer that 426
    /// unless the proxy's `HTTP10` metadata is "1" (Envoy's `accept_http_10`, which istiod sets from it).
    func http10Refused() -> [Cause] {
        var evidence = logEvidenceLines
        if path.proxyTakesHTTP10 {
            evidence.append("config_dump.json: the proxy's node metadata has HTTP10: \"1\", yet this listener refused HTTP/1.0")
        } else if path.evidence.configDump != nil {
            evidence.append("config_dump.json: the proxy's node metadata has no HTTP10: \"1\", so its HTTP listeners have no http_protocol_options.accept_http_10")
        }
        if let symptom, symptom.status == 426 { evidence.append("symptom.txt: the caller got 426 \(symptom.body.trimmingCharacters(in: .whitespacesAndNewlines))") }
        let namespace = path.proxyNamespace.isEmpty ? "NAMESPACE" : path.proxyNamespace
        let workload = path.proxyWorkloadName.isEmpty ? "WORKLOAD" : path.proxyWorkloadName
        let fix = """
            Make the client speak HTTP/1.1 (nginx: `proxy_http_version 1.1;`; curl: drop --http1.0), or let this workload's sidecar take HTTP/1.0 \
            (a StatefulSet or DaemonSet the same way; if its pod template already has proxy.istio.io/config, add the proxyMetadata line to it instead, as this replaces it):
            kubectl -n \(namespace) patch deployment \(workload) --type merge -p '{"spec":{"template":{"metadata":{"annotations":{"proxy.istio.io/config":"proxyMetadata:\\n  ISTIO_META_HTTP10: \\"1\\"\\n"}}}}}'
            """
        return [Cause(.http10Refused, summary: "the app sent HTTP/1.0 and its sidecar answered 426 Upgrade Required (low_version): Istio's proxies take HTTP/1.0 only when HTTP10 is set for them",
                      evidence: evidence, fix: fix)]
    }
}
