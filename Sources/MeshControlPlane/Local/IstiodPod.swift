import Foundation
import Manifests

/// The pod that stands for local mode's pilot in `istio-system`, as istiod's pod does in a cluster (`app=istiod`,
/// `istio=pilot`, `istio.io/rev=default`): proxy-status finds it by its labels and asks its port 15014 through the
/// pod proxy, which local mode sends to the pilot's debug endpoints. A mirror pod (as the kubelet writes for static
/// pods): the control plane runs the pilot itself, so the kubelet starts nothing for it.
enum IstiodPod {
    static let name = "istiod-meshctl-local"
    static let namespace = "istio-system"
    static let mirrorAnnotation = "kubernetes.io/config.mirror"
    /// The pilot's ports as istiod's container declares them; pod proxy requests to 15014 (monitoring and debug)
    /// and 15010 (xDS) go to the pilot.
    static let pilotPorts: Set<Int> = [15010, 15014]

    static func isMirror(_ pod: JSONValue) -> Bool { pod["metadata"]?["annotations"]?[mirrorAnnotation] != nil }

    /// Where a pod proxy request to `pod:port` goes when `pod` is this one and the port is the pilot's.
    static func override(pilotAddress: String) -> @Sendable (JSONValue, Int) -> (host: String, port: Int)? {
        { pod, port in
            guard pod.namespace == namespace, pod.name == name, isMirror(pod), pilotPorts.contains(port),
                  let colon = pilotAddress.lastIndex(of: ":"), let pilotPort = Int(pilotAddress[pilotAddress.index(after: colon)...]) else { return nil }
            return (String(pilotAddress[..<colon]), pilotPort)
        }
    }

    /// Writes the pod (created when missing) with a Running, Ready status on the host's network.
    static func ensure(_ api: KubernetesAPI) throws {
        func port(_ name: String, _ number: Int) -> JSONValue {
            .object([("name", .string(name)), ("containerPort", .int(number)), ("protocol", .string("TCP"))])
        }
        let object: JSONValue = .object([
            ("apiVersion", .string("v1")), ("kind", .string("Pod")),
            ("metadata", .object([
                ("name", .string(name)), ("namespace", .string(namespace)),
                ("labels", .object([("app", .string("istiod")), ("istio", .string("pilot")), ("istio.io/rev", .string("default"))])),
                ("annotations", .object([(mirrorAnnotation, .string("meshctl")), ("sidecar.istio.io/inject", .string("false"))])),
            ])),
            ("spec", .object([
                ("nodeName", .string(LocalNode.name)), ("hostNetwork", .bool(true)), ("serviceAccountName", .string("istiod")),
                ("containers", .array([.object([
                    ("name", .string("discovery")), ("image", .string("meshctl/pilot")),
                    ("ports", .array([port("grpc-xds", 15010), port("https-dns", 15012), port("http-monitoring", 15014), port("https-webhook", 15017)])),
                ])])),
            ])),
        ])
        try api.ensure(object)
        let now = Timestamps.format(Date())
        func condition(_ type: String) -> JSONValue {
            .object([("type", .string(type)), ("status", .string("True")), ("lastTransitionTime", .string(now))])
        }
        let status: JSONValue = .object([
            ("phase", .string("Running")),
            ("conditions", .array(["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map(condition))),
            ("hostIP", .string("127.0.0.1")), ("podIP", .string("127.0.0.1")), ("podIPs", .array([.object([("ip", .string("127.0.0.1"))])])),
            ("startTime", .string(now)),
            ("containerStatuses", .array([.object([
                ("name", .string("discovery")), ("ready", .bool(true)), ("started", .bool(true)), ("restartCount", .int(0)),
                ("image", .string("meshctl/pilot")), ("imageID", .string("")), ("containerID", .string("meshctl://pilot")),
                ("state", .object([("running", .object([("startedAt", .string(now))]))])),
            ])])),
        ])
        _ = try api.store.update("pods", namespace: namespace, name: name) { existing, _ in
            var updated = existing
            updated["status"] = status
            return updated
        }
    }

    /// Removes the pod when the pilot stops, so nothing shows a pilot that is not there.
    static func remove(_ api: KubernetesAPI) {
        _ = try? api.store.delete("pods", namespace: namespace, name: name)
    }
}
