import EnvoyConfig
import Foundation
import KubeClient
import Manifests
import MeshCLIKit

/// istioctl's proxy-config, proxy-status, describe and authz cases (`proxy-config/cases.json`). Command and
/// writer cases run `meshctl` (a writer case through its `equivalentCli`); function cases call the EnvoyConfig
/// function that does the same job. Cases of commands meshctl does not have yet fail with that reason.
struct ProxyConfigCorpus {
    let root: URL

    /// The case ids in the order of cases.json.
    static func caseIDs(root: URL) throws -> [String] {
        try cases(root: root).map { $0["id"] as? String ?? "?" }
    }

    static func cases(root: URL) throws -> [[String: Any]] {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any]
        return index?["cases"] as? [[String: Any]] ?? []
    }

    /// Case id → failure reason.
    func run() throws -> [String: String] {
        var failures: [String: String] = [:]
        let cluster = ProxyConfigCluster(root: root)
        defer { cluster.stop() }
        for item in try Self.cases(root: root) {
            let id = item["id"] as? String ?? "?"
            if let problem = check(item, cluster: cluster) { failures[id] = problem }
        }
        return failures
    }

    private func check(_ item: [String: Any], cluster: ProxyConfigCluster) -> String? {
        let expected = item["expected"] as? [String: Any] ?? [:]
        let wantError = item["wantError"] as? Bool ?? false
        switch item["level"] as? String {
        case "command":
            let command = item["command"] as? String ?? ""
            if command == "proxy-status" { return checkProxyStatus(item, expected, wantError: wantError) }
            if command == "x describe" {
                let arguments = ["x", "describe"] + (item["args"] as? [String] ?? [])
                guard arguments.count > 3 else { return Self.compare(Self.meshctl(arguments, in: root), expected, wantError: wantError, root: root) }
                let result = runDescribe(arguments, env: item["env"] as? [String: Any] ?? [:])
                guard let problem = Self.compare(result, expected, wantError: wantError, root: root) else { return nil }
                // The local API defaults a Service port's protocol to TCP (as kube-apiserver does); istioctl's fake
                // clientset leaves it empty, and istioctl prints a Port line only for TCP ports.
                let withoutPortLines = result.output.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("   Port: ") }
                if withoutPortLines.joined(separator: "\n") == expected["value"] as? String {
                    return "only the Port lines differ (a defaulted TCP protocol): \(problem)"
                }
                return problem
            }
            if command == "x authz check" {
                return Self.compare(Self.meshctl(["x", "authz", "check"] + (item["args"] as? [String] ?? []), in: root), expected, wantError: wantError, root: root)
            }
            guard command == "proxy-config" else { return "meshctl has no `\(command)` yet" }
            let arguments = (item["args"] as? [String]) ?? []
            let env = item["env"] as? [String: Any] ?? [:]
            // Commands that name a pod run against the local control plane.
            let result = Self.namesAPod(arguments) ? cluster.meshctl(["proxy-config"] + arguments, env: env) : Self.meshctl(["proxy-config"] + arguments, in: root)
            return Self.compare(result, expected, wantError: wantError, root: root)
        case "writer":
            if let cli = item["equivalentCli"] as? String, cli.hasPrefix("proxy-config ") {
                let inputs = item["inputs"] as? [String] ?? []
                let arguments = cli.split(separator: " ").map(String.init).map { word in
                    // The data file names are relative to the case's input folder.
                    word.hasSuffix(".json") ? (inputs.first { $0.hasSuffix("/" + word) } ?? word) : word
                }
                return Self.compare(Self.meshctl(arguments, in: root), expected, wantError: wantError, root: root)
            }
            let function = item["function"] as? String ?? ""
            if function.hasPrefix("XdsStatusWriter"), let arguments = item["arguments"] as? [String: Any], arguments["outputFormat"] as? String == "table" {
                let text = ProxyStatusTable.render(Self.syncStatuses(arguments["csdsResponses"] as? [String: Any] ?? [:]),
                                                   verbose: (arguments["verbosity"] as? Int ?? 0) >= 1)
                return Self.compare((.success, text, text), expected, wantError: wantError, root: root)
            }
            if function.hasPrefix("XdsStatusWriter"), let arguments = item["arguments"] as? [String: Any],
               let format = arguments["outputFormat"] as? String, format == "json" || format == "yaml" {
                // Each istiod's answer in pod-name order, as the proxy-status command prints them.
                let responses = (arguments["csdsResponses"] as? [String: [[String: Any]]] ?? [:]).sorted { $0.key < $1.key }
                let text = responses.map { istiod, proxies in
                    var response = Self.csdsResponse(istiod: istiod, proxies: proxies)
                    if let namespace = arguments["namespace"] as? String { response = CSDSResponse.filtered(response, namespace: namespace) }
                    return ProxyStatusOutput.render(response, yaml: format == "yaml")
                }.joined()
                return Self.compare((.success, text, text), expected, wantError: wantError, root: root)
            }
            if function.hasPrefix("Analyzer{listenerDump}.Print"), let arguments = item["arguments"] as? [String: Any] {
                // The case's ListenersConfigDump as a saved config dump, read by `x authz check -f`.
                var section = arguments["listenerDump"] as? [String: Any] ?? [:]
                section["@type"] = "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-authz-\(UUID().uuidString).json")
                defer { try? FileManager.default.removeItem(at: file) }
                guard let data = try? JSONSerialization.data(withJSONObject: ["configs": [section]]), (try? data.write(to: file)) != nil else {
                    return "cannot write the case's listener dump to \(file.path)"
                }
                return Self.compare(Self.meshctl(["x", "authz", "check", "-f", file.path], in: root), expected, wantError: wantError, root: root)
            }
            if function.hasPrefix("NewComparator"), let arguments = item["arguments"] as? [String: Any] {
                return checkComparison(arguments, expected, wantError: wantError)
            }
            if function.hasPrefix("ConfigWriter.Prime(bytes)") {
                // An empty input is not a config dump.
                return (try? ConfigDump(text: "", source: "empty")) == nil ? nil : "an empty input was read as a config dump"
            }
            if function.contains("without Prime") {
                // meshctl has no unprimed writer: the same mistake is a command with nothing to read, a usage error.
                let result = Self.meshctl(["proxy-config", "bootstrap"] + (function.hasPrefix("PrintBootstrapSummary") ? ["-o", "short"] : []), in: root)
                return result.code == .usage ? nil : "exit \(result.code.rawValue) without a pod or file: \(result.output.prefix(200))"
            }
            return "meshctl has no equivalent of \(function.prefix(60)) yet"
        case "function":
            return checkFunction(item["function"] as? String ?? "", item["arguments"] as? [String: Any] ?? [:], expected, inputs: item["inputs"] as? [String] ?? [])
        default:
            return "unknown case level \(item["level"] ?? "?")"
        }
    }

    /// The proxies of the cases' CSDS answers (`{istiod: [{proxyID, clusterID, istioVersion, status: {CDS: ...}}]}`).
    static func syncStatuses(_ responses: [String: Any]) -> [ProxySyncStatus] {
        responses.flatMap { istiod, proxies in
            (proxies as? [[String: Any]] ?? []).map { proxy in
                let statuses = (proxy["status"] as? [String: String] ?? [:]).filter { $0.value != "UNKNOWN" }
                    .mapValues { $0.replacingOccurrences(of: "_", with: " ") }
                return ProxySyncStatus(proxyID: proxy["proxyID"] as? String ?? "", clusterID: proxy["clusterID"] as? String ?? "",
                                       istioVersion: proxy["istioVersion"] as? String ?? "", istiod: istiod, statuses: statuses)
            }
        }
    }

    /// proxy-status against a fresh local control plane with the case's istiod pods, each answering its debug
    /// port (15014) with an empty answer from a stub bound to the pod's own loopback address.
    private func checkProxyStatus(_ item: [String: Any], _ expected: [String: Any], wantError: Bool) -> String? {
        let env = item["env"] as? [String: Any] ?? [:]
        let result = runProxyStatus(item["args"] as? [String] ?? [], istiodPods: env["istiodPods"] as? [[String: Any]] ?? []) { _ in "{}" }
        return Self.compare(result, expected, wantError: wantError, root: root)
    }

    /// The comparator cases as `proxy-status POD --file ENVOY_DUMP`: one istiod pod answers
    /// `/debug/config_dump?proxyID=POD.NS` with the case's istiod config dump, through the local API's pod proxy.
    private func checkComparison(_ arguments: [String: Any], _ expected: [String: Any], wantError: Bool) -> String? {
        let istiodFile = (arguments["istiodConfigDumps"] as? [String: String])?.values.first ?? ""
        guard let istiodDump = try? String(contentsOf: root.appendingPathComponent(istiodFile), encoding: .utf8),
              let envoyFile = arguments["envoyConfigDump"] as? String else { return "the case's config dumps are unreadable" }
        let istiod: [String: Any] = ["name": "istiod-0", "namespace": "istio-system", "labels": ["app": "istiod"], "phase": "Running"]
        let result = runProxyStatus(["productpage.default", "--file", envoyFile], istiodPods: [istiod], sidecarPod: "productpage") { path in
            path.hasPrefix("debug/config_dump?proxyID=productpage.default") ? istiodDump : nil
        }
        return Self.compare(result, expected, wantError: wantError, root: root)
    }

    /// Runs `meshctl proxy-status ARGUMENTS` against a fresh local control plane holding the istiod pods (each with a
    /// stub on its own loopback address, port 15014, answering `answer(path)` or 404) and, if named, a running
    /// pod with an istio-proxy container in namespace default.
    private func runProxyStatus(_ arguments: [String], istiodPods: [[String: Any]], sidecarPod: String? = nil,
                                answer: @escaping @Sendable (String) -> String?) -> (code: ExitCode, stdout: String, output: String) {
        withLocalCluster("proxy-status") { cluster, client, stubs in
            for (index, pod) in istiodPods.enumerated() {
                let address = "127.42.\(Int.random(in: 1...250)).\(index + 1)"
                let stub = try EnvoyAdminStub(host: address, port: 15014) { _, path in answer(path).map { (200, $0) } }
                stubs.append(stub)
                let namespace = pod["namespace"] as? String ?? "istio-system"
                _ = try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string(namespace))]))]))
                let labels = (pod["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }
                try client.send("POST", "/api/v1/namespaces/\(namespace)/pods", body: .object([
                    ("apiVersion", .string("v1")), ("kind", .string("Pod")),
                    ("metadata", .object([("name", .string(pod["name"] as? String ?? "istiod")), ("namespace", .string(namespace)), ("labels", .object(labels))])),
                    ("spec", .object([("containers", .array([.object([("name", .string("discovery")), ("image", .string("pilot"))])]))])),
                    ("status", .object([("phase", .string(pod["phase"] as? String ?? "Running")), ("podIP", .string(address))])),
                ]))
            }
            if let sidecarPod {
                let containers: JSONValue = .array([.object([("name", .string("app")), ("image", .string("app"))]),
                                                    .object([("name", .string("istio-proxy")), ("image", .string("proxyv2"))])])
                try client.send("POST", "/api/v1/namespaces/default/pods", body: .object([
                    ("apiVersion", .string("v1")), ("kind", .string("Pod")),
                    ("metadata", .object([("name", .string(sidecarPod)), ("namespace", .string("default"))])),
                    ("spec", .object([("containers", containers)])),
                    ("status", .object([("phase", .string("Running")), ("podIP", .string("127.0.0.1"))])),
                ]))
            }
            return Self.meshctl(["proxy-status"] + arguments, in: root, variables: cluster.variables)
        }
    }

    /// Runs `body` against a fresh local control plane and a client of it; the stubs it starts stop with the cluster.
    private func withLocalCluster(_ what: String, _ body: (AnalyzeCommandCases.LocalCluster, KubernetesClient, inout [EnvoyAdminStub]) throws
        -> (code: ExitCode, stdout: String, output: String)) -> (code: ExitCode, stdout: String, output: String) {
        var stubs: [EnvoyAdminStub] = []
        do {
            let cluster = try AnalyzeCommandCases.LocalCluster()
            defer {
                for stub in stubs { stub.stop() }
                cluster.stop()
            }
            let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: cluster.variables)))
            return try body(cluster, client, &stubs)
        } catch {
            return (.failure, "", "the local control plane for the \(what) case did not start: \(error)")
        }
    }

    /// The CSDS answer of one istiod in the cases' shape (`harness.csdsResponses`): a DiscoveryResponse with one
    /// ClientConfig per proxy.
    static func csdsResponse(istiod: String, proxies: [[String: Any]]) -> JSONValue {
        let typeNames = [("CDS", "envoy.config.cluster.v3.Cluster"), ("LDS", "envoy.config.listener.v3.Listener"),
                         ("RDS", "envoy.config.route.v3.RouteConfiguration"), ("EDS", "envoy.config.endpoint.v3.ClusterLoadAssignment"),
                         ("ECDS", "envoy.config.core.v3.TypedExtensionConfig")]
        let configs: [JSONValue] = proxies.map { proxy in
            var metadata: [(key: String, value: JSONValue)] = [("CLUSTER_ID", .string(proxy["clusterID"] as? String ?? "")),
                                                              ("ISTIO_VERSION", .string(proxy["istioVersion"] as? String ?? ""))]
            if let namespace = proxy["namespace"] as? String { metadata.append(("NAMESPACE", .string(namespace))) }
            let status = proxy["status"] as? [String: String] ?? [:]
            let xds: [JSONValue] = typeNames.map { name, type in
                var entry: [(key: String, value: JSONValue)] = [("typeUrl", .string("type.googleapis.com/" + type))]
                // UNKNOWN is the enum's zero value, which protobuf's JSON leaves out.
                if let value = status[name], value != "UNKNOWN" { entry.append(("configStatus", .string(value))) }
                return .object(entry)
            }
            return .object([("@type", .string(CSDSResponse.clientConfigType)),
                            ("node", .object([("id", .string(proxy["proxyID"] as? String ?? "")), ("metadata", .object(metadata))])),
                            ("genericXdsConfigs", .array(xds))])
        }
        let identifier = #"{"Component":"istiod","ID":"\#(istiod)","Info":{"version":"1.1","revision":"","golang_version":"","status":"","tag":""}}"#
        return .object([("versionInfo", .string("1.1")), ("resources", .array(configs)), ("typeUrl", .string(CSDSResponse.clientConfigType)),
                        ("controlPlane", .object([("identifier", .string(identifier))]))])
    }

    /// `x describe` against a fresh local control plane holding the case's Kubernetes and Istio objects; each pod
    /// of `fakeAdminResponses` gets a stub admin port on its own loopback address (its status.podIP), all on one
    /// port number, which the command gets as --proxy-admin-port. Containers get an image (kube-apiserver requires
    /// one; istioctl's fake clientset does not).
    private func runDescribe(_ arguments: [String], env: [String: Any]) -> (code: ExitCode, stdout: String, output: String) {
        withLocalCluster("describe") { cluster, client, stubs in
            let responses = env["fakeAdminResponses"] as? [String: [String: String]] ?? [:]
            let network = Int.random(in: 1...250)
            var adminPort = 0
            let objects = (env["k8sObjects"] as? [[String: Any]] ?? []) + (env["istioObjects"] as? [[String: Any]] ?? [])
            for (index, object) in objects.enumerated() {
                var value = try JSONValue.parse(String(decoding: JSONSerialization.data(withJSONObject: object), as: UTF8.self))
                let kind = value["kind"]?.string ?? "", namespace = value["metadata"]?["namespace"]?.string ?? "default"
                _ = try? client.send("POST", "/api/v1/namespaces", body: .object([("metadata", .object([("name", .string(namespace))]))]))
                if kind == "Pod", let name = value["metadata"]?["name"]?.string, let response = responses[name] {
                    let body = try response["literal"] ?? String(contentsOf: root.appendingPathComponent(response["file"] ?? ""), encoding: .utf8)
                    let address = "127.43.\(network).\(index + 1)"
                    let stub = try EnvoyAdminStub(host: address, port: adminPort) { _, _ in (200, body) }
                    adminPort = stub.port
                    stubs.append(stub)
                    value["status"]?["podIP"] = .string(address)
                }
                if kind == "Pod", let containers = value["spec"]?["containers"]?.array {
                    value["spec"]?["containers"] = .array(containers.map { container in
                        var container = container
                        if container["image"] == nil { container["image"] = .string(container["name"]?.string ?? "app") }
                        return container
                    })
                }
                let plural = ["Pod": "pods", "Service": "services", "VirtualService": "virtualservices", "DestinationRule": "destinationrules",
                              "Gateway": "gateways", "PeerAuthentication": "peerauthentications"][kind] ?? kind.lowercased() + "s"
                let group = value["apiVersion"]?.string.map { $0 == "v1" ? "/api/v1" : "/apis/" + $0 } ?? "/api/v1"
                try client.send("POST", "\(group)/namespaces/\(namespace)/\(plural)", body: value)
            }
            return Self.meshctl(arguments + ["--proxy-admin-port", String(adminPort == 0 ? 15000 : adminPort)], in: root, variables: cluster.variables)
        }
    }

    /// Arguments that name a pod (not only flags and a subcommand).
    static func namesAPod(_ arguments: [String]) -> Bool {
        arguments.count >= 2 && !arguments[1].hasPrefix("-") && !arguments[1].contains("/")
    }

    private func checkFunction(_ function: String, _ arguments: [String: Any], _ expected: [String: Any], inputs: [String]) -> String? {
        if function.hasPrefix("ListenerFilter") {
            let filter = arguments["filter"] as? [String: Any] ?? [:]
            let listenerData = (try? JSONSerialization.data(withJSONObject: arguments["listener"] ?? [:])) ?? Data("{}".utf8)
            let listener = Listener(json: (try? JSONValue.parse(String(decoding: listenerData, as: UTF8.self))) ?? .object([]))
            let accepts = ListenerFilter(address: filter["address"] as? String ?? "", port: filter["port"] as? Int ?? 0,
                                         type: filter["type"] as? String ?? "").accepts(listener)
            return accepts == expected["value"] as? Bool ? nil : "accepts: \(accepts), istioctl: \(expected["value"] ?? "?")"
        }
        if function.hasPrefix("describeRouteDomains") {
            let text = VirtualHost.describeDomains(arguments["domains"] as? [String] ?? [])
            return text == expected["value"] as? String ? nil : "\"\(text)\", istioctl: \"\(expected["value"] ?? "?")\""
        }
        if function.hasPrefix("GetRevisionFromPodAnnotation") {
            let revision = WorkloadFacts.revision(annotations: arguments["annotations"] as? [String: String] ?? [:])
            return revision == expected["value"] as? String ? nil : "\"\(revision)\", istioctl: \"\(expected["value"] ?? "?")\""
        }
        if function.hasPrefix("findProtocolForPort") {
            let port = (try? JSONValue.parse(String(decoding: JSONSerialization.data(withJSONObject: arguments["servicePort"] ?? [:]), as: UTF8.self))) ?? .null
            let name = WorkloadFacts.protocolName(port)
            return name == expected["value"] as? String ? nil : "\"\(name)\", istioctl: \"\(expected["value"] ?? "?")\""
        }
        if function.hasPrefix("getIstioVirtualServicePathForSvcFromRoute") {
            let metadata = (arguments["service"] as? [String: Any])?["metadata"] as? [String: Any] ?? [:]
            guard let input = inputs.first, let text = try? String(contentsOf: root.appendingPathComponent(input), encoding: .utf8),
                  let dump = try? ConfigDump(text: text, source: input) else { return "input unreadable" }
            let path = dump.virtualServicePath(service: metadata["name"] as? String ?? "", namespace: metadata["namespace"] as? String ?? "",
                                               port: arguments["port"] as? Int ?? 0)
            return path == expected["value"] as? String ? nil : "\"\(path)\", istioctl: \"\(expected["value"] ?? "?")\""
        }
        if function.hasPrefix("writeMulticlusterStatus") {
            let answers = arguments["input"] as? [String: String] ?? [:], revisions = arguments["istiodRevisionMap"] as? [String: String] ?? [:]
            do {
                let text = try RemoteClustersTable.render(answers: answers, revisions: revisions)
                if expected["kind"] as? String == "error" { return "no error, istioctl fails" }
                return text == expected["value"] as? String ? nil : "output differs from istioctl's: \(Self.firstDifference(text, expected["value"] as? String ?? ""))"
            } catch {
                return expected["kind"] as? String == "error" ? nil : "error \"\(error.description)\", istioctl prints a table"
            }
        }
        if function.hasPrefix("checkRootCACertMatchExist") {
            return checkRootCAs(arguments, expected)
        }
        return "meshctl has no equivalent of \(function.prefix(60)) yet"
    }

    /// rootca-compare's test: Istio makes two self-signed certificates A and B at test time; the two certificates
    /// of the envoy-admin sample's secrets (its root CA and its workload certificate) play them here.
    private func checkRootCAs(_ arguments: [String: Any], _ expected: [String: Any]) -> String? {
        let samples = root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("envoy-admin/config_dump.json")
        guard let text = try? String(contentsOf: samples, encoding: .utf8), let dump = try? ConfigDump(text: text, source: samples.path),
              let secrets = try? dump.secrets(), secrets.count == 2,
              let a = secrets[1].certificates.first?.pem, let b = secrets[0].certificates.first?.pem else {
            return "the envoy-admin sample's two certificates are not readable at \(samples.path)"
        }
        func pem(_ text: String) -> String {
            switch text {
            case "PEM(A)": return a
            case "PEM(B)": return b
            case "PEM(A)+PEM(B)": return a + b
            default: return text.hasPrefix("the bytes '") ? String(text.dropFirst("the bytes '".count).dropLast()) : text
            }
        }
        do {
            let shared = try CertificateFacts.shareACertificate(pem(arguments["rootCAPod1"] as? String ?? ""), pem(arguments["rootCAPod2"] as? String ?? ""))
            if let error = expected["error"] as? String { return "no error, istioctl's is \"\(error)\"" }
            return shared == expected["match"] as? Bool ? nil : "match: \(shared), istioctl: \(expected["match"] ?? "?")"
        } catch {
            let wanted = expected["error"] as? String
            return wanted == error.description ? nil : "error \"\(error.description)\", istioctl: \(wanted.map { "\"\($0)\"" } ?? "no error")"
        }
    }

    /// What differs between a run and the case's expectation; nil when nothing does.
    static func compare(_ result: (code: ExitCode, stdout: String, output: String), _ expected: [String: Any], wantError: Bool, root: URL) -> String? {
        if wantError != (result.code != .success) {
            return "exit \(result.code.rawValue), istioctl \(wantError ? "fails" : "succeeds"): \(result.output.prefix(300))"
        }
        let shown = expected["stream"] as? String == "stdout" || expected["kind"] as? String == "golden" ? result.stdout : result.output
        switch expected["kind"] as? String {
        case "substring":
            let value = expected["value"] as? String ?? ""
            // cobra labels errors "Error: ", meshctl "error: " (as kubectl does); the message after it is compared.
            let message = value.hasPrefix("Error: ") ? "error: " + value.dropFirst("Error: ".count) : value
            return shown.contains(value) || shown.contains(message) ? nil : "output lacks \"\(value)\": \(shown.prefix(300))"
        case "substrings":
            let missing = (expected["values"] as? [String] ?? []).filter { !shown.contains($0) }
            let present = (expected["absent"] as? [String] ?? []).filter { shown.contains($0) }
            return missing.isEmpty && present.isEmpty ? nil : "lacks \(missing), has \(present)"
        case "exactString":
            let value = expected["value"] as? String ?? ""
            return shown == value ? nil : "output differs from istioctl's: \(firstDifference(shown, value)), \(shown.split(separator: "\n").count) lines against \(value.split(separator: "\n").count)"
        case "golden":
            guard let file = expected["file"] as? String,
                  let golden = try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) else { return "golden unreadable" }
            let same = expected["compare"] as? String == "exact" ? shown == golden : shown.trimmed == golden.trimmed
            return same ? nil : "differs from \(file): \(firstDifference(shown, golden))"
        case "none", "error":
            return nil
        default:
            return "unknown expectation \(expected["kind"] ?? "?")"
        }
    }

    /// The first line that differs, both ways.
    static func firstDifference(_ actual: String, _ expected: String) -> String {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false), b = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? String(a[index]) : "<end>", y = index < b.count ? String(b[index]) : "<end>"
            if x != y { return "line \(index + 1): \"\(x.prefix(120))\" vs \"\(y.prefix(120))\"" }
        }
        return "whitespace at the ends"
    }

    /// Runs meshctl in-process; without variables, with no kubeconfig (cases that reach for a cluster have none).
    static func meshctl(_ arguments: [String], in directory: URL, variables: [String: String] = [:]) -> (code: ExitCode, stdout: String, output: String) {
        AnalyzeCommandCases.meshctl(arguments, in: directory, variables: variables.isEmpty ? ["KUBECONFIG": "/nonexistent/meshctl-conformance"] : variables,
                                    command: [])
    }
}

/// The cluster of the command cases: meshctl's local control plane, started on first use, with one pod (running
/// istio-proxy, status.podIP 127.0.0.1) per name in the case's `fakeAdminResponses`, each backed by an
/// `EnvoyAdminStub` that answers every request with that body. The case's command gets `--proxy-admin-port` of its pod.
final class ProxyConfigCluster {
    let root: URL
    private var cluster: AnalyzeCommandCases.LocalCluster?
    private var stubs: [String: EnvoyAdminStub] = [:]

    init(root: URL) { self.root = root }

    func meshctl(_ arguments: [String], env: [String: Any]) -> (code: ExitCode, stdout: String, output: String) {
        do {
            let cluster = try started()
            var arguments = arguments
            let responses = env["fakeAdminResponses"] as? [String: Any] ?? [:]
            try prepare(responses, namespace: env["namespace"] as? String ?? "default", in: cluster)
            if arguments.count > 2, let stub = stubs[arguments[2].split(separator: ".").first.map(String.init) ?? ""] {
                arguments += ["--proxy-admin-port", String(stub.port)]
            }
            return ProxyConfigCorpus.meshctl(arguments, in: root, variables: cluster.variables)
        } catch {
            return (.failure, "", "the local control plane for the proxy-config cases did not start: \(error)")
        }
    }

    private func started() throws -> AnalyzeCommandCases.LocalCluster {
        if let cluster { return cluster }
        let started = try AnalyzeCommandCases.LocalCluster()
        cluster = started
        return started
    }

    /// Pods and admin stubs for the responses not made yet.
    private func prepare(_ responses: [String: Any], namespace: String, in cluster: AnalyzeCommandCases.LocalCluster) throws {
        let client = try KubernetesClient(access: try Kubeconfig.resolve(Kubeconfig.Options(variables: cluster.variables)))
        for (pod, response) in responses.sorted(by: { $0.key < $1.key }) where stubs[pod] == nil {
            let source = response as? [String: Any] ?? [:]
            let body = try (source["literal"] as? String)
                ?? String(contentsOf: root.appendingPathComponent(source["file"] as? String ?? ""), encoding: .utf8)
            stubs[pod] = try EnvoyAdminStub { _, _ in (200, body) }
            let containers: JSONValue = .array([.object([("name", .string("app")), ("image", .string("app"))]),
                                                .object([("name", .string("istio-proxy")), ("image", .string("proxyv2"))])])
            try client.send("POST", "/api/v1/namespaces/\(namespace)/pods", body: .object([
                ("apiVersion", .string("v1")), ("kind", .string("Pod")),
                ("metadata", .object([("name", .string(pod)), ("namespace", .string(namespace))])),
                ("spec", .object([("containers", containers)])),
                ("status", .object([("phase", .string("Running")), ("podIP", .string("127.0.0.1"))])),
            ]))
        }
    }

    func stop() {
        for stub in stubs.values { stub.stop() }
        cluster?.stop()
    }
}
