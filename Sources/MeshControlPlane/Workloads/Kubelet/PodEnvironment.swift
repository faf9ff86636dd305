import Foundation
import Manifests

/// A container's environment as the kubelet builds it: the Service variables of the namespace, the container's
/// `env` and `envFrom` (values, field references, ConfigMap and Secret keys, `$(VAR)` references), and what local
/// mode adds: PORT (first container port), PORTS, POD_IP, POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT, POD_VERSION.
struct PodEnvironment {
    let pod: JSONValue
    let container: JSONValue
    let podIP: String
    let store: ObjectStore

    /// `NAME=value` entries, the container's own settings winning over local mode's.
    func entries(base: [String: String], marker: (String, String)) -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        func set(_ name: String, _ value: String) {
            if values[name] == nil { order.append(name) }
            values[name] = value
        }
        for (name, value) in base.sorted(by: { $0.key < $1.key }) { set(name, value) }
        set("HOSTNAME", pod["spec"]?["hostname"]?.string ?? pod.name)
        if pod["spec"]?["enableServiceLinks"]?.bool != false {
            for (name, value) in serviceVariables() { set(name, value) }
        }
        let ports = (container["ports"]?.array ?? []).compactMap { $0["containerPort"]?.int }
        let added: [(String, String)] = [
            ("PORT", ports.first.map(String.init) ?? ""), ("PORTS", ports.map(String.init).joined(separator: ",")),
            ("POD_IP", podIP), ("POD_NAME", pod.name), ("POD_NAMESPACE", pod.namespace),
            ("SERVICE_ACCOUNT", pod["spec"]?["serviceAccountName"]?.string ?? "default"),
            ("POD_VERSION", pod.labelMap["version"] ?? ""),
        ]
        for (name, value) in added where !(name == "PORT" && value.isEmpty) { set(name, value) }
        for source in container["envFrom"]?.array ?? [] {
            let prefix = source["prefix"]?.string ?? ""
            for (name, value) in keyedValues(source["configMapRef"], secret: false) + keyedValues(source["secretRef"], secret: true) {
                set(prefix + name, value)
            }
        }
        for variable in container["env"]?.array ?? [] {
            guard let name = variable["name"]?.string else { continue }
            if let value = variable["value"]?.string {
                set(name, Self.expand(value, values))
            } else if let source = variable["valueFrom"] {
                set(name, resolve(source) ?? "")
            } else {
                set(name, "")
            }
        }
        set(marker.0, marker.1)
        return order.map { "\($0)=\(values[$0]!)" }
    }

    /// Replaces `$(NAME)` with the variable's value (unknown names stay as written; `$$` is a literal `$`), as Kubernetes does.
    static func expand(_ text: String, _ values: [String: String]) -> String {
        guard text.contains("$") else { return text }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "$", next < text.endIndex {
                if text[next] == "$" { output.append("$"); index = text.index(after: next); continue }
                if text[next] == "(", let close = text[next...].firstIndex(of: ")") {
                    let name = String(text[text.index(after: next)..<close])
                    if let value = values[name] { output += value } else { output += text[index...close] }
                    index = text.index(after: close)
                    continue
                }
            }
            output.append(character)
            index = next
        }
        return output
    }

    private func resolve(_ source: JSONValue) -> String? {
        if let path = source["fieldRef"]?["fieldPath"]?.string {
            switch path {
            case "metadata.name": return pod.name
            case "metadata.namespace": return pod.namespace
            case "metadata.uid": return pod.uid
            case "spec.nodeName": return LocalNode.name
            case "spec.serviceAccountName": return pod["spec"]?["serviceAccountName"]?.string ?? "default"
            case "status.podIP", "status.podIPs": return podIP
            case "status.hostIP", "status.hostIPs": return "127.0.0.1"
            default:
                for (prefix, key) in [("metadata.labels['", "labels"), ("metadata.annotations['", "annotations")] where path.hasPrefix(prefix) && path.hasSuffix("']") {
                    let name = String(path.dropFirst(prefix.count).dropLast(2))
                    return pod["metadata"]?[key]?[name]?.string
                }
                return nil
            }
        }
        if source["resourceFieldRef"] != nil { return "0" }
        for (key, secret) in [("configMapKeyRef", false), ("secretKeyRef", true)] {
            guard let reference = source[key], let name = reference["name"]?.string, let item = reference["key"]?.string else { continue }
            return data(name, secret: secret)?[item]
        }
        return nil
    }

    private func data(_ name: String, secret: Bool) -> [String: String]? {
        guard let object = try? store.get(secret ? "secrets" : "configmaps", namespace: pod.namespace, name: name) else { return nil }
        var result = object["data"]?.stringMap ?? [:]
        if secret {
            for (key, value) in result { result[key] = Base64.decode(value).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        }
        return result
    }

    private func keyedValues(_ reference: JSONValue?, secret: Bool) -> [(String, String)] {
        guard let name = reference?["name"]?.string else { return [] }
        return (data(name, secret: secret) ?? [:]).sorted { $0.key < $1.key }
    }

    /// `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT`, `{SVC}_PORT_{PORT}_{PROTO}...` for the namespace's Services with a cluster IP.
    func serviceVariables() -> [(String, String)] {
        let services = (try? store.list("services", namespace: pod.namespace).items) ?? []
        var result: [(String, String)] = []
        for service in services {
            guard let address = service["spec"]?["clusterIP"]?.string, !address.isEmpty, address != "None",
                  let ports = service["spec"]?["ports"]?.array, let first = ports.first?["port"]?.int else { continue }
            let prefix = service.name.uppercased().replacingOccurrences(of: "-", with: "_")
            result.append(("\(prefix)_SERVICE_HOST", address))
            result.append(("\(prefix)_SERVICE_PORT", String(first)))
            for port in ports {
                guard let number = port["port"]?.int else { continue }
                let proto = (port["protocol"]?.string ?? "TCP")
                if let name = port["name"]?.string, !name.isEmpty {
                    result.append(("\(prefix)_SERVICE_PORT_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))", String(number)))
                }
                let base = "\(prefix)_PORT_\(number)_\(proto.uppercased())"
                result.append((base, "\(proto.lowercased())://\(address):\(number)"))
                result.append(("\(base)_PROTO", proto.lowercased()))
                result.append(("\(base)_PORT", String(number)))
                result.append(("\(base)_ADDR", address))
            }
            result.append(("\(prefix)_PORT", "\((ports.first?["protocol"]?.string ?? "TCP").lowercased())://\(address):\(first)"))
        }
        return result
    }
}
