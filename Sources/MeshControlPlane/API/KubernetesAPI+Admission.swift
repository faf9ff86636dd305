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
            throw APIError.invalid(type, name, causes: errors.map { ($0.path.fieldPath, $0.message) })
        }
    }
}
