import Foundation
import ConfigValues

/// One port of a mesh service.
public struct ServicePort: Sendable, Equatable {
    public var name: String
    public var port: Int
    /// The pod port: a number, or a container port's name (resolved per pod).
    public var targetPort: JSONValue?
    public var proto: PortProtocol
}

/// A service the mesh knows: a Kubernetes Service or one host of a ServiceEntry.
public struct MeshService: Sendable {
    /// How the proxy finds the service's addresses: EDS, DNS, or the connection's original destination (headless
    /// Services, ServiceEntries with resolution NONE).
    public enum Resolution: String, Sendable { case endpoints = "EDS", dns = "STRICT_DNS", passthrough = "ORIGINAL_DST" }

    public var name: String
    public var namespace: String
    /// `name.namespace.svc.cluster.local`, or the ServiceEntry host.
    public var hostname: String
    public var clusterIP: String?
    public var ports: [ServicePort]
    public var selector: [String: String]
    /// Namespaces the service is visible from (`*` for all), from `networking.istio.io/exportTo` or `exportTo`.
    public var exportTo: Set<String>
    public var resolution: Resolution
    /// A ServiceEntry with `location: MESH_EXTERNAL` (no auto mTLS).
    public var isExternal: Bool
    /// `/apis/...` path of the ServiceEntry it came from, nil for Kubernetes Services.
    public var serviceEntry: String?

    /// The port numbers a listener or endpoint can have; a port outside them is left out (Envoy would refuse it).
    static let validPorts = 1...65535

    public func port(_ number: Int) -> ServicePort? { ports.first { $0.port == number } }

    public func isVisible(from namespace: String) -> Bool {
        exportTo.contains("*") || exportTo.contains(namespace) || (exportTo.contains(".") && namespace == self.namespace)
    }

    /// Reads a Kubernetes Service; nil when it has no name.
    static func kubernetes(_ object: JSONValue, domain: String) -> MeshService? {
        guard let name = object.value(atPath: "metadata.name")?.string else { return nil }
        let namespace = object.value(atPath: "metadata.namespace")?.string ?? "default"
        let spec = object["spec"] ?? .object([])
        let ports = (spec["ports"]?.array ?? []).compactMap { port -> ServicePort? in
            guard let number = port["port"]?.int, Self.validPorts.contains(number) else { return nil }
            let portName = port["name"]?.string ?? ""
            return ServicePort(name: portName, port: number, targetPort: port["targetPort"] ?? .int(number),
                               proto: PortProtocol(portName: portName, appProtocol: port["appProtocol"]?.string, transport: port["protocol"]?.string))
        }
        let clusterIP = spec["clusterIP"]?.string.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
        let exported = object.value(atPath: "metadata.annotations")?["networking.istio.io/exportTo"]?.string
        let exportTo = exported.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) } ?? ["*"]
        return MeshService(name: name, namespace: namespace, hostname: "\(name).\(namespace).svc.\(domain)", clusterIP: clusterIP, ports: ports,
                           selector: spec["selector"]?.stringMap ?? [:], exportTo: exportTo,
                           resolution: spec["clusterIP"]?.string == "None" ? .passthrough : .endpoints,
                           isExternal: false, serviceEntry: nil)
    }

    /// One service per host of a ServiceEntry.
    static func fromServiceEntry(_ object: JSONValue) -> [MeshService] {
        guard let name = object.value(atPath: "metadata.name")?.string, let spec = object["spec"] else { return [] }
        let namespace = object.value(atPath: "metadata.namespace")?.string ?? "default"
        let ports = (spec["ports"]?.array ?? []).compactMap { port -> ServicePort? in
            guard let number = port["number"]?.int, Self.validPorts.contains(number) else { return nil }
            let portName = port["name"]?.string ?? ""
            let proto = port["protocol"]?.string.map(PortProtocol.init(name:)) ?? PortProtocol(portName: portName, appProtocol: nil, transport: nil)
            return ServicePort(name: portName, port: number, targetPort: port["targetPort"] ?? .int(number), proto: proto)
        }
        let resolution: Resolution
        switch spec["resolution"]?.string ?? "NONE" {
        case "DNS", "DNS_ROUND_ROBIN": resolution = .dns
        case "STATIC": resolution = .endpoints
        default: resolution = .passthrough
        }
        let exportTo = Set((spec["exportTo"]?.array ?? []).compactMap(\.string))
        let path = "/apis/networking.istio.io/v1alpha3/namespaces/\(namespace)/service-entry/\(name)"
        return (spec["hosts"]?.array ?? []).compactMap(\.string).map { host in
            MeshService(name: host, namespace: namespace, hostname: host, clusterIP: spec["addresses"]?.array?.first?.string, ports: ports,
                        selector: spec.value(atPath: "workloadSelector.labels")?.stringMap ?? [:], exportTo: exportTo.isEmpty ? ["*"] : exportTo,
                        resolution: resolution, isExternal: spec["location"]?.string == "MESH_EXTERNAL", serviceEntry: path)
        }
    }
}
