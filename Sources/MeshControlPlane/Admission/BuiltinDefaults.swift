import Manifests

/// The defaults kube-apiserver fills into built-in kinds when it stores them, so that what kubectl reads back looks
/// as it does on a real cluster (Service type and cluster IP, ports' protocol and targetPort, Deployment strategy,
/// replicas and history, pod template settings, Secret type).
enum BuiltinDefaults {
    /// Fills the defaults of `object`, of the kind `kind`. `allocateClusterIP` hands out a free Service IP.
    static func apply(_ object: inout JSONValue, kind: String, allocateClusterIP: () -> String) {
        switch kind {
        case "Service": service(&object, allocateClusterIP)
        case "Pod":
            podSpec(&object, at: ["spec"])
            setMissing(&object, ["spec", "serviceAccountName"], .string("default"))
            setMissing(&object, ["spec", "enableServiceLinks"], .bool(true))
            // A new pod is Pending, with its quality-of-service class, until something runs it.
            setMissing(&object, ["status", "phase"], .string("Pending"))
            setMissing(&object, ["status", "qosClass"], .string(qosClass(object)))
        case "Deployment":
            setMissing(&object, ["spec", "replicas"], .int(1))
            setMissing(&object, ["spec", "revisionHistoryLimit"], .int(10))
            setMissing(&object, ["spec", "progressDeadlineSeconds"], .int(600))
            if object["spec"]?["strategy"]?["type"] == nil { setMissing(&object, ["spec", "strategy", "type"], .string("RollingUpdate")) }
            if object["spec"]?["strategy"]?["type"]?.string == "RollingUpdate" {
                setMissing(&object, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], .string("25%"))
                setMissing(&object, ["spec", "strategy", "rollingUpdate", "maxSurge"], .string("25%"))
            }
            podSpec(&object, at: ["spec", "template", "spec"])
        case "ReplicaSet":
            setMissing(&object, ["spec", "replicas"], .int(1))
            podSpec(&object, at: ["spec", "template", "spec"])
        case "StatefulSet":
            setMissing(&object, ["spec", "replicas"], .int(1))
            setMissing(&object, ["spec", "podManagementPolicy"], .string("OrderedReady"))
            setMissing(&object, ["spec", "revisionHistoryLimit"], .int(10))
            if object["spec"]?["updateStrategy"]?["type"] == nil { setMissing(&object, ["spec", "updateStrategy", "type"], .string("RollingUpdate")) }
            if object["spec"]?["updateStrategy"]?["type"]?.string == "RollingUpdate" {
                setMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "partition"], .int(0))
            }
            podSpec(&object, at: ["spec", "template", "spec"])
        case "DaemonSet":
            setMissing(&object, ["spec", "revisionHistoryLimit"], .int(10))
            if object["spec"]?["updateStrategy"]?["type"] == nil { setMissing(&object, ["spec", "updateStrategy", "type"], .string("RollingUpdate")) }
            if object["spec"]?["updateStrategy"]?["type"]?.string == "RollingUpdate" {
                setMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], .int(1))
                setMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "maxSurge"], .int(0))
            }
            podSpec(&object, at: ["spec", "template", "spec"])
        case "Job":
            setMissing(&object, ["spec", "backoffLimit"], .int(6))
            setMissing(&object, ["spec", "completions"], .int(1))
            setMissing(&object, ["spec", "parallelism"], .int(1))
            podSpec(&object, at: ["spec", "template", "spec"], restartPolicy: nil)
        case "CronJob":
            setMissing(&object, ["spec", "concurrencyPolicy"], .string("Allow"))
            setMissing(&object, ["spec", "suspend"], .bool(false))
            setMissing(&object, ["spec", "successfulJobsHistoryLimit"], .int(3))
            setMissing(&object, ["spec", "failedJobsHistoryLimit"], .int(1))
            podSpec(&object, at: ["spec", "jobTemplate", "spec", "template", "spec"], restartPolicy: nil)
        case "Secret":
            if object["type"] == nil { object["type"] = .string("Opaque") }
        case "CustomResourceDefinition":
            customResourceDefinitionStatus(&object)
        default:
            break
        }
    }

    /// Sets the value at `path` unless one is there, making the objects on the way.
    static func setMissing(_ object: inout JSONValue, _ path: [String], _ value: JSONValue) {
        guard let key = path.first else { return }
        guard object.object != nil else { return }
        if path.count == 1 {
            if object[key] == nil || object[key]?.isNull == true { object[key] = value }
            return
        }
        var child = object[key] ?? .object([])
        if child.isNull { child = .object([]) }
        guard child.object != nil else { return }
        setMissing(&child, Array(path.dropFirst()), value)
        object[key] = child
    }

    private static func modify(_ object: inout JSONValue, at path: [String], _ change: (inout JSONValue) -> Void) {
        guard let key = path.first else { change(&object); return }
        guard var child = object[key], child.object != nil else { return }
        modify(&child, at: Array(path.dropFirst()), change)
        object[key] = child
    }

    private static func eachItem(_ object: inout JSONValue, _ key: String, _ change: (inout JSONValue) -> Void) {
        guard var items = object[key]?.array else { return }
        for index in items.indices where items[index].object != nil { change(&items[index]) }
        object[key] = .array(items)
    }

    private static func podSpec(_ object: inout JSONValue, at path: [String], restartPolicy: String? = "Always") {
        modify(&object, at: path) { spec in
            if let restartPolicy { setMissing(&spec, ["restartPolicy"], .string(restartPolicy)) }
            setMissing(&spec, ["terminationGracePeriodSeconds"], .int(30))
            setMissing(&spec, ["dnsPolicy"], .string("ClusterFirst"))
            setMissing(&spec, ["securityContext"], .object([]))
            setMissing(&spec, ["schedulerName"], .string("default-scheduler"))
            for list in ["containers", "initContainers"] {
                eachItem(&spec, list) { container in
                    setMissing(&container, ["terminationMessagePath"], .string("/dev/termination-log"))
                    setMissing(&container, ["terminationMessagePolicy"], .string("File"))
                    setMissing(&container, ["imagePullPolicy"], .string(pullPolicy(container["image"]?.string ?? "")))
                    setMissing(&container, ["resources"], .object([]))
                    eachItem(&container, "ports") { setMissing(&$0, ["protocol"], .string("TCP")) }
                }
            }
        }
    }

    /// Guaranteed when every container's CPU and memory limits equal its requests (or only limits are given),
    /// BestEffort when no container asks for or limits anything, Burstable otherwise.
    static func qosClass(_ pod: JSONValue) -> String {
        let containers = (pod["spec"]?["containers"]?.array ?? []) + (pod["spec"]?["initContainers"]?.array ?? [])
        let resources = containers.map { ($0["resources"]?["requests"]?.object ?? [], $0["resources"]?["limits"]?.object ?? []) }
        if resources.allSatisfy({ $0.0.isEmpty && $0.1.isEmpty }) { return "BestEffort" }
        let guaranteed = resources.allSatisfy { requests, limits in
            ["cpu", "memory"].allSatisfy { name in
                guard let limit = limits.first(where: { $0.key == name })?.value else { return false }
                return requests.first(where: { $0.key == name }).map { $0.value == limit } ?? true
            }
        }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    /// Always for `:latest` or untagged images, IfNotPresent otherwise (as Kubernetes defaults it).
    static func pullPolicy(_ image: String) -> String {
        if image.contains("@") { return "IfNotPresent" }
        let lastSegment = image.split(separator: "/").last.map(String.init) ?? image
        guard let colon = lastSegment.lastIndex(of: ":") else { return "Always" }
        return lastSegment[lastSegment.index(after: colon)...] == "latest" ? "Always" : "IfNotPresent"
    }

    private static func service(_ object: inout JSONValue, _ allocateClusterIP: () -> String) {
        setMissing(&object, ["spec", "type"], .string("ClusterIP"))
        setMissing(&object, ["spec", "sessionAffinity"], .string("None"))
        let type = object["spec"]?["type"]?.string ?? "ClusterIP"
        modify(&object, at: ["spec"]) { spec in
            eachItem(&spec, "ports") { port in
                setMissing(&port, ["protocol"], .string("TCP"))
                if let number = port["port"] { setMissing(&port, ["targetPort"], number) }
            }
            guard type != "ExternalName" else { return }
            if spec["clusterIP"]?.string?.isEmpty ?? true {
                spec["clusterIP"] = .string(spec["clusterIPs"]?.array?.first?.string ?? allocateClusterIP())
            }
            setMissing(&spec, ["clusterIPs"], .array([spec["clusterIP"]!]))
            setMissing(&spec, ["ipFamilies"], .array([.string("IPv4")]))
            setMissing(&spec, ["ipFamilyPolicy"], .string("SingleStack"))
            setMissing(&spec, ["internalTrafficPolicy"], .string("Cluster"))
            if type == "NodePort" || type == "LoadBalancer" { setMissing(&spec, ["externalTrafficPolicy"], .string("Cluster")) }
        }
    }

    /// A definition is served as soon as it is stored: its names accepted and its kind established.
    private static func customResourceDefinitionStatus(_ definition: inout JSONValue) {
        let time = definition["metadata"]?["creationTimestamp"] ?? .string(Timestamps.now())
        func condition(_ type: String, _ reason: String, _ message: String) -> JSONValue {
            .object([("type", .string(type)), ("status", .string("True")), ("lastTransitionTime", time), ("reason", .string(reason)),
                     ("message", .string(message))])
        }
        let stored = (definition["spec"]?["versions"]?.array ?? []).filter { $0["storage"]?.bool == true }.compactMap { $0["name"] }
        definition["status"] = .object([
            ("conditions", .array([condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                                   condition("Established", "InitialNamesAccepted", "the initial names have been accepted")])),
            ("acceptedNames", definition["spec"]?["names"] ?? .object([])),
            ("storedVersions", .array(stored)),
        ])
    }

    /// Secret `stringData` written into `data` (base64), as the API server does; stringData itself is not stored.
    static func foldStringData(_ secret: inout JSONValue) {
        guard let pairs = secret["stringData"]?.object else { secret["stringData"] = nil; return }
        var data = secret["data"]?.object != nil ? secret["data"]! : .object([])
        for (key, value) in pairs { data[key] = .string(Base64.encode(Array((value.string ?? "").utf8))) }
        secret["data"] = data
        secret["stringData"] = nil
    }
}
