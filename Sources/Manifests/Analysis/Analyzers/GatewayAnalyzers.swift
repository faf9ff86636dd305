/// The port numbers and hosts of a Gateway's servers; servers without a valid port are left out.
private func servers(_ gateway: AnalyzedResource) -> [(port: Int, hosts: [String])] {
    (gateway.spec?["servers"]?.items ?? []).compactMap { server in
        guard let port = server["port"]?["number"]?.int, (1...65535).contains(port) else { return nil }
        let hosts = (server["hosts"]?.items ?? []).compactMap(\.scalarText).map { host in
            host.split(separator: "/", maxSplits: 1).map(String.init).last ?? host
        }
        return (port, hosts)
    }
}

/// Istio's default ingress gateway, assumed (as Istio's analyzers do) for a Gateway that selects
/// `istio: ingressgateway` when no such pod is among the inputs: it runs in the istio namespace and its
/// Service exposes the ports of a default installation.
enum DefaultIngressGateway {
    static let selector = ["istio": "ingressgateway"]
    static let servicePorts: Set<Int> = [80, 443, 15021]

    static func isSelected(by gatewaySelector: [String: String]) -> Bool { gatewaySelector == selector }
}

/// A Gateway's selector must match gateway pods (IST0101), and a Service of those pods must expose
/// each server port (IST0162).
struct IngressGatewayPortAnalyzer: Analyzer {
    let name = "gateway.IngressGatewayPortAnalyzer"
    let summary = "Checks that a Gateway's selector matches gateway pods and their Service exposes its ports (needs pods: on files, only with --analyzer)"
    let needsRunningPods = true

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let pods = input.resources("Pod", group: "")
        let services = input.resources("Service", group: "")
        var messages: [AnalysisMessage] = []
        for gateway in input.resources("Gateway", group: "networking.istio.io") {
            let selector = AnalyzedResource.stringMap(gateway.spec?["selector"])
            let matched = pods.filter { $0.isSelected(by: selector) }
            var exposed: Set<Int> = []
            if matched.isEmpty {
                guard DefaultIngressGateway.isSelected(by: selector) else {
                    messages.append(.referencedResourceNotFound(gateway, .selector(LabelSelector.text(selector)), at: gateway.spec?["selector"]))
                    continue
                }
                exposed = DefaultIngressGateway.servicePorts
            }
            for service in services {
                let serviceSelector = AnalyzedResource.stringMap(service.spec?["selector"])
                guard matched.contains(where: { $0.namespaceOrEmpty == service.namespaceOrEmpty && $0.isSelected(by: serviceSelector) }) else { continue }
                for port in service.spec?["ports"]?.items ?? [] {
                    if let number = port["port"]?.int { exposed.insert(number) }
                    if let target = port["targetPort"]?.int { exposed.insert(target) }
                }
            }
            for server in gateway.spec?["servers"]?.items ?? [] {
                guard let portNode = server["port"]?["number"], let port = portNode.int, !exposed.contains(port) else { continue }
                messages.append(.gatewayPortNotDefinedOnService(gateway, port: port, selector: LabelSelector.text(selector), at: portNode))
            }
        }
        return messages
    }
}

/// Gateways for the same workloads must not claim the same port and host (IST0145): one of them
/// would silently lose.
struct ConflictingGatewayAnalyzer: Analyzer {
    let name = "gateway.ConflictingGatewayAnalyzer"
    let summary = "Checks that Gateways selecting the same workloads do not claim the same port and hosts"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let gateways = input.resources("Gateway", group: "networking.istio.io")
        let selectors = gateways.map { AnalyzedResource.stringMap($0.spec?["selector"]) }
        let claims = gateways.map(servers)
        var messages: [AnalysisMessage] = []
        for (index, gateway) in gateways.enumerated() {
            var conflicts: [(gateway: AnalyzedResource, port: Int, hosts: [String])] = []
            for other in gateways.indices where other != index {
                // Selectors overlap when one is contained in the other: some pod can carry both.
                let a = selectors[index], b = selectors[other]
                guard a.allSatisfy({ b[$0.key] == $0.value }) || b.allSatisfy({ a[$0.key] == $0.value }) else { continue }
                for mine in claims[index] {
                    for theirs in claims[other] where theirs.port == mine.port {
                        let shared = mine.hosts.filter { host in theirs.hosts.contains { HostNames.overlap(host, $0) } }
                        if !shared.isEmpty && !conflicts.contains(where: { $0.gateway.origin == gateways[other].origin }) {
                            conflicts.append((gateways[other], mine.port, shared))
                        }
                    }
                }
            }
            guard let first = conflicts.first else { continue }
            messages.append(.conflictingGateways(gateway, others: conflicts.map(\.gateway), selector: LabelSelector.text(selectors[index]),
                                                 port: first.port, hosts: first.hosts, at: gateway.spec?["servers"]))
        }
        return messages
    }
}

/// Gateways serving the same certificate to overlapping workloads: HTTP/2 clients may reuse a connection
/// for the other gateway's hosts and get 404s (IST0138). Reported on the gateway whose selector is the
/// wider (or equal) one.
struct GatewayCertificateAnalyzer: Analyzer {
    let name = "gateway.CertificateAnalyzer"
    let summary = "Checks that Gateways on the same workloads do not serve the same certificate"

    /// The certificates a Gateway's TLS servers serve: a credentialName, or a certificate and key pair.
    static func certificates(_ gateway: AnalyzedResource) -> Set<String> {
        var found: Set<String> = []
        for server in gateway.spec?["servers"]?.items ?? [] {
            guard let tls = server["tls"] else { continue }
            if let credential = tls["credentialName"]?.scalarText, !credential.isEmpty {
                found.insert("credential:\(credential)")
            } else if let certificate = tls["serverCertificate"]?.scalarText, let key = tls["privateKey"]?.scalarText {
                found.insert("files:\(certificate)|\(key)")
            }
        }
        return found
    }

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let gateways = input.resources("Gateway", group: "networking.istio.io")
        let selectors = gateways.map { AnalyzedResource.stringMap($0.spec?["selector"]) }
        let certificates = gateways.map(Self.certificates)
        var messages: [AnalysisMessage] = []
        for index in gateways.indices {
            let sharing = gateways.indices.filter { other in
                other != index && !certificates[index].isDisjoint(with: certificates[other])
                    && selectors[index].allSatisfy { selectors[other][$0.key] == $0.value }
            }
            guard !sharing.isEmpty else { continue }
            messages.append(.gatewayDuplicateCertificate(gateways[index], gateways: ([index] + sharing).map { gateways[$0] }))
        }
        return messages
    }
}

/// Policies that pick a Kubernetes Gateway's pods with a selector instead of targetRef: Istio ignores the
/// selector for those pods (IST0166).
struct KubernetesGatewaySelectorAnalyzer: Analyzer {
    let name = "k8sgateway.SelectorAnalyzer"
    let reportsSelectorsWithoutPods = true
    let summary = "Checks that policies for Kubernetes Gateway pods use targetRef rather than a selector (needs pods: on files, only with --analyzer)"
    let needsRunningPods = true

    static let policyKinds = [("RequestAuthentication", "security.istio.io"), ("AuthorizationPolicy", "security.istio.io"),
                              ("WasmPlugin", "extensions.istio.io"), ("Telemetry", "telemetry.istio.io")]

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let gatewayPods = input.resources("Pod", group: "").filter { $0.labels["gateway.networking.k8s.io/gateway-name"] != nil }
        var messages: [AnalysisMessage] = []
        for (kind, group) in Self.policyKinds {
            for policy in input.resources(kind, group: group) {
                guard policy.spec?["targetRef"] == nil, policy.spec?["targetRefs"] == nil, let selectorNode = policy.spec?["selector"] else { continue }
                let selector = AnalyzedResource.stringMap(selectorNode["matchLabels"])
                guard let pod = gatewayPods.first(where: { $0.namespaceOrEmpty == policy.namespaceOrEmpty && $0.isSelected(by: selector) }) else {
                    continue
                }
                let gateway = pod.labels["gateway.networking.k8s.io/gateway-name"]!
                messages.append(.ineffectiveSelector(policy, gateway: gateway, at: selectorNode))
            }
        }
        return messages
    }
}

/// The secrets a Gateway's TLS servers name must exist where its pods run (IST0101); a Gateway whose
/// selector matches no pod is reported instead.
struct GatewaySecretAnalyzer: Analyzer {
    let name = "gateway.SecretAnalyzer"
    let summary = "Checks that the credentialName secrets of Gateways exist in the gateway pods' namespace (needs pods: on files, only with --analyzer)"
    let needsRunningPods = true

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let pods = input.resources("Pod", group: "")
        var messages: [AnalysisMessage] = []
        for gateway in input.resources("Gateway", group: "networking.istio.io") {
            let credentials = (gateway.spec?["servers"]?.items ?? []).compactMap { $0["tls"]?["credentialName"] }
                .filter { !($0.scalarText ?? "").isEmpty }
            guard !credentials.isEmpty else { continue }
            let selector = AnalyzedResource.stringMap(gateway.spec?["selector"])
            let namespace: String
            if let pod = pods.first(where: { $0.isSelected(by: selector) }) {
                namespace = pod.namespaceOrEmpty
            } else if DefaultIngressGateway.isSelected(by: selector) {
                namespace = input.istioNamespace
            } else {
                messages.append(.referencedResourceNotFound(gateway, .selector(LabelSelector.text(selector)), at: gateway.spec?["selector"]))
                continue
            }
            for credential in credentials {
                let name = credential.scalarText!
                guard let secret = input.resource("Secret", namespace: namespace, name: name) else {
                    messages.append(.referencedResourceNotFound(gateway, .credential(namespace: namespace, name: name), at: credential))
                    continue
                }
                if let problem = Self.credentialProblem(secret, input.credentials) {
                    messages.append(.invalidGatewayCredential(gateway, namespace: namespace, name: name, problem: problem, at: credential))
                }
            }
        }
        return messages
    }

    /// Why a gateway cannot serve the secret's certificate: the key pair Istio reads (`tls.crt`/`tls.key`, or
    /// `cert`/`key`) is missing, or the inspector rejects it. Nil when it is fine or there is no inspector.
    static func credentialProblem(_ secret: AnalyzedResource, _ inspector: (any CredentialInspector)?) -> String? {
        func bytes(_ key: String) -> [UInt8]? {
            if let text = secret.node["data"]?[key]?.scalarText { return Base64.decode(text) ?? [] }
            return secret.node["stringData"]?[key]?.scalarText.map { Array($0.utf8) }
        }
        let pairs = [("tls.crt", "tls.key"), ("cert", "key")]
        guard let (certificateKey, keyKey) = pairs.first(where: { bytes($0.0) != nil && bytes($0.1) != nil }) else {
            let present = ((secret.node["data"]?.pairs ?? []) + (secret.node["stringData"]?.pairs ?? [])).compactMap(\.key.scalarText)
            return "needs the keys tls.crt and tls.key (or cert and key), but has " + (present.isEmpty ? "none" : present.joined(separator: ", "))
        }
        guard let inspector, let problem = inspector.problem(certificatePEM: bytes(certificateKey)!, keyPEM: bytes(keyKey)!) else { return nil }
        return "holds an unusable \(certificateKey)/\(keyKey) pair: \(problem)"
    }
}

/// Gateway API CRDs installed from a bundle older than the one that first serves the version Istio reads for
/// that kind (IST0176): Istio then ignores every resource of the kind.
struct GatewayAPICRDVersionAnalyzer: Analyzer {
    let name = "k8sgateway.CRDVersionAnalyzer"
    let summary = "Checks that Gateway API CRDs are at least the bundle version whose API version Istio reads"

    /// Kind → (the API version Istio reads, the first Gateway API bundle that serves it).
    static let minimums: [String: (apiVersion: String, bundle: String)] = [
        "GatewayClass": ("v1", "v1.0.0"),
        "Gateway": ("v1", "v1.0.0"),
        "HTTPRoute": ("v1", "v1.0.0"),
        "GRPCRoute": ("v1", "v1.1.0"),
        "TLSRoute": ("v1", "v1.5.0"),
    ]

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for crd in input.resources("CustomResourceDefinition", group: "apiextensions.k8s.io") {
            guard crd.spec?["group"]?.scalarText == "gateway.networking.k8s.io",
                  let kind = crd.spec?["names"]?["kind"]?.scalarText, let minimum = Self.minimums[kind],
                  let installed = crd.annotations["gateway.networking.k8s.io/bundle-version"],
                  let installedNumbers = Self.numbers(installed), let minimumNumbers = Self.numbers(minimum.bundle),
                  installedNumbers.lexicographicallyPrecedes(minimumNumbers) else { continue }
            messages.append(.gatewayAPICRDVersionBelowMinimum(crd, installed: installed, minimum: minimum.bundle, kind: kind,
                                                              apiVersion: minimum.apiVersion))
        }
        return messages
    }

    /// `v1.4.1` → [1, 4, 1]; pre-release suffixes (`-rc.1`) are ignored.
    static func numbers(_ version: String) -> [Int]? {
        let core = version.drop { $0 == "v" }.split(separator: "-").first ?? ""
        let parts = core.split(separator: ".").map { Int($0) }
        guard !parts.isEmpty, !parts.contains(nil) else { return nil }
        return parts.map { $0! } + Array(repeating: 0, count: max(0, 3 - parts.count))
    }
}
