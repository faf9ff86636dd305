import Foundation
import Manifests
import MeshNet
import MeshHTTP1

extension KubernetesAPI {
    /// The `scale` subresource (`kubectl scale`): an autoscaling/v1 Scale over the workload's spec.replicas.
    func scale(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target, name: String) throws {
        func scaleObject(_ workload: JSONValue) -> JSONValue {
            let metadata = workload["metadata"] ?? .object([])
            return .object([("kind", .string("Scale")), ("apiVersion", .string("autoscaling/v1")),
                            ("metadata", .object([("name", .string(name)), ("namespace", metadata["namespace"] ?? .null),
                                                  ("resourceVersion", metadata["resourceVersion"] ?? .null)])),
                            ("spec", .object([("replicas", workload["spec"]?["replicas"] ?? .int(1))])),
                            ("status", .object([("replicas", workload["status"]?["replicas"] ?? .int(0))]))])
        }
        switch request.method {
        case "GET":
            guard let workload = try store.get(target.type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(target.type, name) }
            send(responder, 200, scaleObject(workload))
        case "PUT", "PATCH":
            let change = try body(request)
            let (updated, _) = try replace(name, target, dryRun: request.query["dryRun"] == "All", try WriteContext(request)) { current in
                let wanted: JSONValue?
                switch request.method {
                case "PUT": wanted = change["spec"]?["replicas"]
                default:
                    let contentType = request.header("Content-Type") ?? ""
                    let patched = contentType.contains("json-patch") ? try Patches.json(scaleObject(current), change) : Patches.merge(scaleObject(current), change)
                    wanted = patched["spec"]?["replicas"]
                }
                guard let replicas = wanted?.int, replicas >= 0 else {
                    throw APIError.invalid(target.type, name, causes: [("spec.replicas", "Invalid value: must be a whole number of 0 or more")])
                }
                var workload = current
                workload["spec"]?["replicas"] = .int(replicas)
                return workload
            }
            send(responder, 200, scaleObject(updated))
        default:
            throw APIError.methodNotAllowed
        }
    }
}
