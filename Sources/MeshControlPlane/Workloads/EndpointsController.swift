import Foundation
import Manifests

/// For each Service with a selector: an Endpoints object of the same name and EndpointSlices
/// (discovery.k8s.io/v1, label `kubernetes.io/service-name`) listing the selected pods' addresses, ready or not,
/// with the Service's ports resolved against each pod (targetPort by number or by container port name).
final class EndpointsController: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    static let sliceManager = "endpointslice-controller.k8s.io"
    static let endpointsManager = "endpoint-controller"

    /// One selected pod with the ports it serves the Service on.
    struct Member {
        let pod: JSONValue
        let address: String
        let ready: Bool
        let ports: [JSONValue]
    }

    func reconcile(_ view: ClusterView) throws {
        let services = try view.all("services")
        let pods = try view.all("pods")
        var wanted = Set<String>()
        for service in services {
            guard let selector = service["spec"]?["selector"]?.object, !selector.isEmpty,
                  service["spec"]?["type"]?.string != "ExternalName" else { continue }
            wanted.insert("\(service.namespace)/\(service.name)")
            let labels = Dictionary(selector.map { ($0.key, $0.value.string ?? "") }, uniquingKeysWith: { a, _ in a })
            let members = pods.filter { pod in
                pod.namespace == service.namespace && PodTemplates.isActive(pod) && labels.allSatisfy { pod.labelMap[$0.key] == $0.value }
            }.compactMap { pod -> Member? in
                guard let address = pod["status"]?["podIP"]?.string, !address.isEmpty else { return nil }
                return Member(pod: pod, address: address, ready: PodTemplates.isReady(pod), ports: Self.ports(service, pod))
            }.sorted { $0.pod.name < $1.pod.name }
            try writeEndpoints(service, members)
            try writeSlices(service, members, view)
        }
        // Endpoints and slices of Services that are gone or no longer select.
        for endpoints in try view.all("endpoints") where endpoints.labelMap["endpoints.kubernetes.io/managed-by"] == Self.endpointsManager
            && !wanted.contains("\(endpoints.namespace)/\(endpoints.name)") {
            try writer.delete("endpoints", namespace: endpoints.namespace, name: endpoints.name)
        }
        for slice in try view.all("endpointslices.discovery.k8s.io") where slice.labelMap["endpointslice.kubernetes.io/managed-by"] == Self.sliceManager
            && !wanted.contains("\(slice.namespace)/\(slice.labelMap["kubernetes.io/service-name"] ?? "")") {
            try writer.delete("endpointslices.discovery.k8s.io", namespace: slice.namespace, name: slice.name)
        }
    }

    /// The Service's ports as this pod serves them: name, protocol, and the pod's port number.
    static func ports(_ service: JSONValue, _ pod: JSONValue) -> [JSONValue] {
        let containerPorts = (pod["spec"]?["containers"]?.array ?? []).flatMap { $0["ports"]?.array ?? [] }
        return (service["spec"]?["ports"]?.array ?? []).compactMap { port in
            let target = port["targetPort"] ?? port["port"] ?? .null
            let number: Int?
            if let value = target.int { number = value } else if let name = target.string {
                number = Int(name) ?? containerPorts.first { $0["name"]?.string == name }?["containerPort"]?.int
            } else { number = port["port"]?.int }
            guard let number else { return nil }
            var pairs: [(key: String, value: JSONValue)] = []
            if let name = port["name"]?.string { pairs.append(("name", .string(name))) }
            pairs.append(("port", .int(number)))
            pairs.append(("protocol", port["protocol"] ?? .string("TCP")))
            if let appProtocol = port["appProtocol"] { pairs.append(("appProtocol", appProtocol)) }
            return .object(pairs)
        }
    }

    private static func targetRef(_ pod: JSONValue) -> JSONValue {
        .object([("kind", .string("Pod")), ("namespace", .string(pod.namespace)), ("name", .string(pod.name)), ("uid", .string(pod.uid))])
    }

    /// Members grouped by the ports they serve (pods of one template all serve the same), in a stable order.
    private static func groups(_ members: [Member]) -> [(ports: [JSONValue], members: [Member])] {
        var order: [String] = []
        var grouped: [String: (ports: [JSONValue], members: [Member])] = [:]
        for member in members {
            let key = JSONValue.array(member.ports).canonicalText
            if grouped[key] == nil { order.append(key); grouped[key] = (member.ports, []) }
            grouped[key]!.members.append(member)
        }
        return order.map { grouped[$0]! }
    }

    private func writeEndpoints(_ service: JSONValue, _ members: [Member]) throws {
        var labels = service["metadata"]?["labels"] ?? .object([])
        if labels.isNull { labels = .object([]) }
        labels["endpoints.kubernetes.io/managed-by"] = .string(Self.endpointsManager)
        let subsets: [JSONValue] = Self.groups(members).filter { !$0.ports.isEmpty }.map { group in
            func address(_ member: Member) -> JSONValue {
                .object([("ip", .string(member.address)), ("nodeName", .string(LocalNode.name)), ("targetRef", Self.targetRef(member.pod))])
            }
            var pairs: [(key: String, value: JSONValue)] = []
            let ready = group.members.filter(\.ready), notReady = group.members.filter { !$0.ready }
            if !ready.isEmpty { pairs.append(("addresses", .array(ready.map(address)))) }
            if !notReady.isEmpty { pairs.append(("notReadyAddresses", .array(notReady.map(address)))) }
            pairs.append(("ports", .array(group.ports)))
            return .object(pairs)
        }
        var object: JSONValue = .object([
            ("apiVersion", .string("v1")), ("kind", .string("Endpoints")),
            ("metadata", .object([("name", .string(service.name)), ("namespace", .string(service.namespace)), ("labels", labels)])),
        ])
        if !subsets.isEmpty { object["subsets"] = .array(subsets) }
        if try writer.store.get("endpoints", namespace: service.namespace, name: service.name) == nil {
            try writer.create("endpoints", object)
            return
        }
        try writer.modify("endpoints", namespace: service.namespace, name: service.name) { current in
            var updated = current
            updated["metadata"]?["labels"] = labels
            updated["subsets"] = object["subsets"]
            return updated
        }
    }

    private func writeSlices(_ service: JSONValue, _ members: [Member], _ view: ClusterView) throws {
        let existing = try view.all("endpointslices.discovery.k8s.io").filter {
            $0.namespace == service.namespace && $0.labelMap["kubernetes.io/service-name"] == service.name
                && $0.labelMap["endpointslice.kubernetes.io/managed-by"] == Self.sliceManager
        }
        var groups = Self.groups(members)
        if groups.isEmpty { groups = [(Self.ports(service, .object([])), [])] }
        var kept = Set<String>()
        for (index, group) in groups.enumerated() {
            let name = "\(service.name)-\(PodTemplates.hash(.string("\(service.uid)/\(index)")).prefix(5))"
            kept.insert(name)
            var labels = service["metadata"]?["labels"] ?? .object([])
            if labels.isNull { labels = .object([]) }
            labels["kubernetes.io/service-name"] = .string(service.name)
            labels["endpointslice.kubernetes.io/managed-by"] = .string(Self.sliceManager)
            let endpoints: [JSONValue] = group.members.map { member in
                .object([("addresses", .array([.string(member.address)])),
                         ("conditions", .object([("ready", .bool(member.ready)), ("serving", .bool(member.ready)), ("terminating", .bool(false))])),
                         ("nodeName", .string(LocalNode.name)), ("targetRef", Self.targetRef(member.pod))])
            }
            let slice: JSONValue = .object([
                ("apiVersion", .string("discovery.k8s.io/v1")), ("kind", .string("EndpointSlice")),
                ("metadata", .object([("name", .string(name)), ("namespace", .string(service.namespace)), ("labels", labels),
                                      ("ownerReferences", .array([OwnerReferences.controllerReference(to: service.with(kind: "Service", apiVersion: "v1"))]))])),
                ("addressType", .string("IPv4")), ("endpoints", .array(endpoints)), ("ports", .array(group.ports)),
            ])
            if existing.contains(where: { $0.name == name }) {
                try writer.modify("endpointslices.discovery.k8s.io", namespace: service.namespace, name: name) { current in
                    var updated = current
                    updated["metadata"]?["labels"] = labels
                    updated["endpoints"] = slice["endpoints"]
                    updated["ports"] = slice["ports"]
                    return updated
                }
            } else {
                try writer.create("endpointslices.discovery.k8s.io", slice)
            }
        }
        for slice in existing where !kept.contains(slice.name) {
            try writer.delete("endpointslices.discovery.k8s.io", namespace: slice.namespace, name: slice.name)
        }
    }
}

extension JSONValue {
    /// The object with kind and apiVersion set (stored objects carry them; this makes sure).
    func with(kind: String, apiVersion: String) -> JSONValue {
        var copy = self
        if copy["kind"] == nil { copy["kind"] = .string(kind) }
        if copy["apiVersion"] == nil { copy["apiVersion"] = .string(apiVersion) }
        return copy
    }
}
