import XCTest
@testable import Manifests

final class RFC3339Tests: XCTestCase {
    func testTimesAsKubernetesAndPluginsWriteThem() {
        XCTAssertEqual(RFC3339.epochSeconds("1970-01-02T00:00:00Z"), 86_400)
        XCTAssertEqual(RFC3339.epochSeconds("2026-11-27T16:08:18.5+01:00"), RFC3339.epochSeconds("2026-11-27T15:08:18Z"))
        XCTAssertNil(RFC3339.epochSeconds("٢٠٢٦-soon"), "digits of other scripts are not read as a time (and do not trap)")
        XCTAssertNil(RFC3339.epochSeconds("2026-11-27 15:08:18Z"))
    }
}
