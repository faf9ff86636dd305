import Foundation
import Manifests
import MeshNet
import MeshHTTP1

// The review endpoints `kubectl auth can-i` and `kubectl auth whoami` call. Local mode has one user, the holder of
// its token, who may do everything: every access review is allowed.
extension KubernetesAPI {
    /// The user the local token stands for.
    static let localUser: JSONValue = .object([("username", .string("meshctl-local-admin")),
                                               ("groups", .array([.string("system:masters"), .string("system:authenticated")]))])

    /// Answers a POST to a review resource; false when the request is for something else. kubectl sends these
    /// bodies as protobuf, which the answers do not need: they depend on nothing the client asks.
    func answerReview(_ request: HTTPRequest, _ responder: HTTPResponder, group: String, version: String, rest: [String]) throws -> Bool {
        guard rest.count == 1, ["authorization.k8s.io", "authentication.k8s.io"].contains(group) else { return false }
        let apiVersion = "\(group)/\(version)"
        let status: JSONValue
        let kind: String
        switch (group, rest[0]) {
        case ("authorization.k8s.io", "selfsubjectaccessreviews"):
            kind = "SelfSubjectAccessReview"
            status = .object([("allowed", .bool(true)), ("reason", .string("meshctl's local control plane allows its token's user everything"))])
        case ("authorization.k8s.io", "selfsubjectrulesreviews"):
            kind = "SelfSubjectRulesReview"
            let all: JSONValue = .array([.string("*")])
            status = .object([
                ("resourceRules", .array([.object([("verbs", all), ("apiGroups", all), ("resources", all)])])),
                ("nonResourceRules", .array([.object([("verbs", all), ("nonResourceURLs", all)])])),
                ("incomplete", .bool(false)),
            ])
        case ("authentication.k8s.io", "selfsubjectreviews"):
            kind = "SelfSubjectReview"
            status = .object([("userInfo", Self.localUser)])
        default:
            return false
        }
        guard request.method == "POST" else {
            throw APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource: \(rest[0]) can only be created")
        }
        let spec = (try? body(request))?["spec"]
        var pairs: [(key: String, value: JSONValue)] = [("kind", .string(kind)), ("apiVersion", .string(apiVersion)),
                                                         ("metadata", .object([("creationTimestamp", .null)]))]
        if let spec { pairs.append(("spec", spec)) }
        pairs.append(("status", status))
        send(responder, 201, .object(pairs))
        return true
    }
}
