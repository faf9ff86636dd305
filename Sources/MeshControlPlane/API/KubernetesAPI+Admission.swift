import Foundation
import Manifests
import MeshNet

extension KubernetesAPI {
    /// Istio resources pass meshctl's validators before they are stored (422 naming each bad field).
    func admit(_ object: JSONValue, _ type: ResourceType, name: String) throws {
        guard !type.builtIn else { return }
        if case .checked(_, let problems) = ResourceValidator.validate(object.yamlNode) {
            let errors = problems.filter { $0.severity == .error }
            guard !errors.isEmpty else { return }
            let document = object.yamlNode
            throw APIError.invalid(type, name, causes: errors.map { ($0.path.fieldPath, Self.causeMessage($0, value: document.value(at: $0.path))) })
        }
    }

    /// A validator's message as kube-apiserver words a field error: `Invalid value: 700: spec.x in body should be ...`, the
    /// value first (strings quoted, objects and lists by their type), unless the message already says what kind of error it is.
    static func causeMessage(_ problem: ValidationProblem, value: YAMLNode?) -> String {
        let message = problem.message
        let kinds = ["Required value", "Unsupported value", "Invalid value", "Duplicate value", "Forbidden", "Too long", "Too many"]
        if kinds.contains(where: { message.hasPrefix($0) }) { return message }
        guard let value else { return message }
        let shown: String
        switch JSONValue(yaml: value) {
        case .object: shown = "\"object\""
        case .array: shown = "\"array\""
        case let scalar: shown = scalar.serialized
        }
        let text = message.hasPrefix("in body") ? "\(problem.path.fieldPath) \(message)" : message
        return "Invalid value: \(shown): \(text)"
    }
}
