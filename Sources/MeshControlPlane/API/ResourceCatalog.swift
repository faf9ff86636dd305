import Manifests

/// A table column the server fills for `kubectl get` (Table responses): its name and what goes in a cell.
public struct PrinterColumn: Sendable {
    public enum Source: Sendable {
        /// A field, by dotted path from the object root (`spec.host`); arrays are shown as JSON.
        case field(String)
        case age
        /// Computed from the whole object.
        case computed(@Sendable (JSONValue) -> String)
        /// Computed from the whole object; nil shows as kubectl's `<none>`.
        case cell(@Sendable (JSONValue) -> JSONValue?)
    }
    public let name: String
    public let source: Source
    /// 0 in every table, 1 only with `-o wide`.
    public let priority: Int

    public init(_ name: String, _ source: Source, priority: Int = 0) {
        self.name = name
        self.source = source
        self.priority = priority
    }
}

/// One kind the API serves: where it lives in the URL space and how kubectl names it.
public struct ResourceType: Sendable {
    public let group: String
    /// Served versions, preferred first.
    public let versions: [String]
    public let plural: String
    public let kind: String
    public let namespaced: Bool
    public let shortNames: [String]
    public let categories: [String]
    /// Built into kubectl (answers strategic merge patches); custom resources are not.
    public let builtIn: Bool
    public let columns: [PrinterColumn]
    /// Tables end with Age (before the `-o wide` columns); CRDs' tables and those of custom kinds that list their
    /// own columns do not.
    public var showsAge = true

    public var singular: String { kind.lowercased() }
    /// The storage key: group and plural, whatever the version.
    public var key: String { group.isEmpty ? plural : "\(plural).\(group)" }
    public func apiVersion(_ version: String) -> String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `deployments.apps`, as Kubernetes names a resource in messages.
    public var qualifiedName: String { key }
}

/// The kinds meshctl's local control plane serves: the Kubernetes ones a mesh workload needs and Istio's.
public enum ResourceCatalog {
    private static let verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    public static var allVerbs: [String] { verbs }

    /// The kinds `kubectl get all` lists, as on a real cluster.
    static let inCategoryAll: Set<String> = ["pods", "services", "deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps",
                                             "jobs.batch", "cronjobs.batch"]

    private static func core(_ plural: String, _ kind: String, namespaced: Bool = true, short: [String] = [], columns: [PrinterColumn] = []) -> ResourceType {
        builtIn("", plural, kind, namespaced: namespaced, short: short, columns: columns)
    }

    private static func builtIn(_ group: String, _ plural: String, _ kind: String, versions: [String] = ["v1"], namespaced: Bool = true,
                                short: [String] = [], columns: [PrinterColumn] = []) -> ResourceType {
        let key = group.isEmpty ? plural : "\(plural).\(group)"
        return ResourceType(group: group, versions: versions, plural: plural, kind: kind, namespaced: namespaced, shortNames: short,
                            categories: inCategoryAll.contains(key) ? ["all"] : [], builtIn: true, columns: columns)
    }

    /// Gateway API kinds: served by meshctl with their schemas, but (as CRDs on a real cluster) without strategic merge patches.
    private static func gatewayAPI(_ plural: String, _ kind: String, versions: [String], namespaced: Bool = true, short: [String] = [],
                                   columns: [PrinterColumn] = []) -> ResourceType {
        ResourceType(group: "gateway.networking.k8s.io", versions: versions, plural: plural, kind: kind, namespaced: namespaced, shortNames: short,
                     categories: ["gateway-api"], builtIn: false, columns: columns)
    }

    private static func withoutAge(_ type: ResourceType) -> ResourceType {
        var copy = type
        copy.showsAge = false
        return copy
    }

    private static let createdAt = PrinterColumn("Created At", .field("metadata.creationTimestamp"))

    private static func istio(_ group: String, _ versions: [String], _ plural: String, _ kind: String, short: [String] = [],
                              columns: [PrinterColumn] = []) -> ResourceType {
        let category = group.split(separator: ".").prefix(1).joined()  // networking, security, ...
        return ResourceType(group: group, versions: versions, plural: plural, kind: kind, namespaced: true, shortNames: short,
                            categories: ["istio-io", "\(category)-istio-io"], builtIn: false, columns: columns)
    }

    static let networking = ["v1", "v1beta1", "v1alpha3"]

    public static let all: [ResourceType] = [
        core("namespaces", "Namespace", namespaced: false, short: ["ns"], columns: [.init("Status", .field("status.phase"))]),
        core("pods", "Pod", short: ["po"], columns: [
            .init("Ready", .computed(Columns.podReady)), .init("Status", .computed(Columns.podStatus)),
            .init("Restarts", .computed(Columns.podRestarts)), .init("IP", .field("status.podIP"), priority: 1),
            .init("Node", .field("spec.nodeName"), priority: 1),
        ]),
        core("services", "Service", short: ["svc"], columns: [
            .init("Type", .computed { $0["spec"]?["type"]?.string ?? "ClusterIP" }), .init("Cluster-IP", .field("spec.clusterIP")),
            .init("External-IP", .computed(Columns.externalIP)), .init("Port(s)", .computed(Columns.servicePorts)),
            .init("Selector", .computed(Columns.selector), priority: 1),
        ]),
        core("endpoints", "Endpoints", short: ["ep"]),
        core("configmaps", "ConfigMap", short: ["cm"], columns: [.init("Data", .computed { String(($0["data"]?.object?.count ?? 0) + ($0["binaryData"]?.object?.count ?? 0)) })]),
        core("secrets", "Secret", columns: [.init("Type", .computed { $0["type"]?.string ?? "Opaque" }),
                                            .init("Data", .computed { String(($0["data"]?.object?.count ?? 0) + ($0["stringData"]?.object?.count ?? 0)) })]),
        core("serviceaccounts", "ServiceAccount", short: ["sa"]),
        core("nodes", "Node", namespaced: false, short: ["no"]),
        core("events", "Event", short: ["ev"], columns: [
            .init("Type", .field("type")), .init("Reason", .field("reason")),
            .init("Object", .computed { "\(($0["involvedObject"]?["kind"]?.string ?? "").lowercased())/\($0["involvedObject"]?["name"]?.string ?? "")" }),
            .init("Message", .field("message")),
        ]),
        core("persistentvolumeclaims", "PersistentVolumeClaim", short: ["pvc"], columns: [
            .init("Status", .computed { $0["status"]?["phase"]?.string ?? "Pending" }), .init("Volume", .field("spec.volumeName")),
            .init("Capacity", .field("status.capacity.storage")), .init("Access Modes", .computed(Columns.accessModes)),
            .init("StorageClass", .field("spec.storageClassName")),
        ]),
        builtIn("apps", "deployments", "Deployment", short: ["deploy"], columns: [
            .init("Ready", .computed { "\($0["status"]?["readyReplicas"]?.int ?? 0)/\($0["spec"]?["replicas"]?.int ?? 1)" }),
            .init("Up-to-date", .computed { String($0["status"]?["updatedReplicas"]?.int ?? 0) }),
            .init("Available", .computed { String($0["status"]?["availableReplicas"]?.int ?? 0) }),
            .init("Containers", .computed { Columns.containers($0, \.name) }, priority: 1),
            .init("Images", .computed { Columns.containers($0, \.image) }, priority: 1),
            .init("Selector", .computed(Columns.workloadSelector), priority: 1),
        ]),
        builtIn("apps", "replicasets", "ReplicaSet", short: ["rs"]),
        builtIn("apps", "statefulsets", "StatefulSet", short: ["sts"]),
        builtIn("apps", "daemonsets", "DaemonSet", short: ["ds"]),
        builtIn("batch", "jobs", "Job"),
        builtIn("batch", "cronjobs", "CronJob", short: ["cj"]),
        builtIn("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", namespaced: false,
                columns: [.init("Webhooks", .computed { String($0["webhooks"]?.array?.count ?? 0) })]),
        builtIn("admissionregistration.k8s.io", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", namespaced: false,
                columns: [.init("Webhooks", .computed { String($0["webhooks"]?.array?.count ?? 0) })]),
        // Stored and served (Gateway API's install files carry them); meshctl does not enforce them.
        builtIn("admissionregistration.k8s.io", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", namespaced: false),
        builtIn("admissionregistration.k8s.io", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", namespaced: false),
        withoutAge(builtIn("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", namespaced: false,
                           short: ["crd", "crds"], columns: [createdAt])),
        builtIn("rbac.authorization.k8s.io", "roles", "Role", columns: [createdAt]),
        builtIn("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", columns: Columns.bindingColumns),
        builtIn("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", namespaced: false, columns: [createdAt]),
        builtIn("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", namespaced: false, columns: Columns.bindingColumns),
        builtIn("networking.k8s.io", "ingresses", "Ingress", short: ["ing"], columns: [
            .init("Class", .computed { $0["spec"]?["ingressClassName"]?.string ?? "<none>" }),
            .init("Hosts", .computed { Columns.joined(($0["spec"]?["rules"]?.array ?? []).compactMap { $0["host"]?.string }, empty: "*") }),
            .init("Address", .computed { Columns.joined(($0["status"]?["loadBalancer"]?["ingress"]?.array ?? []).compactMap { $0["ip"]?.string ?? $0["hostname"]?.string }, empty: "") }),
            .init("Ports", .computed { ($0["spec"]?["tls"]?.array ?? []).isEmpty ? "80" : "80, 443" }),
        ]),
        builtIn("networking.k8s.io", "networkpolicies", "NetworkPolicy", short: ["netpol"], columns: [
            .init("Pod-Selector", .computed { Columns.selectorText($0["spec"]?["podSelector"]) }),
        ]),
        builtIn("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", versions: ["v2"], short: ["hpa"], columns: [
            .init("Reference", .computed { "\($0["spec"]?["scaleTargetRef"]?["kind"]?.string ?? "")/\($0["spec"]?["scaleTargetRef"]?["name"]?.string ?? "")" }),
            .init("MinPods", .computed { String($0["spec"]?["minReplicas"]?.int ?? 1) }), .init("MaxPods", .field("spec.maxReplicas")),
            .init("Replicas", .computed { String($0["status"]?["currentReplicas"]?.int ?? 0) }),
        ]),
        builtIn("policy", "poddisruptionbudgets", "PodDisruptionBudget", short: ["pdb"], columns: [
            .init("Min Available", .computed { $0["spec"]?["minAvailable"].map(Columns.scalar) ?? "N/A" }),
            .init("Max Unavailable", .computed { $0["spec"]?["maxUnavailable"].map(Columns.scalar) ?? "N/A" }),
            .init("Allowed Disruptions", .computed { String($0["status"]?["disruptionsAllowed"]?.int ?? 0) }),
        ]),
        builtIn("discovery.k8s.io", "endpointslices", "EndpointSlice", columns: [
            .init("AddressType", .field("addressType")),
            .init("Ports", .computed { Columns.joined(($0["ports"]?.array ?? []).compactMap { $0["port"]?.int.map(String.init) }, empty: "<unset>") }),
            .init("Endpoints", .computed { Columns.joined(($0["endpoints"]?.array ?? []).flatMap { ($0["addresses"]?.array ?? []).compactMap(\.string) }, empty: "<unset>") }),
        ]),
        builtIn("coordination.k8s.io", "leases", "Lease", columns: [.init("Holder", .field("spec.holderIdentity"))]),
        istio("networking.istio.io", networking, "virtualservices", "VirtualService", short: ["vs"],
              columns: [.init("Gateways", .field("spec.gateways")), .init("Hosts", .field("spec.hosts"))]),
        istio("networking.istio.io", networking, "destinationrules", "DestinationRule", short: ["dr"], columns: [.init("Host", .field("spec.host"))]),
        istio("networking.istio.io", networking, "gateways", "Gateway", short: ["gw"]),
        istio("networking.istio.io", networking, "serviceentries", "ServiceEntry", short: ["se"], columns: [
            .init("Hosts", .field("spec.hosts")), .init("Location", .field("spec.location")), .init("Resolution", .field("spec.resolution")),
        ]),
        istio("networking.istio.io", networking, "sidecars", "Sidecar"),
        istio("networking.istio.io", networking, "workloadentries", "WorkloadEntry", short: ["we"], columns: [.init("Address", .field("spec.address"))]),
        istio("networking.istio.io", networking, "workloadgroups", "WorkloadGroup", short: ["wg"]),
        istio("networking.istio.io", ["v1alpha3"], "envoyfilters", "EnvoyFilter"),
        istio("networking.istio.io", ["v1beta1"], "proxyconfigs", "ProxyConfig"),
        istio("security.istio.io", ["v1", "v1beta1"], "peerauthentications", "PeerAuthentication", short: ["pa"],
              columns: [.init("Mode", .field("spec.mtls.mode"))]),
        istio("security.istio.io", ["v1", "v1beta1"], "requestauthentications", "RequestAuthentication", short: ["ra"]),
        istio("security.istio.io", ["v1", "v1beta1"], "authorizationpolicies", "AuthorizationPolicy", short: ["ap"],
              columns: [.init("Action", .field("spec.action"))]),
        istio("telemetry.istio.io", ["v1", "v1alpha1"], "telemetries", "Telemetry", short: ["telemetry"]),
        istio("extensions.istio.io", ["v1alpha1"], "wasmplugins", "WasmPlugin"),
        // After Istio's kinds, so that `gateways` still names Istio's Gateway here (use `gtw` for the Gateway API's).
        gatewayAPI("gatewayclasses", "GatewayClass", versions: ["v1", "v1beta1"], namespaced: false, short: ["gc"], columns: [
            .init("Controller", .field("spec.controllerName")), .init("Accepted", .computed { Columns.condition($0, "Accepted") }),
        ]),
        gatewayAPI("gateways", "Gateway", versions: ["v1", "v1beta1"], short: ["gtw"], columns: [
            .init("Class", .field("spec.gatewayClassName")),
            .init("Address", .computed { ($0["status"]?["addresses"]?.array?.first?["value"]?.string) ?? "" }),
            .init("Programmed", .computed { Columns.condition($0, "Programmed") }),
        ]),
        gatewayAPI("httproutes", "HTTPRoute", versions: ["v1", "v1beta1"], columns: [.init("Hostnames", .field("spec.hostnames"))]),
        gatewayAPI("grpcroutes", "GRPCRoute", versions: ["v1"], columns: [.init("Hostnames", .field("spec.hostnames"))]),
        gatewayAPI("referencegrants", "ReferenceGrant", versions: ["v1beta1", "v1"], short: ["refgrant"]),
    ]

    /// The type served at `group`/`version` under `plural`, among `types` (the built-in ones when not given).
    public static func find(group: String, version: String, plural: String, in types: [ResourceType] = all) -> ResourceType? {
        types.first { $0.group == group && $0.plural == plural && $0.versions.contains(version) }
    }

    /// The type of objects with this apiVersion and kind.
    public static func find(apiVersion: String, kind: String, in types: [ResourceType] = all) -> ResourceType? {
        let parts = apiVersion.split(separator: "/").map(String.init)
        let (group, version) = parts.count == 2 ? (parts[0], parts[1]) : ("", parts.first ?? "")
        return types.first { $0.group == group && $0.kind == kind && $0.versions.contains(version) }
    }

    /// Groups of `types` in the order discovery lists them (core first), each with its versions.
    public static func groups(_ types: [ResourceType]) -> [(name: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for type in types {
            if versions[type.group] == nil { order.append(type.group) }
            for version in type.versions where !(versions[type.group] ?? []).contains(version) { versions[type.group, default: []].append(version) }
        }
        return order.map { ($0, versions[$0]!) }
    }
}

/// Cell values computed from an object for kubectl's columns.
enum Columns {
    static func podReady(_ pod: JSONValue) -> String {
        let containers = pod["spec"]?["containers"]?.array?.count ?? 0
        let ready = (pod["status"]?["containerStatuses"]?.array ?? []).filter { $0["ready"]?.bool == true }.count
        return "\(ready)/\(containers)"
    }

    static func podStatus(_ pod: JSONValue) -> String {
        if pod["metadata"]?["deletionTimestamp"] != nil { return "Terminating" }
        // As kubectl prints it: a container's waiting or terminated reason says more than the phase.
        let statuses = pod["status"]?["containerStatuses"]?.array ?? []
        let initStatuses = pod["status"]?["initContainerStatuses"]?.array ?? []
        for (index, status) in initStatuses.enumerated() {
            if status["state"]?["terminated"]?["exitCode"]?.int == 0 { continue }
            if let reason = status["state"]?["waiting"]?["reason"]?.string, reason != "PodInitializing" { return "Init:\(reason)" }
            if let terminated = status["state"]?["terminated"] { return "Init:\(terminated["reason"]?.string ?? "ExitCode:\(terminated["exitCode"]?.int ?? 0)")" }
            return "Init:\(index)/\(initStatuses.count)"
        }
        var shown = pod["status"]?["reason"]?.string ?? pod["status"]?["phase"]?.string ?? "Pending"
        for status in statuses.reversed() {
            if let reason = status["state"]?["waiting"]?["reason"]?.string, !reason.isEmpty { shown = reason }
            else if let terminated = status["state"]?["terminated"] {
                shown = terminated["reason"]?.string ?? (terminated["signal"]?.int.map { "Signal:\($0)" } ?? "ExitCode:\(terminated["exitCode"]?.int ?? 0)")
            }
        }
        return shown
    }

    static func podRestarts(_ pod: JSONValue) -> String {
        // Saturating: restart counts come from clients, and a sum that overflows must not stop the server.
        String((pod["status"]?["containerStatuses"]?.array ?? []).reduce(0) { sum, status in
            let (total, overflow) = sum.addingReportingOverflow(max(0, status["restartCount"]?.int ?? 0))
            return overflow ? Int.max : total
        })
    }

    static func servicePorts(_ service: JSONValue) -> String {
        let ports = (service["spec"]?["ports"]?.array ?? []).map { port -> String in
            let number = port["port"]?.int.map(String.init) ?? "?"
            let node = port["nodePort"]?.int.map { ":\($0)" } ?? ""
            return "\(number)\(node)/\(port["protocol"]?.string ?? "TCP")"
        }
        return ports.isEmpty ? "<none>" : ports.joined(separator: ",")
    }

    /// A Service's external addresses: its load balancer's (`<pending>` until it has one), its externalIPs, or ExternalName.
    static func externalIP(_ service: JSONValue) -> String {
        let spec = service["spec"] ?? .object([])
        var addresses = (spec["externalIPs"]?.array ?? []).compactMap(\.string)
        switch spec["type"]?.string {
        case "ExternalName": return spec["externalName"]?.string ?? "<none>"
        case "LoadBalancer":
            let ingress = (service["status"]?["loadBalancer"]?["ingress"]?.array ?? []).compactMap { $0["ip"]?.string ?? $0["hostname"]?.string }
            addresses = ingress + addresses
            return addresses.isEmpty ? "<pending>" : addresses.joined(separator: ",")
        default: return joined(addresses, empty: "<none>")
        }
    }

    static func joined(_ values: [String], empty: String) -> String { values.isEmpty ? empty : values.joined(separator: ",") }

    /// A number or string value as kubectl prints it.
    static func scalar(_ value: JSONValue) -> String { value.string ?? value.serialized }

    static func containers(_ workload: JSONValue, _ part: KeyPath<(name: String, image: String), String>) -> String {
        let containers = workload["spec"]?["template"]?["spec"]?["containers"]?.array ?? []
        return joined(containers.map { (name: $0["name"]?.string ?? "", image: $0["image"]?.string ?? "")[keyPath: part] }, empty: "<none>")
    }

    /// A label selector as kubectl prints it: `app=web,tier in (a,b)`.
    static func selectorText(_ selector: JSONValue?) -> String {
        guard let selector else { return "<none>" }
        var parts = (selector["matchLabels"]?.object ?? []).map { "\($0.key)=\($0.value.string ?? "")" }
        for expression in selector["matchExpressions"]?.array ?? [] {
            let key = expression["key"]?.string ?? "", values = (expression["values"]?.array ?? []).compactMap(\.string).joined(separator: ",")
            switch expression["operator"]?.string {
            case "In": parts.append("\(key) in (\(values))")
            case "NotIn": parts.append("\(key) notin (\(values))")
            case "Exists": parts.append(key)
            default: parts.append("!\(key)")
            }
        }
        return joined(parts, empty: "<none>")
    }

    static func workloadSelector(_ workload: JSONValue) -> String { selectorText(workload["spec"]?["selector"]) }

    static func accessModes(_ claim: JSONValue) -> String {
        let short = ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"]
        return joined((claim["spec"]?["accessModes"]?.array ?? []).compactMap { $0.string.map { short[$0] ?? $0 } }, empty: "")
    }

    /// The status ("True", "False", "Unknown") of a condition, or "Unknown" when it is not reported.
    static func condition(_ object: JSONValue, _ type: String) -> String {
        (object["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == type }?["status"]?.string ?? "Unknown"
    }

    static let bindingColumns: [PrinterColumn] = [
        .init("Role", .computed { "\($0["roleRef"]?["kind"]?.string ?? "")/\($0["roleRef"]?["name"]?.string ?? "")" }),
        .init("Users", .computed { subjects($0, "User") }, priority: 1), .init("Groups", .computed { subjects($0, "Group") }, priority: 1),
        .init("ServiceAccounts", .computed { subjects($0, "ServiceAccount") }, priority: 1),
    ]

    static func subjects(_ binding: JSONValue, _ kind: String) -> String {
        joined((binding["subjects"]?.array ?? []).filter { $0["kind"]?.string == kind }.map { subject in
            let name = subject["name"]?.string ?? ""
            return kind == "ServiceAccount" ? "\(subject["namespace"]?.string ?? ""):\(name)" : name
        }, empty: "")
    }

    static func selector(_ service: JSONValue) -> String {
        let pairs = (service["spec"]?["selector"]?.object ?? []).map { "\($0.key)=\($0.value.string ?? "")" }
        return pairs.isEmpty ? "<none>" : pairs.joined(separator: ",")
    }
}
