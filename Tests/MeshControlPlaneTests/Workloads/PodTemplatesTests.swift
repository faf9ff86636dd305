import Foundation
import Manifests
import XCTest
@testable import MeshControlPlane

final class PodTemplatesTests: XCTestCase {
    func testTemplateHashIgnoresKeyOrderAndEmptyValues() throws {
        let a = try JSONValue.parse(#"{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"a","image":"x"}]}}"#)
        let b = try JSONValue.parse(#"{"spec":{"containers":[{"image":"x","name":"a"}]},"metadata":{"creationTimestamp":null,"labels":{"app":"web"}}}"#)
        XCTAssertEqual(PodTemplates.hash(a), PodTemplates.hash(b))
        XCTAssertNotEqual(PodTemplates.hash(a), PodTemplates.hash(a, collisionCount: 1))
        XCTAssertTrue(PodTemplates.hash(a).allSatisfy { PodTemplates.safeAlphabet.contains($0) })
        XCTAssertEqual(PodTemplates.scaled(.string("25%"), of: 3, roundUp: true, default: 0), 1)
        XCTAssertEqual(PodTemplates.scaled(.string("25%"), of: 3, roundUp: false, default: 0), 0)
        XCTAssertEqual(PodTemplates.scaled(.int(2), of: 3, roundUp: false, default: 0), 2)
    }
}
