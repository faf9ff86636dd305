import Foundation
import ConfigValues

/// What the pilot knows about the mesh at one snapshot: services, workloads, endpoints and Istio configuration,
/// read once and then queried per proxy.
public struct MeshModel: Sendable {
    public static let rootNamespace = "istio-system"

    public var domain: String
    public var services: [MeshService]
    public var workloads: [MeshWorkload]
    /// Endpoints by service hostname, then service port number.
    public var endpoints: [String: [Int: [ServiceEndpoint]]]
    public var virtualServices: [IstioConfig]
    public var destinationRules: [IstioConfig]
    public var peerAuthentications: [IstioConfig]
    public var sidecars: [IstioConfig]
    public var gateways: [IstioConfig]
    public var telemetries: [IstioConfig]
    public var meshConfig: JSONValue
    /// Per-push results shared between proxies.
    let cache = PushCache()
    /// The store objects the model was read from (AuthorizationPolicies and EnvoyFilters are read from it directly).
    let snapshot: MeshSnapshot

    public init(_ snapshot: MeshSnapshot) {
        self.snapshot = snapshot
        meshConfig = snapshot.meshConfig
        domain = "cluster.local"
        let nodes = Dictionary(snapshot.items("nodes").compactMap { node -> (String, Locality)? in
            guard let name = node.value(atPath: "metadata.name")?.string else { return nil }
            let labels = node.labelMap
            return (name, Locality(region: labels["topology.kubernetes.io/region"] ?? "", zone: labels["topology.kubernetes.io/zone"] ?? "",
                                   subZone: labels["topology.istio.io/subzone"] ?? ""))
        }, uniquingKeysWith: { first, _ in first })
        workloads = snapshot.items("pods").compactMap { MeshWorkload.read($0, nodes: nodes) }
            .filter { !$0.ip.isEmpty }
        let kubeServices = snapshot.items("services").compactMap { MeshService.kubernetes($0, domain: "cluster.local") }
        let entries = snapshot.items("serviceentries.networking.istio.io")
        services = (kubeServices + entries.flatMap(MeshService.fromServiceEntry)).sorted { ($0.hostname, $0.namespace) < ($1.hostname, $1.namespace) }
        virtualServices = snapshot.items("virtualservices.networking.istio.io").map { IstioConfig($0, kind: "VirtualService") }
        destinationRules = snapshot.items("destinationrules.networking.istio.io").map { IstioConfig($0, kind: "DestinationRule") }
        peerAuthentications = snapshot.items("peerauthentications.security.istio.io").map { IstioConfig($0, kind: "PeerAuthentication") }
        sidecars = snapshot.items("sidecars.networking.istio.io").map { IstioConfig($0, kind: "Sidecar") }
        gateways = snapshot.items("gateways.networking.istio.io").map { IstioConfig($0, kind: "Gateway") }
        telemetries = snapshot.items("telemetries.telemetry.istio.io").map { IstioConfig($0, kind: "Telemetry") }
        endpoints = [:]
        let podsByKey = Dictionary(workloads.map { ("\($0.namespace)/\($0.name)", $0) }, uniquingKeysWith: { first, _ in first })
        let podsByIP = Dictionary(workloads.map { ($0.ip, $0) }, uniquingKeysWith: { first, _ in first })
        readEndpointSlices(snapshot, pods: podsByKey, podsByIP: podsByIP)
        let workloadEntries = WorkloadEntryEndpoint.all(in: snapshot)
        readServiceEntryEndpoints(entries, workloadEntries: workloadEntries)
        readWorkloadEntriesOfServices(workloadEntries)
    }

    private mutating func readEndpointSlices(_ snapshot: MeshSnapshot, pods: [String: MeshWorkload], podsByIP: [String: MeshWorkload]) {
        let servicesByKey = Dictionary(services.filter { $0.serviceEntry == nil }.map { ("\($0.namespace)/\($0.name)", $0) }, uniquingKeysWith: { first, _ in first })
        var covered = Set<String>()
        for slice in snapshot.items("endpointslices.discovery.k8s.io") {
            let namespace = slice.value(atPath: "metadata.namespace")?.string ?? "default"
            guard let serviceName = slice.labelMap["kubernetes.io/service-name"], let service = servicesByKey["\(namespace)/\(serviceName)"] else { continue }
            covered.insert(service.hostname)
            let ports = (slice["ports"]?.array ?? []).map { (name: $0["name"]?.string ?? "", port: $0["port"]?.int) }
            for endpoint in slice["endpoints"]?.array ?? [] where endpoint.value(atPath: "conditions.ready")?.bool != false {
                let podName = endpoint.value(atPath: "targetRef.name")?.string
                for address in (endpoint["addresses"]?.array ?? []).compactMap(\.string) {
                    let pod = podName.flatMap { pods["\(namespace)/\($0)"] } ?? podsByIP[address]
                    for port in ports {
                        guard let servicePort = service.ports.first(where: { $0.name == port.name }), let number = port.port else { continue }
                        add(service: service, port: servicePort.port, address: address, targetPort: number, pod: pod)
                    }
                }
            }
        }
        for object in snapshot.items("endpoints") {
            let namespace = object.value(atPath: "metadata.namespace")?.string ?? "default"
            guard let name = object.value(atPath: "metadata.name")?.string, let service = servicesByKey["\(namespace)/\(name)"],
                  !covered.contains(service.hostname) else { continue }
            for subset in object["subsets"]?.array ?? [] {
                let ports = (subset["ports"]?.array ?? []).map { (name: $0["name"]?.string ?? "", port: $0["port"]?.int) }
                for address in subset["addresses"]?.array ?? [] {
                    guard let ip = address["ip"]?.string else { continue }
                    let pod = address.value(atPath: "targetRef.name")?.string.flatMap { pods["\(namespace)/\($0)"] } ?? podsByIP[ip]
                    for port in ports {
                        guard let servicePort = service.ports.first(where: { $0.name == port.name }), let number = port.port else { continue }
                        add(service: service, port: servicePort.port, address: ip, targetPort: number, pod: pod)
                    }
                }
            }
        }
    }

    private mutating func add(service: MeshService, port: Int, address: String, targetPort: Int, pod: MeshWorkload?) {
        guard MeshService.validPorts.contains(targetPort) else { return }
        let endpoint = ServiceEndpoint(address: address, port: targetPort, workload: pod, labels: pod?.labels ?? [:],
                                       serviceAccount: pod?.serviceAccount, tlsMode: pod?.tlsMode ?? "disabled", locality: pod?.locality ?? Locality())
        endpoints[service.hostname, default: [:]][port, default: []].append(endpoint)
    }

    /// A ServiceEntry's endpoints for each of its hosts and ports: its inline `endpoints`, or with a
    /// `workloadSelector` the WorkloadEntries and pods of its namespace whose labels match; a DNS entry with neither
    /// resolves its own host.
    private mutating func readServiceEntryEndpoints(_ entries: [JSONValue], workloadEntries: [WorkloadEntryEndpoint]) {
        for entry in entries {
            guard let spec = entry["spec"] else { continue }
            let name = entry.value(atPath: "metadata.name")?.string ?? ""
            let namespace = entry.value(atPath: "metadata.namespace")?.string ?? "default"
            let hosts = (spec["hosts"]?.array ?? []).compactMap(\.string)
            let selector = spec.value(atPath: "workloadSelector.labels")?.stringMap
            let members: [WorkloadEntryEndpoint]
            var pods: [MeshWorkload] = []
            if let selector {
                members = workloadEntries.filter { $0.isSelected(by: selector, in: namespace) }
                pods = workloads.filter { pod in
                    !selector.isEmpty && pod.namespace == namespace && selector.allSatisfy { pod.labels[$0.key] == $0.value }
                }
            } else {
                members = (spec["endpoints"]?.array ?? []).enumerated().map { index, item in
                    WorkloadEntryEndpoint(name: "\(name)-\(index)", namespace: namespace, spec: item)
                }
            }
            for service in services where service.serviceEntry != nil && service.namespace == namespace && hosts.contains(service.hostname) {
                for port in service.ports {
                    var found = members.compactMap { $0.endpoint(for: port) }
                    for pod in pods {
                        let target = pod.namedPorts[port.name] ?? port.targetPort?.int ?? port.port
                        guard MeshService.validPorts.contains(target) else { continue }
                        found.append(ServiceEndpoint(address: pod.ip, port: target, workload: pod, labels: pod.labels, serviceAccount: pod.serviceAccount,
                                                     tlsMode: pod.tlsMode, locality: pod.locality))
                    }
                    if found.isEmpty, selector == nil, service.resolution == .dns {
                        found.append(ServiceEndpoint(address: service.hostname, port: port.port, workload: nil, labels: [:], serviceAccount: nil,
                                                     tlsMode: "disabled", locality: Locality()))
                    }
                    endpoints[service.hostname, default: [:]][port.port] = found
                }
            }
        }
    }

    /// WorkloadEntries whose labels a Kubernetes Service's selector matches (same namespace) serve its ports too, as
    /// the Service's pods do.
    private mutating func readWorkloadEntriesOfServices(_ workloadEntries: [WorkloadEntryEndpoint]) {
        guard !workloadEntries.isEmpty else { return }
        for service in services where service.serviceEntry == nil {
            let selected = workloadEntries.filter { $0.isSelected(by: service.selector, in: service.namespace) }
            for member in selected {
                for port in service.ports {
                    guard let endpoint = member.endpoint(for: port) else { continue }
                    endpoints[service.hostname, default: [:]][port.port, default: []].append(endpoint)
                }
            }
        }
    }

    // MARK: - Queries

    public func workload(for node: ProxyNode) -> MeshWorkload? {
        workloads.first { $0.name == node.podName && $0.namespace == node.namespace }
    }

    public func endpoints(of service: MeshService, port: Int) -> [ServiceEndpoint] { endpoints[service.hostname]?[port] ?? [] }

    /// The services a proxy in `workload`'s namespace sees: exported to it, and within its Sidecar's egress hosts.
    public func visibleServices(for workload: MeshWorkload) -> [MeshService] {
        let egress = sidecar(for: workload).map { sidecar in
            (sidecar.spec["egress"]?.array ?? []).flatMap { ($0["hosts"]?.array ?? []).compactMap(\.string) }
        }
        return services.filter { service in
            guard service.isVisible(from: workload.namespace) else { return false }
            guard let egress, !egress.isEmpty else { return true }
            return egress.contains { entry in
                let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { return false }
                let namespaceOK = parts[0] == "*" || (parts[0] == "." ? service.namespace == workload.namespace : parts[0] == service.namespace)
                return namespaceOK && HostMatch.matches(pattern: parts[1], host: service.hostname)
            }
        }
    }

    /// The Sidecar resource for a workload: one in its namespace selecting it, else its namespace's default, else the
    /// root namespace's.
    public func sidecar(for workload: MeshWorkload) -> IstioConfig? {
        let local = sidecars.filter { $0.namespace == workload.namespace }
        return local.first { $0.selector != nil && $0.selects(workload) } ?? local.first { $0.selector == nil }
            ?? sidecars.first { $0.namespace == Self.rootNamespace && $0.selector == nil }
    }

    /// VirtualServices a proxy in `namespace` applies, bound to `gateway` (`mesh` for sidecars, else `ns/name` of a
    /// Gateway), in a stable order (namespace, then name).
    public func virtualServices(visibleFrom namespace: String, gateway: String = "mesh") -> [IstioConfig] {
        virtualServices.filter { config in
            let bound = (config.spec["gateways"]?.array ?? []).compactMap(\.string)
            let applies = gateway == "mesh" ? (bound.isEmpty || bound.contains("mesh")) : bound.contains { gatewayMatches($0, gateway, config.namespace) }
            return applies && config.isVisible(from: namespace)
        }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    private func gatewayMatches(_ reference: String, _ gateway: String, _ namespace: String) -> Bool {
        let qualified = reference.contains("/") ? reference : "\(namespace)/\(reference)"
        return qualified == gateway
    }

    /// The DestinationRule for `host` as a proxy in `namespace` sees it: the proxy's namespace first, then the
    /// host's (the service's) namespace, then the root namespace.
    public func destinationRule(for host: String, serviceNamespace: String, proxyNamespace: String) -> IstioConfig? {
        let candidates = destinationRules.filter { rule in
            guard let ruleHost = rule.spec["host"]?.string else { return false }
            return HostMatch.matches(pattern: HostMatch.qualify(ruleHost, namespace: rule.namespace, domain: domain), host: host)
                && rule.isVisible(from: proxyNamespace)
        }
        for namespace in [proxyNamespace, serviceNamespace, Self.rootNamespace] {
            // An exact host beats a wildcard within one namespace.
            let here = candidates.filter { $0.namespace == namespace }
            if let exact = here.first(where: { HostMatch.qualify($0.spec["host"]?.string ?? "", namespace: $0.namespace, domain: domain) == host }) { return exact }
            if let any = here.first { return any }
        }
        return nil
    }

    /// Services whose selector selects the workload (its inbound side).
    public func services(selecting workload: MeshWorkload) -> [MeshService] {
        services.filter { service in
            service.serviceEntry == nil && service.namespace == workload.namespace && !service.selector.isEmpty
                && service.selector.allSatisfy { workload.labels[$0.key] == $0.value }
        }
    }

    /// The model as one proxy sees it: the mesh config with its Sidecar's outbound traffic policy and with the
    /// Telemetry resource that applies to the workload
    /// (workload selector > its namespace > root namespace) turning access logging on (to /dev/stdout when the mesh
    /// config names no file) or off.
    /// A Sidecar's `outboundTrafficPolicy.mode` replaces the mesh's for the workloads it applies to.
    func applyingProxySettings(to workload: MeshWorkload) -> MeshModel {
        var copy = self
        if let mode = sidecar(for: workload)?.spec.value(atPath: "outboundTrafficPolicy.mode") {
            copy.meshConfig["outboundTrafficPolicy"] = .object([("mode", mode)])
        }
        let local = telemetries.filter { $0.namespace == workload.namespace }
        let chosen = local.first { $0.selector != nil && $0.selects(workload) } ?? local.first { $0.selector == nil }
            ?? telemetries.first { $0.namespace == Self.rootNamespace && $0.selector == nil }
        guard let logging = chosen?.spec["accessLogging"]?.array?.first else { return copy }
        if logging["disabled"]?.bool == true {
            copy.meshConfig["accessLogFile"] = .string("")
        } else if (meshConfig["accessLogFile"]?.string ?? "").isEmpty {
            copy.meshConfig["accessLogFile"] = .string("/dev/stdout")
        }
        return copy
    }

    /// `meshConfig.outboundTrafficPolicy.mode` is REGISTRY_ONLY (unknown destinations go to BlackHoleCluster).
    public var registryOnly: Bool { meshConfig.value(atPath: "outboundTrafficPolicy.mode")?.string == "REGISTRY_ONLY" }
}
