import Manifests

/// The checks kube-apiserver makes on built-in kinds beyond their schema: a workload's selector must match its
/// template's labels and cannot change, containers need a name and an image, Service ports must be real ports.
/// Each problem is a field path and kube-apiserver's kind of message.
enum BuiltinRules {
    static func problems(_ object: JSONValue, kind: String, current: JSONValue?) -> [(field: String, message: String)] {
        switch kind {
        case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
            var found = workload(object, current: current)
            found += podSpec(object["spec"]?["template"]?["spec"], at: "spec.template.spec", restartPolicies: ["Always"])
            return found
        case "Job":
            return podSpec(object["spec"]?["template"]?["spec"], at: "spec.template.spec", restartPolicies: ["OnFailure", "Never"])
        case "Pod":
            return podSpec(object["spec"], at: "spec", restartPolicies: nil)
        case "Service":
            return service(object)
        case "Secret":
            return secret(object)
        case "CustomResourceDefinition":
            return customResourceDefinition(object)
        default:
            return []
        }
    }

    private static func shown(_ labels: JSONValue?) -> String { (labels ?? .object([])).serialized }

    private static func workload(_ object: JSONValue, current: JSONValue?) -> [(field: String, message: String)] {
        guard let selector = object["spec"]?["selector"], !selector.isNull else { return [("spec.selector", "Required value")] }
        let matchLabels = selector["matchLabels"]?.object ?? []
        let expressions = selector["matchExpressions"]?.array ?? []
        if matchLabels.isEmpty && expressions.isEmpty {
            return [("spec.selector", "Invalid value: \(selector.serialized): empty selector is invalid for deployment")]
        }
        var found: [(field: String, message: String)] = []
        let labels = object["spec"]?["template"]?["metadata"]?["labels"]
        if !matches(selector, labels?.stringMap ?? [:]) {
            found.append(("spec.template.metadata.labels", "Invalid value: \(shown(labels)): `selector` does not match template `labels`"))
        }
        if let old = current?["spec"]?["selector"], old != selector {
            found.append(("spec.selector", "Invalid value: \(selector.serialized): field is immutable"))
        }
        return found
    }

    /// Whether a label selector (matchLabels and matchExpressions) selects these labels.
    static func matches(_ selector: JSONValue, _ labels: [String: String]) -> Bool {
        for (key, value) in selector["matchLabels"]?.object ?? [] where labels[key] != value.string { return false }
        for expression in selector["matchExpressions"]?.array ?? [] {
            let key = expression["key"]?.string ?? ""
            let values = (expression["values"]?.array ?? []).compactMap(\.string)
            switch expression["operator"]?.string {
            case "In": if !(labels[key].map(values.contains) ?? false) { return false }
            case "NotIn": if labels[key].map(values.contains) ?? false { return false }
            case "Exists": if labels[key] == nil { return false }
            case "DoesNotExist": if labels[key] != nil { return false }
            default: return false
            }
        }
        return true
    }

    private static func podSpec(_ spec: JSONValue?, at path: String, restartPolicies: [String]?) -> [(field: String, message: String)] {
        guard let spec, spec.object != nil else { return [("\(path).containers", "Required value")] }
        var found: [(field: String, message: String)] = []
        let containers = spec["containers"]?.array ?? []
        if containers.isEmpty { found.append(("\(path).containers", "Required value")) }
        for list in ["initContainers", "containers"] {
            var names: Set<String> = []
            for (index, container) in (spec[list]?.array ?? []).enumerated() {
                let where_ = "\(path).\(list)[\(index)]"
                if let name = container["name"]?.string, !name.isEmpty {
                    if !names.insert(name).inserted { found.append(("\(where_).name", "Duplicate value: \"\(name)\"")) }
                } else {
                    found.append(("\(where_).name", "Required value"))
                }
                if container["image"]?.string?.isEmpty ?? true { found.append(("\(where_).image", "Required value")) }
            }
        }
        if let restartPolicies, let policy = spec["restartPolicy"]?.string, !restartPolicies.contains(policy) {
            found.append(("\(path).restartPolicy", "Unsupported value: \"\(policy)\": supported values: "
                          + restartPolicies.map { "\"\($0)\"" }.joined(separator: ", ")))
        }
        return found
    }

    private static func service(_ object: JSONValue) -> [(field: String, message: String)] {
        let spec = object["spec"] ?? .object([])
        let type = spec["type"]?.string ?? "ClusterIP"
        var found: [(field: String, message: String)] = []
        let ports = spec["ports"]?.array ?? []
        if type == "ExternalName" {
            if spec["externalName"]?.string?.isEmpty ?? true { found.append(("spec.externalName", "Required value")) }
        } else if ports.isEmpty && spec["clusterIP"]?.string != "None" {
            found.append(("spec.ports", "Required value"))
        }
        var names: Set<String> = []
        for (index, port) in ports.enumerated() {
            if let number = port["port"]?.int, !(1...65535).contains(number) {
                found.append(("spec.ports[\(index)].port", "Invalid value: \(number): must be between 1 and 65535, inclusive"))
            }
            if ports.count > 1, port["name"]?.string?.isEmpty ?? true { found.append(("spec.ports[\(index)].name", "Required value")) }
            if let name = port["name"]?.string, !name.isEmpty, !names.insert(name).inserted {
                found.append(("spec.ports[\(index)].name", "Duplicate value: \"\(name)\""))
            }
            if let node = port["nodePort"]?.int, !(30000...32767).contains(node) {
                found.append(("spec.ports[\(index)].nodePort", "Invalid value: \(node): provided port is not in the valid range. "
                              + "The range of valid ports is 30000-32767"))
            }
            if let target = port["targetPort"]?.int, !(1...65535).contains(target) {
                found.append(("spec.ports[\(index)].targetPort", "Invalid value: \(target): must be between 1 and 65535, inclusive"))
            }
        }
        return found
    }

    private static func customResourceDefinition(_ definition: JSONValue) -> [(field: String, message: String)] {
        let spec = definition["spec"] ?? .object([])
        var found: [(field: String, message: String)] = []
        let group = spec["group"]?.string ?? "", plural = spec["names"]?["plural"]?.string ?? ""
        if group.isEmpty { found.append(("spec.group", "Required value")) }
        if plural.isEmpty { found.append(("spec.names.plural", "Required value")) }
        if spec["names"]?["kind"]?.string?.isEmpty ?? true { found.append(("spec.names.kind", "Required value")) }
        let name = definition["metadata"]?["name"]?.string ?? ""
        if !group.isEmpty && !plural.isEmpty && name != "\(plural).\(group)" {
            found.append(("metadata.name", "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group"))
        }
        let versions = spec["versions"]?.array ?? []
        if versions.isEmpty { found.append(("spec.versions", "Invalid value: []: must have exactly one version marked as storage version")) }
        else if versions.filter({ $0["storage"]?.bool == true }).count != 1 {
            found.append(("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
        }
        for (index, version) in versions.enumerated() where version["name"]?.string?.isEmpty ?? true {
            found.append(("spec.versions[\(index)].name", "Required value"))
        }
        if let scope = spec["scope"]?.string, !["Namespaced", "Cluster"].contains(scope) {
            found.append(("spec.scope", "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\""))
        }
        return found
    }

    private static func secret(_ object: JSONValue) -> [(field: String, message: String)] {
        (object["data"]?.object ?? []).compactMap { pair in
            guard let text = pair.value.string, Base64.decode(text) == nil else { return nil }
            return ("data[\(pair.key)]", "Invalid value: the value is not base64: put plain text in stringData instead, or encode it")
        }
    }
}

/// What the API reports as a workload's status when no controllers run (the API alone, as tests and the conformance
/// harness start it; `meshctl local up` runs them, and they write the status): the spec is observed
/// (observedGeneration follows generation) and no pods are running, so `kubectl rollout status` reports the
/// rollout as waiting for its replicas, truthfully, unless none are wanted.
enum WorkloadStatus {
    static let kinds: Set<String> = ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]

    static func observe(_ object: inout JSONValue) {
        guard let kind = object["kind"]?.string, kinds.contains(kind), let generation = object["metadata"]?["generation"] else { return }
        var status = object["status"]?.object != nil ? object["status"]! : .object([])
        status["observedGeneration"] = generation
        if kind == "DaemonSet" {
            for key in ["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"] where status[key] == nil {
                status[key] = .int(0)
            }
        } else {
            if status["replicas"] == nil { status["replicas"] = .int(0) }
        }
        if kind == "Deployment" && status["conditions"] == nil {
            status["conditions"] = .array([.object([
                ("type", .string("Progressing")), ("status", .string("Unknown")), ("reason", .string("NoControllers")),
                ("message", .string("meshctl's local control plane stores deployments but runs no pods yet")),
            ])])
        }
        object["status"] = status
    }
}
