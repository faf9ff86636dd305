import ConfigValues

/// The environment variables Kubernetes gives a container for the Services of its namespace ("service links"):
/// `WEB_SERVICE_HOST`, `WEB_SERVICE_PORT`, `WEB_SERVICE_PORT_HTTP`, and the Docker-link style `WEB_PORT`,
/// `WEB_PORT_80_TCP`, `..._PROTO`, `..._PORT`, `..._ADDR`. Local mode's kubelet adds them when it builds a
/// container's environment, with `MESHCTL_NAMES_FILE`, where the names of all Services are.
public enum ServiceLinks {
    /// The variable naming local mode's names file (see `ClusterNames`).
    public static let namesFileVariable = "MESHCTL_NAMES_FILE"

    /// The variables for a container of a pod in `namespace`, from the Services as stored. With
    /// `enableServiceLinks: false` only the `kubernetes` Service's are set, as the kubelet does.
    public static func variables(namespace: String, services: [JSONValue], enableServiceLinks: Bool = true,
                                 namesFile: String? = nil) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        let chosen = services.filter { service in
            let metadata = service["metadata"]
            let isMaster = metadata?["namespace"]?.string == "default" && metadata?["name"]?.string == "kubernetes"
            return isMaster || (enableServiceLinks && metadata?["namespace"]?.string == namespace)
        }.sorted { ($0["metadata"]?["name"]?.string ?? "") < ($1["metadata"]?["name"]?.string ?? "") }
        for service in chosen {
            guard let name = service["metadata"]?["name"]?.string, let address = service["spec"]?["clusterIP"]?.string,
                  !address.isEmpty, address != "None" else { continue }
            let ports = (service["spec"]?["ports"]?.array ?? []).compactMap { port -> (name: String?, number: Int, proto: String)? in
                guard let number = port["port"]?.int else { return nil }
                return (port["name"]?.string, number, (port["protocol"]?.string ?? "TCP").lowercased())
            }
            let prefix = variableName(name)
            result.append(("\(prefix)_SERVICE_HOST", address))
            guard let first = ports.first else { continue }
            result.append(("\(prefix)_SERVICE_PORT", String(first.number)))
            for port in ports {
                if let portName = port.name, !portName.isEmpty { result.append(("\(prefix)_SERVICE_PORT_\(variableName(portName))", String(port.number))) }
            }
            result.append(("\(prefix)_PORT", "\(first.proto)://\(address):\(first.number)"))
            for port in ports {
                let link = "\(prefix)_PORT_\(port.number)_\(port.proto.uppercased())"
                result.append((link, "\(port.proto)://\(address):\(port.number)"))
                result.append(("\(link)_PROTO", port.proto))
                result.append(("\(link)_PORT", String(port.number)))
                result.append(("\(link)_ADDR", address))
            }
        }
        if let namesFile { result.append((namesFileVariable, namesFile)) }
        return result
    }

    /// `my-svc` becomes `MY_SVC`.
    static func variableName(_ name: String) -> String {
        name.uppercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: ".", with: "_")
    }
}
