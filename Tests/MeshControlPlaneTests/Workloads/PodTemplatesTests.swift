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

    /// maxSurge/maxUnavailable and replicas are the user's; odd percents and huge numbers used to trap (Int(nan),
    /// Int(inf), replicas + surge overflowing).
    func testScaledNeverTrapsOnOddOrHugeValues() {
        XCTAssertEqual(PodTemplates.scaled(.string("nan%"), of: 3, roundUp: true, default: 1), 1)
        XCTAssertEqual(PodTemplates.scaled(.string("inf%"), of: 3, roundUp: true, default: 1), 1)
        XCTAssertEqual(PodTemplates.scaled(.string("-5%"), of: 3, roundUp: true, default: 1), 1)
        XCTAssertEqual(PodTemplates.scaled(.string("1e400%"), of: 3, roundUp: true, default: 1), 1)
        XCTAssertEqual(PodTemplates.scaled(.string("%"), of: 3, roundUp: true, default: 1), 1)
        XCTAssertEqual(PodTemplates.scaled(.string("99999999999999999999999%"), of: 3, roundUp: true, default: 1), Int(Int32.max))
        XCTAssertEqual(PodTemplates.scaled(.string("100%"), of: Int.max, roundUp: true, default: 1), Int(Int32.max))
        XCTAssertEqual(PodTemplates.scaled(.int(Int.max), of: 3, roundUp: true, default: 1), Int(Int32.max))
        XCTAssertEqual(PodTemplates.scaled(.int(-4), of: 3, roundUp: true, default: 1), 0)
        let replicas = PodTemplates.clampedCount(Int.max)
        XCTAssertEqual(replicas + PodTemplates.scaled(.int(Int.max), of: replicas, roundUp: true, default: 1), 2 * Int(Int32.max))
    }
}
