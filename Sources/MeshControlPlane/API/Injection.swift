import Manifests

/// The sidecar injector's webhook, in process: a Pod created where one of the `istio-sidecar-injector` webhooks'
/// namespace and object selectors match gets the sidecar, with meshctl's built-in templates.
enum Injection {
    static let injector = SidecarInjector(settings: .builtin())

    static func admit(pod: JSONValue, namespace: String, store: ObjectStore) throws -> JSONValue {
        guard let configuration = try store.get("mutatingwebhookconfigurations.admissionregistration.k8s.io", namespace: "", name: "istio-sidecar-injector"),
              let namespaceObject = try store.get("namespaces", namespace: "", name: namespace) else { return pod }
        let namespaceLabels = namespaceObject.labelMap, podLabels = pod.labelMap
        let selected = (configuration["webhooks"]?.array ?? []).contains { webhook in
            LabelSelector(webhook["namespaceSelector"]?.yamlNode).matches(namespaceLabels)
                && LabelSelector(webhook["objectSelector"]?.yamlNode).matches(podLabels)
        }
        guard selected else { return pod }
        do {
            return JSONValue(yaml: try injector.inject(object: pod.yamlNode).object)
        } catch {
            // The webhook's failurePolicy is Fail: the pod is refused with the injector's reason.
            throw APIError(400, "BadRequest", "admission webhook \"namespace.sidecar-injector.istio.io\" denied the request: \(error)")
        }
    }
}
