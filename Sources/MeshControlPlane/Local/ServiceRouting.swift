import LocalPods
import Manifests

/// Where local mode forwards each Service port, and the names its Services have, worked out from Services and
/// their Endpoints or EndpointSlices as stored (what kube-proxy and the cluster DNS read).
struct ServiceRouting: Equatable {
    /// A Service's address and port (TCP).
    struct Frontend: Hashable, CustomStringConvertible {
        let address: String
        let port: Int
        var description: String { "\(address):\(port)" }
    }

    /// A ready endpoint's address and port.
    struct Backend: Hashable {
        let address: String
        let port: Int
    }

    /// A port on 127.0.0.1 that forwards to one Service port's ready endpoints (local mode's ingress gateway).
    struct HostPort: Hashable, Sendable {
        let hostPort: Int
        let namespace: String
        let service: String
        let servicePort: Int
    }

    static let endpointSlicesKey = "endpointslices.discovery.k8s.io"
    static let serviceNameLabel = "kubernetes.io/service-name"

    /// Ready backends of each Service port that has some; Service ports without any are left out (connections to
    /// them are refused). Host ports are always in, with no backends while their Service port has none.
    var frontends: [Frontend: [Backend]] = [:]
    /// Which Service each frontend belongs to, for log lines.
    var owners: [Frontend: String] = [:]
    var names = ClusterNames()

    /// The routing for the stored Services, Endpoints and EndpointSlices. EndpointSlices are read when a Service has
    /// any (as kube-proxy reads them), else its Endpoints object. Each of `hostPorts` listens on 127.0.0.1 all the
    /// time (the port stays this control plane's), and resets connections while its Service port has no ready endpoints.
    init(services: [JSONValue], endpoints: [JSONValue], slices: [JSONValue], hostPorts: [HostPort] = []) {
        var endpointsByService: [String: JSONValue] = [:]
        for item in endpoints { endpointsByService[Self.key(item)] = item }
        var slicesByService: [String: [JSONValue]] = [:]
        for slice in slices {
            guard let service = slice["metadata"]?["labels"]?[Self.serviceNameLabel]?.string else { continue }
            slicesByService["\(slice["metadata"]?["namespace"]?.string ?? "")/\(service)", default: []].append(slice)
        }
        for service in services {
            guard let spec = service["spec"], spec["type"]?.string != "ExternalName",
                  let name = service["metadata"]?["name"]?.string, let namespace = service["metadata"]?["namespace"]?.string else { continue }
            let key = "\(namespace)/\(name)"
            let ports = (spec["ports"]?.array ?? []).filter { ($0["protocol"]?.string ?? "TCP") == "TCP" }
            let backends = ports.map { port in
                Self.backends(for: port, servicePorts: ports.count, slices: slicesByService[key], endpoints: endpointsByService[key])
            }
            let fullName = ClusterNames.serviceName(name, namespace: namespace)
            let clusterIP = spec["clusterIP"]?.string ?? ""
            if clusterIP == "None" {
                // Headless: the name stands for the ready pods themselves.
                let addresses = Array(Set(backends.flatMap { $0.map(\.address) })).sorted().filter(IPAddress.isLoopback)
                if !addresses.isEmpty { names.set(fullName, addresses) }
                continue
            }
            guard IPAddress.isLoopback(clusterIP) else { continue }
            names.set(fullName, [clusterIP])
            for (port, ready) in zip(ports, backends) where !ready.isEmpty {
                guard let number = port["port"]?.int, (1...65535).contains(number) else { continue }
                var addresses = [Frontend(address: clusterIP, port: number)]
                for host in hostPorts where host.namespace == namespace && host.service == name && host.servicePort == number {
                    addresses.append(Frontend(address: "127.0.0.1", port: host.hostPort))
                }
                for frontend in addresses {
                    frontends[frontend] = ready
                    owners[frontend] = key
                }
            }
        }
        for host in hostPorts {
            let frontend = Frontend(address: "127.0.0.1", port: host.hostPort)
            if frontends[frontend] == nil {
                frontends[frontend] = []
                owners[frontend] = "\(host.namespace)/\(host.service)"
            }
        }
    }

    /// The ready endpoints of one Service port: the endpoint port with the Service port's name (the endpoints
    /// controller resolved targetPort, by number or name, into it), or the only one when the Service has one port.
    private static func backends(for port: JSONValue, servicePorts: Int, slices: [JSONValue]?, endpoints: JSONValue?) -> [Backend] {
        let wanted = port["name"]?.string ?? ""
        func matching(_ ports: [JSONValue]) -> Int? {
            if let match = ports.first(where: { ($0["name"]?.string ?? "") == wanted && ($0["protocol"]?.string ?? "TCP") == "TCP" }) {
                return match["port"]?.int
            }
            return servicePorts == 1 && ports.count == 1 ? ports[0]["port"]?.int : nil
        }
        var result: [Backend] = []
        if let slices, !slices.isEmpty {
            for slice in slices where (slice["addressType"]?.string ?? "IPv4") != "FQDN" {
                guard let number = matching(slice["ports"]?.array ?? []) else { continue }
                for endpoint in slice["endpoints"]?.array ?? [] where endpoint["conditions"]?["ready"]?.bool != false {
                    result += (endpoint["addresses"]?.array ?? []).compactMap(\.string).map { Backend(address: $0, port: number) }
                }
            }
        } else if let endpoints {
            for subset in endpoints["subsets"]?.array ?? [] {
                guard let number = matching(subset["ports"]?.array ?? []) else { continue }
                result += (subset["addresses"]?.array ?? []).compactMap { $0["ip"]?.string }.map { Backend(address: $0, port: number) }
            }
        }
        var seen = Set<Backend>()
        return result.filter { (1...65535).contains($0.port) && IPAddress.isLoopback($0.address) && seen.insert($0).inserted }
    }

    private static func key(_ object: JSONValue) -> String {
        "\(object["metadata"]?["namespace"]?.string ?? "")/\(object["metadata"]?["name"]?.string ?? "")"
    }

    static func == (lhs: ServiceRouting, rhs: ServiceRouting) -> Bool { lhs.frontends == rhs.frontends && lhs.names == rhs.names }
}
