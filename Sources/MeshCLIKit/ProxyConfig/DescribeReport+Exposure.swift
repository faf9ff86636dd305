import EnvoyConfig
import KubeClient
import Manifests

/// How a workload is reached from outside the mesh (ingress gateways) and what mTLS it accepts and is sent.
extension DescribeReport {
    /// An ingress gateway Service and the running ingress pods it selects.
    struct Ingress {
        var service: JSONValue
        var pods: [JSONValue]

        /// The load balancer's address, else the first pod's host IP, else "unknown".
        var address: String {
            if let ip = service["status"]?["loadBalancer"]?["ingress"]?.array?.first?["ip"]?.string { return ip }
            return pods.first?["status"]?["hostIP"]?.string ?? "unknown"
        }

        /// A Gateway without a selector applies to every gateway; else one of the pods must carry its labels.
        func serves(_ gateway: JSONValue) -> Bool {
            guard let selector = gateway["spec"]?["selector"]?.stringMap, gateway["spec"]?["selector"] != nil else { return true }
            return pods.contains { pod in selector.allSatisfy { pod.labelMap[$0.key] == $0.value } }
        }

        /// `Exposed on Ingress Gateway http://1.1.1.1` per TCP port named http or http2 (with `:port` unless 80).
        func exposureLines() -> [String] {
            (service["spec"]?["ports"]?.array ?? []).compactMap { port in
                guard port["protocol"]?.string ?? "TCP" == "TCP", let name = port["name"]?.string, name == "http" || name == "http2" else { return nil }
                let number = port["port"]?.int ?? 0
                return "Exposed on Ingress Gateway http://\(address)\(number == 80 ? "" : ":\(number)")"
            }
        }
    }

    /// The ingress gateways (pods labelled istio=ingressgateway, in any namespace) whose Gateway a VirtualService of
    /// the Services binds, with the addresses they expose the Services on and that VirtualService's routes.
    mutating func describeIngress(_ services: [JSONValue], podsLabels: [[String: String]]) throws {
        let pods = try ClusterConnection.call { try client.list("/api/v1/pods?labelSelector=istio%3Dingressgateway") }
            .filter { $0["status"]?["phase"]?.string == "Running" }
        guard !pods.isEmpty else { return write(0, "Skipping Gateway information (no ingress gateway pods)") }
        var ingresses: [Ingress] = []
        for namespace in Set(pods.compactMap { $0["metadata"]?["namespace"]?.string }).sorted() {
            let inNamespace = pods.filter { $0["metadata"]?["namespace"]?.string == namespace }
            for service in try ClusterConnection.call({ try client.list("/api/v1/namespaces/\(KubernetesClient.percentEncoded(namespace))/services") }) {
                let selector = service["spec"]?["selector"]?.stringMap ?? [:]
                let selected = inNamespace.filter { pod in selector.allSatisfy { pod.labelMap[$0.key] == $0.value } }
                if !selected.isEmpty { ingresses.append(Ingress(service: service, pods: selected)) }
            }
        }
        if ingresses.isEmpty { write(0, "Skipping Gateway information (no ingress gateway service)") }
        var seenGateways: Set<String> = []
        for pod in pods {
            let dump = reachableConfigDump(of: pod, what: "ingress gateway sidecar")
            for service in services {
                for port in service["spec"]?["ports"]?.array ?? [] {
                    let routing = try self.routing(service: service, port: port["port"]?.int ?? 0, dump: dump, podsLabels: podsLabels)
                    guard let virtualService = routing.virtualService else { continue }
                    let namespace = virtualService["metadata"]?["namespace"]?.string ?? ""
                    for reference in virtualService["spec"]?["gateways"]?.array?.compactMap(\.string) ?? [] where !reference.isEmpty && reference != "mesh" {
                        let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
                        let (gatewayNamespace, gatewayName) = parts.count == 2 ? (parts[0], parts[1]) : (namespace, reference)
                        guard seenGateways.insert("\(gatewayNamespace)/\(gatewayName)").inserted else { continue }
                        guard let gateway = try istioObject("gateways", name: gatewayName, namespace: gatewayNamespace) else {
                            write(0, "WARNING: Proxy is stale; it references to non-existent gateway \(gatewayNamespace)/\(gatewayName)")
                            continue
                        }
                        if gateway["spec"]?["selector"] == nil {
                            write(0, "Ingress Gateway \(gatewayNamespace)/\(gatewayName) applies to all gateway workloads")
                            continue
                        }
                        let serving = ingresses.filter { $0.serves(gateway) }.sorted { $0.address < $1.address }
                        guard !serving.isEmpty else { continue }
                        write(0, "--------------------")
                        for ingress in serving { for line in ingress.exposureLines() { write(0, line) } }
                        describeVirtualService(virtualService, service: service, routing: routing, level: 0)
                    }
                }
            }
        }
    }

    // MARK: mTLS

    /// The PeerAuthentication mode in force for the pod (mesh, then namespace, then workload, then per port; the
    /// oldest of each level wins, an UNSET mode inherits), the policies applied, and what its clients send.
    mutating func describeMutualTLS(pod: JSONValue, services: [JSONValue], istioNamespace: String) throws {
        let namespace = pod["metadata"]?["namespace"]?.string ?? ""
        let mesh = try Self.meshConfig(client, istioNamespace: istioNamespace)
        let rootNamespace = mesh["rootNamespace"]?.string ?? istioNamespace
        var policies: [JSONValue] = []
        for source in [rootNamespace] + (namespace == rootNamespace ? [] : [namespace]) {
            // A cluster without Istio's security API (404) has no PeerAuthentications.
            policies += try ClusterConnection.call {
                do {
                    return try client.list("/apis/security.istio.io/v1/namespaces/\(KubernetesClient.percentEncoded(source))/peerauthentications")
                } catch let error as APIStatusError where error.code == 404 {
                    return []
                }
            }
        }
        let labels = pod.labelMap
        let applied = policies.filter { policy in
            (policy["spec"]?["selector"]?["matchLabels"]?.stringMap ?? [:]).allSatisfy { labels[$0.key] == $0.value }
        }
        let effective = PeerAuthenticationMode.compose(applied, rootNamespace: rootNamespace)
        write(0, "Effective PeerAuthentication:")
        write(3, "Workload mTLS mode: \(effective.mode)")
        if !effective.perPort.isEmpty {
            write(3, "Port Level mTLS mode:")
            for (port, mode) in effective.perPort.sorted(by: { $0.key < $1.key }) { write(6, "\(port): \(mode)") }
        }
        if !applied.isEmpty {
            write(0, "Applied PeerAuthentication:")
            write(3, applied.map { "\($0["metadata"]?["name"]?.string ?? "").\($0["metadata"]?["namespace"]?.string ?? "")" }.joined(separator: ", "))
        }
        try describeClientTLS(pod: pod, services: services, serverMode: effective.mode, autoMutualTLS: mesh["enableAutoMtls"]?.bool ?? true)
    }

    /// What clients of each Service port send: the DestinationRule's TLS mode its proxy applies, else auto mTLS
    /// (mTLS to pods with a sidecar) or plain text; a warning when that cannot reach a STRICT workload.
    mutating func describeClientTLS(pod: JSONValue, services: [JSONValue], serverMode: String, autoMutualTLS: Bool) throws {
        guard !services.isEmpty else { return }
        // describeServices read the dump already (kept by configDump); without one, the cluster's rules are used.
        let dump = try? configDump(of: pod, what: "sidecar")
        write(0, "Clients send:")
        for service in services {
            for port in service["spec"]?["ports"]?.array ?? [] {
                let number = port["port"]?.int ?? 0
                let routing = try self.routing(service: service, port: number, dump: dump, podsLabels: [pod.labelMap])
                let ruleMode = routing.destinationRule.flatMap { rule in
                    let policy = rule["spec"]?["trafficPolicy"]
                    let portMode = (policy?["portLevelSettings"]?.array ?? []).first { $0["port"]?["number"]?.int == number }?["tls"]?["mode"]?.string
                    return portMode ?? policy?["tls"]?["mode"]?.string
                }
                let sent: String
                if let ruleMode, let rule = routing.destinationRule {
                    sent = "\(ruleMode) (DestinationRule \(kname(rule)))"
                } else {
                    sent = autoMutualTLS ? "ISTIO_MUTUAL (auto mTLS: the pod has a sidecar)" : "plain text (auto mTLS is off and no DestinationRule sets TLS)"
                }
                write(3, "\(kname(service)):\(number): \(sent)")
                let plain = ruleMode.map { $0 == "DISABLE" || $0 == "SIMPLE" } ?? !autoMutualTLS
                if plain && serverMode == "STRICT" {
                    write(6, "WARNING: the workload accepts only mTLS (STRICT), so these clients' requests are refused")
                }
            }
        }
    }

    /// The mesh config of the `istio` ConfigMap (key `mesh`) in the Istio namespace; empty when there is none.
    static func meshConfig(_ client: KubernetesClient, istioNamespace: String) throws -> JSONValue {
        let configMap: JSONValue
        do {
            configMap = try client.get("/api/v1/namespaces/\(KubernetesClient.percentEncoded(istioNamespace))/configmaps/istio")
        } catch let error as APIStatusError where error.code == 404 {
            return .object([])
        } catch let error as APIStatusError {
            throw CommandFailure.fromServer(error.description)
        } catch let error as TransportError {
            throw CommandFailure(error.description)
        }
        guard let text = configMap["data"]?["mesh"]?.string, let document = (try? YAMLParser.parse(text, file: "configmap istio"))?.first else {
            return .object([])
        }
        return JSONValue(yaml: document.root)
    }
}

/// Istio's composition of PeerAuthentications into one mode (`STRICT`, `PERMISSIVE`, `DISABLE`).
enum PeerAuthenticationMode {
    /// The mode for a workload given the policies that apply to it: the oldest mesh-wide policy (root namespace,
    /// no selector), then the oldest namespace policy, then the oldest workload policy (a selector, outside the
    /// root namespace); UNSET inherits; port-level modes come from the workload policy. PERMISSIVE when none sets one.
    static func compose(_ policies: [JSONValue], rootNamespace: String) -> (mode: String, perPort: [Int: String]) {
        func oldest(_ candidates: [JSONValue]) -> JSONValue? {
            candidates.min { ($0["metadata"]?["creationTimestamp"]?.string ?? "") < ($1["metadata"]?["creationTimestamp"]?.string ?? "") }
        }
        func hasSelector(_ policy: JSONValue) -> Bool { !(policy["spec"]?["selector"]?["matchLabels"]?.stringMap ?? [:]).isEmpty }
        func namespace(_ policy: JSONValue) -> String { policy["metadata"]?["namespace"]?.string ?? "" }
        let mesh = oldest(policies.filter { !hasSelector($0) && namespace($0) == rootNamespace })
        let namespaceWide = oldest(policies.filter { !hasSelector($0) && namespace($0) != rootNamespace })
        let workload = oldest(policies.filter { hasSelector($0) && namespace($0) != rootNamespace })
        var mode = "PERMISSIVE"
        for policy in [mesh, namespaceWide, workload].compactMap({ $0 }) {
            if let set = policy["spec"]?["mtls"]?["mode"]?.string, set != "UNSET" { mode = set }
        }
        var perPort: [Int: String] = [:]
        for (port, setting) in workload?["spec"]?["portLevelMtls"]?.object ?? [] {
            guard let number = Int(port) else { continue }
            let set = setting["mode"]?.string ?? "UNSET"
            perPort[number] = set == "UNSET" ? mode : set
        }
        return (mode, perPort)
    }
}
