import XCTest
@testable import MeshControlPlane
import Manifests

final class PatchesAndSelectorsTests: XCTestCase {
    private func json(_ text: String) -> JSONValue { try! JSONValue.parse(text) }

    func testMergePatch() {
        XCTAssertEqual(Patches.merge(json(#"{"a":1,"b":{"c":2,"d":3},"e":[1]}"#), json(#"{"b":{"c":null,"x":4},"e":[2],"f":"g"}"#)),
                       json(#"{"a":1,"b":{"d":3,"x":4},"e":[2],"f":"g"}"#))
    }

    func testJSONPatch() throws {
        let patched = try Patches.json(json(#"{"metadata":{"labels":{"a":"1"}},"items":[1,2]}"#), json(#"""
            [{"op":"add","path":"/metadata/labels/b~1c","value":"2"},{"op":"remove","path":"/items/0"},
             {"op":"replace","path":"/metadata/labels/a","value":"9"},{"op":"add","path":"/items/-","value":3},
             {"op":"test","path":"/items/0","value":2}]
            """#))
        XCTAssertEqual(patched, json(#"{"metadata":{"labels":{"a":"9","b/c":"2"}},"items":[2,3]}"#))
        XCTAssertThrowsError(try Patches.json(json("{}"), json(#"[{"op":"replace","path":"/nope","value":1}]"#)))
    }

    func testStrategicMergeByKeyOrderAndDelete() throws {
        let deployment = json(#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x:1","ports":[{"containerPort":80},{"containerPort":81}]},{"name":"b","image":"y:1"}]}}}}"#)
        let patch = json(#"""
            {"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"},{"name":"c"}],
             "containers":[{"name":"a","image":"x:2","ports":[{"containerPort":81,"$patch":"delete"}]},{"name":"c","image":"z:1"}]}}}}
            """#)
        let result = try Patches.strategic(deployment, patch)
        let containers = try XCTUnwrap(result.value(atPath: "spec.template.spec.containers")?.array)
        XCTAssertEqual(containers.map { $0["name"]?.string }, ["b", "a", "c"])
        XCTAssertEqual(containers[1]["image"]?.string, "x:2")
        XCTAssertEqual(containers[1]["ports"], json(#"[{"containerPort":80}]"#))
    }

    func testLabelAndFieldSelectors() throws {
        let selector = try LabelSelectorQuery(parsing: "app=web,tier!=db,env in (prod, stage),!legacy,release")
        XCTAssertTrue(selector.matches(["app": "web", "env": "prod", "release": "1"]))
        XCTAssertFalse(selector.matches(["app": "web", "env": "dev", "release": "1"]))
        XCTAssertFalse(selector.matches(["app": "web", "env": "prod", "release": "1", "legacy": "y"]))
        XCTAssertTrue(try LabelSelectorQuery(parsing: "env notin (dev)").matches([:]))
        XCTAssertThrowsError(try LabelSelectorQuery(parsing: "bad key=1"))
        let fields = try FieldSelectorQuery(parsing: "metadata.name=web,metadata.namespace!=kube-system")
        XCTAssertTrue(fields.matches(json(#"{"metadata":{"name":"web","namespace":"demo"}}"#)))
        XCTAssertFalse(fields.matches(json(#"{"metadata":{"name":"web","namespace":"kube-system"}}"#)))
        XCTAssertThrowsError(try FieldSelectorQuery(parsing: "spec.nodeName=x"))
    }

    func testTableCellsAndAges() throws {
        let type = try XCTUnwrap(ResourceCatalog.find(group: "networking.istio.io", version: "v1", plural: "virtualservices"))
        let now = Date()
        let created = Timestamps.format(now.addingTimeInterval(-3 * 86_400 - 7200))
        let row = Tables.row(type, json(#"{"metadata":{"name":"web","creationTimestamp":"\#(created)"},"spec":{"hosts":["web"]}}"#), now: now)
        XCTAssertEqual(row["cells"], json(#"["web",null,"[\"web\"]","3d2h"]"#))
        XCTAssertEqual(Tables.age(json(#"{"metadata":{}}"#), now: now), "<unknown>")
        XCTAssertEqual(Timestamps.parse("2026-11-27T16:08:18.5+01:00"), Timestamps.parse("2026-11-27T15:08:18Z"))
        XCTAssertEqual(Timestamps.format(Timestamps.parse("2026-11-27T15:08:18Z")!), "2026-11-27T15:08:18Z")
    }
}

final class ProtobufEnvelopeTests: XCTestCase {
    /// Length-delimited field `number` holding `bytes`.
    private func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
    private func text(_ number: Int, _ value: String) -> [UInt8] { field(number, Array(value.utf8)) }

    func testConfigMapInItsEnvelope() throws {
        let metadata = text(1, "cfg") + text(3, "shop") + field(11, text(1, "app") + text(2, "web"))
        let configMap = field(1, metadata) + field(2, text(1, "a") + text(2, "b"))
        let body = ProtobufEnvelope.magic + field(1, text(1, "v1") + text(2, "ConfigMap")) + field(2, configMap)
        XCTAssertEqual(try ProtobufEnvelope.decode(body)?.serialized,
                       #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"shop","labels":{"app":"web"}},"data":{"a":"b"}}"#)
        XCTAssertNil(try ProtobufEnvelope.decode(ProtobufEnvelope.magic + field(1, text(1, "apps/v1") + text(2, "Deployment"))))
        XCTAssertThrowsError(try ProtobufEnvelope.decode(ProtobufEnvelope.magic + [0x0a, 0x7f]), "a length past the end")
        XCTAssertThrowsError(try ProtobufEnvelope.decode(Array("{}".utf8)))
        XCTAssertThrowsError(try ProtobufEnvelope.decode(ProtobufEnvelope.magic + [0x0a] + [UInt8](repeating: 0xff, count: 9) + [0x01]),
                             "a length beyond any message is refused, not a trap")
    }
}
