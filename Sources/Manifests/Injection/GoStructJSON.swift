/// JSON of Kubernetes objects as Go's encoding/json writes the API structs: fields in declaration
/// order, empty optional fields left out, maps with sorted keys.
enum GoStructJSON {
    /// Field order of the structs that reach JSON text in injection output, by the key they sit under.
    static func fieldOrder(forKey key: String?) -> [String]? {
        switch key {
        case "containers", "initContainers":
            return ["name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
                    "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe",
                    "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
                    "stdin", "stdinOnce", "tty"]
        case "securityContext":
            return ["capabilities", "privileged", "seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot",
                    "readOnlyRootFilesystem", "allowPrivilegeEscalation", "procMount", "seccompProfile", "appArmorProfile"]
        case "livenessProbe", "readinessProbe", "startupProbe":
            return ["exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                    "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"]
        case "httpGet":
            return ["path", "port", "host", "scheme", "httpHeaders"]
        case "volumeMounts":
            return ["name", "readOnly", "recursiveReadOnly", "mountPath", "subPath", "mountPropagation", "subPathExpr"]
        case "env":
            return ["name", "value", "valueFrom"]
        case "ports":
            return ["name", "hostPort", "containerPort", "protocol", "hostIP"]
        case "resources":
            return ["limits", "requests", "claims"]
        case "capabilities":
            return ["add", "drop"]
        case "lifecycle":
            return ["postStart", "preStop", "stopSignal"]
        case "postStart", "preStop":
            return ["exec", "httpGet", "tcpSocket", "sleep"]
        case "prober":
            return ["httpGet", "tcpSocket", "grpc", "timeoutSeconds"]
        case "tcpSocket":
            return ["port", "host"]
        case "grpc":
            return ["port", "service"]
        default:
            return nil
        }
    }

    /// The node as Go JSON data, its structs in field order (as `OrderedData`, which keeps it).
    static func value(_ node: YAMLNode, key: String? = nil) -> TemplateValue {
        switch node.content {
        case .mapping(let pairs):
            var map = TemplateMap()
            if let order = fieldOrder(forKey: key) {
                let ranked = pairs.sorted { left, right in
                    (order.firstIndex(of: left.key.scalarText ?? "") ?? Int.max) < (order.firstIndex(of: right.key.scalarText ?? "") ?? Int.max)
                }
                for pair in ranked { map[pair.key.scalarText ?? ""] = value(pair.value, key: pair.key.scalarText) }
                return .object(OrderedData(value: .map(map)))
            }
            for pair in pairs { map[pair.key.scalarText ?? ""] = value(pair.value, key: pair.key.scalarText) }
            return .map(map)
        case .sequence(let items):
            return .list(items.map { value($0, key: key) })
        case .scalar:
            return TemplateValue(node: node)
        }
    }

    /// A container as json.Marshal writes a `corev1.Container`.
    static func container(_ node: YAMLNode) -> TemplateValue {
        var copy = SidecarInjector.canonicalQuantities(KubeRoundTrip.normalizeContainer(node), key: nil)
        if copy["resources"] == nil { copy["resources"] = .mapping([]) }
        return value(copy, key: "containers")
    }
}

extension KubeRoundTrip {
    /// A container with its empty optional fields left out, as the API type holds it.
    static func normalizeContainer(_ container: YAMLNode) -> YAMLNode {
        let wrapped = normalize(.mapping([("c", container)]), kind: "")
        return wrapped["c"] ?? container
    }
}
