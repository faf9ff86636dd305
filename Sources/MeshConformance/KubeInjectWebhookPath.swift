import Foundation
import Manifests

/// The corpus's webhook path (`harness.webhookPath` in cases.json): each workload of the input and of the golden
/// becomes the Pod its controller would create, the input's Pod goes through the admission webhook's injection,
/// and the result must equal the golden's Pod once the injection status annotation is set aside. Cases marked
/// `skipKubeInject` are checked only this way, because Istio's own test runs only this path for them.
extension KubeInjectCorpus {
    /// Workload kinds the webhook test turns into Pods; a `List` contributes its items.
    static let podOwningKinds: Set<String> = [
        "Deployment", "DeploymentConfig", "DaemonSet", "StatefulSet", "Job", "ReplicaSet", "ReplicationController", "CronJob", "Pod",
    ]

    /// nil when every Pod of the input, injected by the webhook, equals the golden's; else the first difference.
    func webhookProblem(input: String, golden: String, settings: InjectionSettings) throws -> String? {
        let inputs = try Self.workloads(in: input), wanted = try Self.workloads(in: golden)
        guard !inputs.isEmpty else { return "the input has no workload for the webhook" }
        guard inputs.count == wanted.count else {
            return "the input has \(inputs.count) workloads, the golden \(wanted.count)"
        }
        let injector = SidecarInjector(settings: settings)
        for (number, (workload, expected)) in zip(inputs, wanted).enumerated() {
            // The API server hands the webhook a Pod without a namespace; the webhook takes the request's,
            // and its patch is made against that Pod, so the namespace does not show in the result.
            var pod = Self.pod(of: workload)
            let requestNamespace = workload["metadata"]?["namespace"]
            let addsNamespace = pod["metadata"]?["namespace"] == nil && requestNamespace != nil
            if addsNamespace { pod["metadata"]?["namespace"] = requestNamespace }
            var injected = try injector.inject(object: pod).object
            if addsNamespace { injected["metadata"]?["namespace"] = nil }

            let actual = Self.comparable(Self.clearingFieldReferenceVersions(injected)), want = Self.comparable(Self.pod(of: expected))
            if actual != want {
                let emitter = YAMLEmitter(keyOrder: .sorted)
                return "webhook, workload \(number + 1): " + Self.firstDifference(emitter.emit(want), emitter.emit(actual))
            }
        }
        return nil
    }

    /// The workloads of a stream, `List`s opened, in order.
    static func workloads(in text: String) throws -> [YAMLNode] {
        func expand(_ node: YAMLNode) -> [YAMLNode] {
            let kind = node["kind"]?.string ?? ""
            if kind == "List" { return (node["items"]?.items ?? []).flatMap(expand) }
            return podOwningKinds.contains(kind) ? [node] : []
        }
        return try YAMLParser.parse(text).map(\.root).flatMap(expand)
    }

    /// The Pod a workload's controller would create: the pod template with an owner reference to the
    /// controller (for a Deployment, to a ReplicaSet named `<name>-fake` with the `pod-template-hash` label).
    static func pod(of workload: YAMLNode) -> YAMLNode {
        let kind = workload["kind"]?.string ?? ""
        if kind == "Pod" { return workload }
        let name = workload["metadata"]?["name"]?.scalarText ?? ""
        let templatePath: [YAMLPathComponent] = kind == "CronJob"
            ? [.key("spec"), .key("jobTemplate"), .key("spec"), .key("template")]
            : [.key("spec"), .key("template")]
        let template = workload.value(at: templatePath) ?? .mapping([])
        var metadata = template["metadata"] ?? .mapping([])
        if metadata.pairs == nil { metadata = .mapping([]) }
        var owner = (apiVersion: workload["apiVersion"]?.scalarText ?? "", kind: kind, name: name)
        if kind == "Deployment" {
            owner = ("apps/v1", "ReplicaSet", name + "-fake")
            var labels = metadata["labels"] ?? .mapping([])
            if labels.pairs == nil { labels = .mapping([]) }
            labels["pod-template-hash"] = .string("fake")
            metadata["labels"] = labels
        }
        metadata["generateName"] = .string(kind == "Deployment" ? owner.name + "-" : owner.name)
        metadata["ownerReferences"] = .sequence([.mapping([
            ("apiVersion", .string(owner.apiVersion)), ("kind", .string(owner.kind)),
            ("name", .string(owner.name)), ("controller", .bool(true)),
        ])])
        return .mapping([
            ("apiVersion", .string("v1")), ("kind", .string("Pod")),
            ("metadata", metadata), ("spec", template["spec"] ?? .mapping([])),
        ])
    }

    /// A Pod as the webhook test compares it: as Go writes it back, without the injection status annotation
    /// (the test sets it aside on both sides).
    static func comparable(_ pod: YAMLNode) -> YAMLNode {
        var node = KubeRoundTrip.normalize(pod, kind: "Pod")
        node["status"] = nil
        if var annotations = node["metadata"]?["annotations"], annotations.pairs != nil {
            annotations["sidecar.istio.io/status"] = nil
            node["metadata"]?["annotations"] = annotations.pairs?.isEmpty == true ? nil : annotations
        }
        return node
    }

    /// The injected Pod without the API version of its containers' environment field references, which the
    /// test clears on the webhook's side only (the API server fills it in).
    static func clearingFieldReferenceVersions(_ pod: YAMLNode) -> YAMLNode {
        var node = pod
        if let containers = node["spec"]?["containers"]?.items {
            node["spec"]?["containers"] = .sequence(containers.map { container in
                var copy = container
                if let env = container["env"]?.items {
                    copy["env"] = .sequence(env.map { variable in
                        var entry = variable
                        entry["valueFrom"]?["fieldRef"]?["apiVersion"] = nil
                        return entry
                    })
                }
                return copy
            })
        }
        return node
    }
}
