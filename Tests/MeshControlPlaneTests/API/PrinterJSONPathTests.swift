import XCTest
@testable import MeshControlPlane
import Manifests

/// The JSONPath of CRD printer columns.
final class PrinterJSONPathTests: XCTestCase {
    func testPathsFiltersAndCells() throws {
        let object = try JSONValue.parse(#"{"metadata":{"creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"hosts":["a","b"],"ports":[{"port":80}]},"#
                                         + #""status":{"conditions":[{"type":"Synced","status":"False"},{"type":"Ready","status":"True"}]}}"#)
        func cell(_ path: String, _ type: String = "string") -> JSONValue? { PrinterJSONPath(path)?.cell(object, type: type) }
        XCTAssertEqual(cell(".spec.hosts"), .string(#"["a","b"]"#))
        XCTAssertEqual(cell(".spec.hosts[*]"), .string("a"), "the first match only")
        XCTAssertEqual(cell(".spec.ports[0].port", "integer"), .string("80"))
        XCTAssertEqual(cell(#".status.conditions[?(@.type=="Ready")].status"#), .string("True"))
        XCTAssertEqual(cell(".status.missing"), nil)
        let now = try XCTUnwrap(Timestamps.parse("2026-01-04T00:00:00Z"))
        XCTAssertEqual(PrinterJSONPath(".metadata.creationTimestamp")?.cell(object, type: "date", now: now), .string("3d"))
        XCTAssertNil(PrinterJSONPath(".spec..hosts"))
    }
}
