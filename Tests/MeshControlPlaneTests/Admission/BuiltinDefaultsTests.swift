import XCTest
@testable import MeshControlPlane
import Manifests

/// Defaults and rules of built-in kinds, without a server.
final class BuiltinDefaultsTests: XCTestCase {
    func testServiceAndPodTemplateDefaults() throws {
        var service = try JSONValue.parse(#"{"kind":"Service","spec":{"ports":[{"port":80},{"port":53,"protocol":"UDP","targetPort":"dns"}]}}"#)
        BuiltinDefaults.apply(&service, kind: "Service") { "10.96.0.42" }
        XCTAssertEqual(service["spec"]?["ports"]?.serialized, #"[{"port":80,"protocol":"TCP","targetPort":80},{"port":53,"protocol":"UDP","targetPort":"dns"}]"#)
        XCTAssertEqual(service["spec"]?["clusterIPs"]?.serialized, #"["10.96.0.42"]"#)

        XCTAssertEqual(BuiltinDefaults.pullPolicy("nginx"), "Always")
        XCTAssertEqual(BuiltinDefaults.pullPolicy("nginx:latest"), "Always")
        XCTAssertEqual(BuiltinDefaults.pullPolicy("registry:5000/nginx:1.27"), "IfNotPresent")
        XCTAssertEqual(BuiltinDefaults.pullPolicy("registry:5000/nginx"), "Always")

        func pod(_ resources: String) throws -> JSONValue { try JSONValue.parse(#"{"spec":{"containers":[{"name":"a","resources":"# + resources + "}]}}") }
        XCTAssertEqual(BuiltinDefaults.qosClass(try pod("{}")), "BestEffort")
        XCTAssertEqual(BuiltinDefaults.qosClass(try pod(#"{"limits":{"cpu":"1","memory":"1Gi"}}"#)), "Guaranteed")
        XCTAssertEqual(BuiltinDefaults.qosClass(try pod(#"{"requests":{"cpu":"1"}}"#)), "Burstable")

        var secret = try JSONValue.parse(#"{"kind":"Secret","data":{"a":"YQ=="},"stringData":{"b":"hi"}}"#)
        BuiltinDefaults.foldStringData(&secret)
        XCTAssertEqual(secret.serialized, #"{"kind":"Secret","data":{"a":"YQ==","b":"aGk="}}"#)
    }

    func testSelectorRulesAndCRDNames() throws {
        let deployment = try JSONValue.parse(#"{"spec":{"selector":{"matchExpressions":[{"key":"app","operator":"In","values":["web"]}]},"#
                                             + #""template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"x"}]}}}}"#)
        XCTAssertTrue(BuiltinRules.problems(deployment, kind: "Deployment", current: nil).isEmpty)
        var other = deployment
        other["spec"]?["template"]?["metadata"]?["labels"]?["app"] = .string("db")
        XCTAssertEqual(BuiltinRules.problems(other, kind: "Deployment", current: nil).map(\.field), ["spec.template.metadata.labels"])

        let definition = try JSONValue.parse(#"{"metadata":{"name":"widgets"},"spec":{"group":"example.com","names":{"plural":"widgets","kind":"Widget"},"#
                                             + #""scope":"Namespaced","versions":[{"name":"v1","storage":true}]}}"#)
        XCTAssertEqual(BuiltinRules.problems(definition, kind: "CustomResourceDefinition", current: nil).map(\.message),
                       [#"Invalid value: "widgets": must be spec.names.plural+"."+spec.group"#])
    }
}
