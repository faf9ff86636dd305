import XCTest
@testable import Manifests

final class SuggestionsTests: XCTestCase {
    func testEditDistance() {
        XCTAssertEqual(editDistance("namespce", "namespace"), 1)
        XCTAssertEqual(editDistance("", "abc"), 3)
        XCTAssertEqual(closestMatch(to: "verison", in: ["version", "completion"]), "version")
        XCTAssertNil(closestMatch(to: "zzzz", in: ["version"]))
    }

}
