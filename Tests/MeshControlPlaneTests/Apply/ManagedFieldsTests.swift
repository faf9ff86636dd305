import XCTest
@testable import MeshControlPlane
import Manifests

/// Field sets as FieldsV1 and managedFields through updates and server-side applies.
final class ManagedFieldsTests: XCTestCase {
    private let keyed: FieldSet.ListKeys = { field, items in Patches.mergeKey(for: field, parent: "", items: items) }

    func testFieldSetOfAnObjectAndFieldsV1RoundTrip() throws {
        let object = try JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"#
                                         + #""spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}"#)
        let set = FieldSet.of(object, listKeys: keyed)
        XCTAssertEqual(set.fieldsV1.serialized, #"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{".":{},"#
                       + #""f:spec":{".":{},"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}"#)
        XCTAssertEqual(FieldSet(fieldsV1: set.fieldsV1), set)
        XCTAssertEqual(FieldSet.value(object, at: ["f:spec", "f:template", "f:spec", "f:containers", #"k:{"name":"web"}"#, "f:image"]), .string("nginx"))
        XCTAssertEqual(FieldSet.describe(["f:spec", "f:containers", #"k:{"name":"web"}"#, "f:image"]), #".spec.containers[name="web"].image"#)
    }

    func testApplyConflictsForceAndPruning() throws {
        var managed = ManagedFields(nil)
        let first = try JSONValue.parse(#"{"data":{"a":"1","b":"2"}}"#)
        var live = try managed.apply(first, to: nil, manager: "one", apiVersion: "v1", force: false, listKeys: keyed)

        // Same value: shared, no conflict. Different value: conflict, unless forced.
        live = try managed.apply(try JSONValue.parse(#"{"data":{"a":"1"}}"#), to: live, manager: "two", apiVersion: "v1", force: false, listKeys: keyed)
        XCTAssertThrowsError(try managed.apply(try JSONValue.parse(#"{"data":{"b":"3"}}"#), to: live, manager: "two", apiVersion: "v1",
                                               force: false, listKeys: keyed)) { error in
            XCTAssertEqual((error as? ApplyConflict)?.apiError.message, #"Apply failed with 1 conflict: conflict with "one" using v1: .data.b"#)
        }
        live = try managed.apply(try JSONValue.parse(#"{"data":{"a":"1","b":"3"}}"#), to: live, manager: "two", apiVersion: "v1", force: true,
                                 listKeys: keyed)
        XCTAssertEqual(live["data"]?.serialized, #"{"a":"1","b":"3"}"#)

        // "one" stops applying both: a stays (two owns it), b stays (two took it over).
        live = try managed.apply(try JSONValue.parse(#"{"data":{}}"#), to: live, manager: "one", apiVersion: "v1", force: false, listKeys: keyed)
        XCTAssertEqual(live["data"]?.serialized, #"{"a":"1","b":"3"}"#)
        // "two" stops applying b: nobody owns it any more, so it goes.
        live = try managed.apply(try JSONValue.parse(#"{"data":{"a":"1"}}"#), to: live, manager: "two", apiVersion: "v1", force: false, listKeys: keyed)
        XCTAssertEqual(live["data"]?.serialized, #"{"a":"1"}"#)
    }

    func testUpdatesTakeWhatTheyChange() throws {
        var managed = ManagedFields(nil)
        let old = try JSONValue.parse(#"{"spec":{"replicas":1,"paused":false}}"#)
        _ = try managed.apply(old, to: nil, manager: "apply", apiVersion: "apps/v1", force: false, listKeys: keyed)
        managed.recordUpdate(manager: "scale", apiVersion: "apps/v1", old: old, new: try JSONValue.parse(#"{"spec":{"replicas":3,"paused":false}}"#),
                             listKeys: keyed)
        let owners = Dictionary(uniqueKeysWithValues: managed.entries.map { ($0.manager, $0.fields.fieldsV1.serialized) })
        XCTAssertEqual(owners["apply"], #"{"f:spec":{"f:paused":{}}}"#)
        XCTAssertEqual(owners["scale"], #"{"f:spec":{"f:replicas":{}}}"#)
    }
}
