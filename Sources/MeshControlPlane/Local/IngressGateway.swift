import Foundation
import Manifests

/// Where local mode's ingress gateway is reached from this machine: host ports on 127.0.0.1 that forward to the
/// `istio-ingressgateway` Service's `http2` (80) and `https` (443) ports, as kind's port mappings or
/// `minikube tunnel` make a cluster's gateway reachable.
public struct IngressSettings: Sendable, Equatable {
    /// 127.0.0.1:httpPort -> istio-ingressgateway:80 (the gateway pod's 8080).
    public var httpPort: Int
    /// 127.0.0.1:httpsPort -> istio-ingressgateway:443 (the gateway pod's 8443).
    public var httpsPort: Int

    public init(httpPort: Int, httpsPort: Int) {
        self.httpPort = httpPort
        self.httpsPort = httpsPort
    }

    /// The ports first tried when nothing was asked for and none was used before.
    public static let preferredHTTPPort = 8080
    public static let preferredHTTPSPort = 8443

    /// The state file's text: `http=PORT` and `https=PORT` lines.
    public var fileText: String { "http=\(httpPort)\nhttps=\(httpsPort)\n" }

    /// Reads the state file's text; nil when it does not hold both ports.
    public init?(fileText: String) {
        var values: [String: Int] = [:]
        for line in fileText.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) { values[parts[0]] = port }
        }
        guard let http = values["http"], let https = values["https"] else { return nil }
        self.init(httpPort: http, httpsPort: https)
    }

    /// The host ports to use: each asked-for port as it is (0: any free one), else the last one used if it is
    /// free, else the preferred one or the next free one above it (up to 100 tried), else any free port.
    public static func choose(http requestedHTTP: Int?, https requestedHTTPS: Int?, last: IngressSettings?) -> IngressSettings {
        let http = pick(requestedHTTP, last: last?.httpPort, preferred: preferredHTTPPort, avoiding: [])
        let https = pick(requestedHTTPS, last: last?.httpsPort, preferred: preferredHTTPSPort, avoiding: [http])
        return IngressSettings(httpPort: http, httpsPort: https)
    }

    private static func pick(_ requested: Int?, last: Int?, preferred: Int, avoiding: Set<Int>) -> Int {
        if let requested, requested != 0 { return requested }
        if requested == nil, let last, !avoiding.contains(last), isFree(last) { return last }
        if requested == nil, let free = (preferred..<(preferred + 100)).first(where: { !avoiding.contains($0) && isFree($0) }) { return free }
        return anyFreePort(avoiding: avoiding)
    }

    /// Whether a listener can bind 127.0.0.1:port now.
    public static func isFree(_ port: Int) -> Bool { bindLoopback(port) != nil }

    /// A port the system hands out as free (the preferred one if even that fails, so the forwarder's log says why).
    static func anyFreePort(avoiding: Set<Int>) -> Int {
        for _ in 0..<10 {
            if let port = bindLoopback(0), !avoiding.contains(port) { return port }
        }
        return preferredHTTPPort
    }

    /// Binds a TCP socket to 127.0.0.1:port (0: any) and closes it; the port bound, nil when it could not bind.
    private static func bindLoopback(_ port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { return nil }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Local mode's `istio-ingressgateway` in `istio-system`, as istioctl's default profile installs it: a ServiceAccount,
/// a Deployment whose pod runs Istio's proxy image as a router (`proxy router`: meshctl's sidecar with node type
/// `router`, or Envoy with `local up --proxy envoy`) with the labels Gateways select (`istio: ingressgateway`), and a
/// LoadBalancer Service (`status-port` 15021, `http2` 80 -> 8080, `https` 443 -> 8443) whose load balancer address is
/// 127.0.0.1, where the host ports forward.
enum IngressGateway {
    static let name = "istio-ingressgateway"
    static let namespace = "istio-system"
    static let serviceAccount = "istio-ingressgateway-service-account"
    static let labels: [(String, String)] = [("app", name), ("istio", "ingressgateway")]
    /// The Service ports the host ports forward to.
    static let httpServicePort = 80
    static let httpsServicePort = 443

    /// What the service proxy forwards from the host: 127.0.0.1:PORT to the Service's ports.
    static func hostPorts(_ settings: IngressSettings) -> [ServiceRouting.HostPort] {
        [ServiceRouting.HostPort(hostPort: settings.httpPort, namespace: namespace, service: name, servicePort: httpServicePort),
         ServiceRouting.HostPort(hostPort: settings.httpsPort, namespace: namespace, service: name, servicePort: httpsServicePort)]
    }

    /// Creates what is missing (a deleted Deployment or Service comes back at the next `local up`) and gives the
    /// Service its load balancer address.
    static func ensure(_ api: KubernetesAPI) throws {
        for text in [serviceAccountYAML, deploymentYAML, serviceYAML] {
            guard let document = try YAMLParser.parse(text, file: "istio-ingressgateway").first else { continue }
            try api.ensure(JSONValue(yaml: document.root))
        }
        let ingress: JSONValue = .object([("loadBalancer", .object([("ingress", .array([.object([("ip", .string("127.0.0.1")), ("ipMode", .string("VIP"))])]))]))])
        _ = try api.store.update("services", namespace: namespace, name: name) { existing, _ in
            guard existing["spec"]?["type"]?.string == "LoadBalancer", existing["status"] != ingress else { return nil }
            var updated = existing
            updated["status"] = ingress
            return updated
        }
    }

    static var labelsYAML: String { "{" + labels.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}" }

    static var serviceAccountYAML: String {
        """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: \(serviceAccount), namespace: \(namespace), labels: \(labelsYAML)}
        """
    }

    static var serviceYAML: String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: {app: \(name), istio: ingressgateway, istio.io/rev: default, operator.istio.io/component: IngressGateways}
        spec:
          type: LoadBalancer
          selector: \(labelsYAML)
          ports:
          - {name: status-port, port: 15021, targetPort: 15021, protocol: TCP}
          - {name: http2, port: \(httpServicePort), targetPort: 8080, protocol: TCP}
          - {name: https, port: \(httpsServicePort), targetPort: 8443, protocol: TCP}
        """
    }

    static var deploymentYAML: String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: {app: \(name), istio: ingressgateway, istio.io/rev: default, operator.istio.io/component: IngressGateways}
        spec:
          replicas: 1
          selector: {matchLabels: \(labelsYAML)}
          template:
            metadata:
              labels:
                app: \(name)
                istio: ingressgateway
                istio.io/rev: default
                service.istio.io/canonical-name: \(name)
                service.istio.io/canonical-revision: latest
                sidecar.istio.io/inject: "false"
              annotations:
                prometheus.io/port: "15020"
                prometheus.io/scrape: "true"
                prometheus.io/path: /stats/prometheus
                sidecar.istio.io/inject: "false"
            spec:
              serviceAccountName: \(serviceAccount)
              terminationGracePeriodSeconds: 5
              containers:
              - name: istio-proxy
                image: \(InjectionSettings.builtinHub)/proxyv2:\(InjectionSettings.builtinTag)
                args: [proxy, router, --domain, $(POD_NAMESPACE).svc.cluster.local, --proxyLogLevel=warning, --proxyComponentLogLevel=misc:error, --log_output_level=default:info]
                ports:
                - {name: status-port, containerPort: 15021, protocol: TCP}
                - {name: http2, containerPort: 8080, protocol: TCP}
                - {name: https, containerPort: 8443, protocol: TCP}
                - {name: http-envoy-prom, containerPort: 15090, protocol: TCP}
                env:
                - {name: POD_NAME, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}}
                - {name: POD_NAMESPACE, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}}
                - {name: INSTANCE_IP, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: status.podIP}}}
                - {name: SERVICE_ACCOUNT, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
                - {name: ISTIO_META_WORKLOAD_NAME, value: \(name)}
                - {name: ISTIO_META_OWNER, value: kubernetes://apis/apps/v1/namespaces/\(namespace)/deployments/\(name)}
                - {name: ISTIO_META_MESH_ID, value: cluster.local}
                - {name: TRUST_DOMAIN, value: cluster.local}
                - {name: ISTIO_META_CLUSTER_ID, value: Kubernetes}
                readinessProbe:
                  httpGet: {path: /healthz/ready, port: 15021, scheme: HTTP}
                  initialDelaySeconds: 1
                  periodSeconds: 2
                  timeoutSeconds: 1
                  successThreshold: 1
                  failureThreshold: 30
        """
    }
}
