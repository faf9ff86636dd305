import XCTest
@testable import KubeClient

final class CurlTests: XCTestCase {
    func testLinkedLibcurlReportsItsVersion() {
        let parts = CurlLibrary.version.split(separator: ".")
        XCTAssertGreaterThanOrEqual(parts.count, 2, CurlLibrary.version)
        XCTAssertNotNil(Int(parts[0]))
    }
}
