import ConfigValues
import LocalPods

/// What a local sidecar is, read from the injected `istio-proxy` container's args (`proxy sidecar|router ...`) and
/// environment as the kubelet gives it: the pod, its addresses, the pilot's address and the node metadata.
public struct SidecarSettings: Sendable {
    public enum Problem: Error, CustomStringConvertible, Sendable {
        case usage(String)
        case environment(String)

        public var description: String {
            switch self {
            case .usage(let text), .environment(let text): return text
            }
        }
    }

    /// `sidecar` or `router` (a gateway), as the first argument after `proxy` says.
    public var kind: String
    public var podName: String
    public var namespace: String
    /// The pod IP: every listener of the sidecar binds it.
    public var podIP: String
    /// The application containers' address (127.11.x.y), which the inbound clusters connect to.
    public var applicationIP: String
    /// `127.0.0.1:PORT` of the pilot's xDS and debug server.
    public var pilot: String
    public var serviceAccount: String
    /// `--domain` (`NS.svc.cluster.local`).
    public var domain: String
    /// Envoy's node metadata, with Istio's keys (`NAME`, `NAMESPACE`, `LABELS`, `INSTANCE_IPS`, `CLUSTER_ID`, ...).
    public var metadata: JSONValue
    /// The app probes the injector moved to the agent (`ISTIO_KUBE_APP_PROBERS`), by path on port 15020.
    public var appProbers: [String: JSONValue]
    /// Where the bootstrap is written: the pod's folder in the state directory.
    public var directory: String

    public static let adminPort = 15000
    public static let agentPort = 15020
    public static let healthPort = 15021
    public static let prometheusPort = 15090

    /// The node id Istio gives this proxy: `sidecar~POD_IP~POD.NS~NS.svc.cluster.local`.
    public var nodeID: String { "\(kind)~\(podIP)~\(podName).\(namespace)~\(namespace).svc.cluster.local" }

    /// Reads `arguments` (after `meshctl x sidecar`) and `environment`; what is missing or wrong is named.
    public init(arguments: [String], environment: [String: String]) throws(Problem) {
        guard arguments.first == "proxy" else {
            throw .usage("expected the istio-proxy container's arguments, `proxy sidecar|router [flags]`, not \"\(arguments.joined(separator: " "))\"")
        }
        kind = arguments.count > 1 ? arguments[1] : "sidecar"
        guard kind == "sidecar" || kind == "router" else { throw .usage("proxy \(kind): the proxy type is sidecar or router") }
        var domain: String?
        var index = 2
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--domain", index + 1 < arguments.count { domain = arguments[index + 1]; index += 2; continue }
            if argument.hasPrefix("--domain=") { domain = String(argument.dropFirst("--domain=".count)) }
            index += 1
        }
        func required(_ name: String) throws(Problem) -> String {
            guard let value = environment[name], !value.isEmpty else { throw .environment("\(name) is not set: local mode's kubelet sets it for istio-proxy containers") }
            return value
        }
        podName = try required("POD_NAME")
        namespace = try required("POD_NAMESPACE")
        if let instance = environment["INSTANCE_IP"], !instance.isEmpty { podIP = instance } else { podIP = try required("POD_IP") }
        guard IPAddress.isLoopback(podIP) else { throw .environment("the pod IP \(podIP) is not a loopback address: local mode's pods live in 127.0.0.0/8") }
        applicationIP = SidecarAddresses.application(podIP: podIP) ?? podIP
        pilot = try required("MESHCTL_PILOT")
        serviceAccount = environment["SERVICE_ACCOUNT"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        self.domain = domain ?? "\(namespace).svc.cluster.local"
        directory = environment["MESHCTL_POD_DIRECTORY"] ?? "."
        if let text = environment["ISTIO_KUBE_APP_PROBERS"], !text.isEmpty {
            guard let probers = (try? JSONValue.parse(text))?.object else {
                throw .environment("ISTIO_KUBE_APP_PROBERS is not a JSON object of probes by path: \(text.prefix(80))")
            }
            appProbers = Dictionary(probers.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        } else {
            appProbers = [:]
        }
        metadata = Self.metadata(environment: environment, podName: podName, namespace: namespace, podIP: podIP, serviceAccount: serviceAccount)
    }

    /// Istio's node metadata: every `ISTIO_META_NAME=value` as `NAME`, every `ISTIO_METAJSON_NAME=json` as `NAME`'s
    /// JSON value, and the pod's own facts.
    static func metadata(environment: [String: String], podName: String, namespace: String, podIP: String, serviceAccount: String) -> JSONValue {
        var pairs: [(key: String, value: JSONValue)] = [
            ("NAME", .string(podName)), ("NAMESPACE", .string(namespace)), ("INSTANCE_IPS", .string(podIP)),
            ("SERVICE_ACCOUNT", .string(serviceAccount)), ("ISTIO_VERSION", .string("meshctl")),
        ]
        func set(_ key: String, _ value: JSONValue) {
            if let index = pairs.firstIndex(where: { $0.key == key }) { pairs[index].value = value } else { pairs.append((key, value)) }
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            if name.hasPrefix("ISTIO_METAJSON_") {
                if let parsed = try? JSONValue.parse(value) { set(String(name.dropFirst("ISTIO_METAJSON_".count)), parsed) }
            } else if name.hasPrefix("ISTIO_META_") {
                set(String(name.dropFirst("ISTIO_META_".count)), .string(value))
            }
        }
        if let config = environment["PROXY_CONFIG"].flatMap({ try? JSONValue.parse($0) }) { set("PROXY_CONFIG", config) }
        return .object(pairs)
    }
}
