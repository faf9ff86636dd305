import XCTest
@testable import MeshControlPlane
import Manifests

/// Checking objects against FieldSchemas, built in and read from CRD OpenAPI.
final class SchemaCheckTests: XCTestCase {
    func testUnknownFieldsArePrunedAndReportedWithTheirPath() throws {
        let deployment = try JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"#
                                             + #""spec":{"replica":2,"template":{"spec":{"containers":[{"name":"a","imag":"x"}]}}}}"#)
        var findings = SchemaFindings()
        let pruned = SchemaCheck.check(deployment, WorkloadSchemas.deployment, findings: &findings)
        XCTAssertEqual(findings.unknownFields, ["spec.replica", "spec.template.spec.containers[0].imag"])
        XCTAssertNil(pruned["spec"]?["replica"])
        XCTAssertEqual(pruned["spec"]?["template"]?["spec"]?["containers"]?.array?.first?.serialized, #"{"name":"a"}"#)
        XCTAssertEqual(findings.invalid.map(\.field), ["spec.selector"], "selector is required")
    }

    func testTypesEnumsRangesAndOpenObjectsFromOpenAPI() throws {
        let schema = FieldSchema(openAPI: try JSONValue.parse("""
            {"type":"object","properties":{"size":{"type":"integer","minimum":1},"color":{"type":"string","enum":["red"]},
             "port":{"x-kubernetes-int-or-string":true},"extra":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
             "tags":{"type":"object","additionalProperties":{"type":"string"}}},"required":["size"]}
            """))
        var findings = SchemaFindings()
        let value = try JSONValue.parse(#"{"size":0,"color":"blue","port":true,"extra":{"a":{"b":1}},"tags":{"x":1}}"#)
        let checked = SchemaCheck.check(value, schema, findings: &findings)
        XCTAssertEqual(findings.invalid.map(\.field), ["size", "color", "port", "tags.x"])
        XCTAssertEqual(findings.invalid.first?.message, "Invalid value: 0: size in body should be greater than or equal to 1")
        XCTAssertEqual(checked["extra"]?.serialized, #"{"a":{"b":1}}"#, "preserved as it is")
        XCTAssertTrue(findings.unknownFields.isEmpty)

        findings = SchemaFindings()
        _ = SchemaCheck.check(try JSONValue.parse(#"{"color":"red"}"#), schema, findings: &findings)
        XCTAssertEqual(findings.invalid.map(\.message), ["Required value"])
    }

    func testOpenAPIRoundTripKeepsDescriptionsAndShapes() throws {
        let openAPI = WorkloadSchemas.deployment.openAPI
        XCTAssertEqual(openAPI["properties"]?["spec"]?["properties"]?["replicas"]?["type"]?.string, "integer")
        XCTAssertNotNil(openAPI["properties"]?["spec"]?["properties"]?["replicas"]?["description"]?.string)
        let reread = FieldSchema(openAPI: openAPI)
        XCTAssertEqual(reread.openAPI.serialized, openAPI.serialized)
    }
}
