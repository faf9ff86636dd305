import Foundation
import XCTest
@testable import MeshControlPlane

final class CronScheduleTests: XCTestCase {
    func date(_ text: String) -> Date { Timestamps.parse(text)! }

    func testFieldsRangesStepsNamesAndMacros() throws {
        let quarter = try CronSchedule("*/15 * * * *")
        XCTAssertEqual(quarter.next(after: date("2026-11-30T10:07:30Z")), date("2026-11-30T10:15:00Z"))
        let weekdays = try CronSchedule("30 9 * * mon-fri")
        // 2026-11-28 is a Saturday: the next run is Monday morning.
        XCTAssertEqual(weekdays.next(after: date("2026-11-28T12:00:00Z")), date("2026-11-30T09:30:00Z"))
        let yearly = try CronSchedule("@yearly")
        XCTAssertEqual(yearly.next(after: date("2026-11-28T12:00:00Z")), date("2027-01-01T00:00:00Z"))
        let list = try CronSchedule("0 1,13 1 jan,jul *")
        XCTAssertEqual(list.next(after: date("2026-01-01T02:00:00Z")), date("2026-01-01T13:00:00Z"))
        XCTAssertEqual(list.next(after: date("2026-01-01T13:00:00Z")), date("2026-07-01T01:00:00Z"))
        // Both day fields restricted: either one matching is enough, as in cron.
        let either = try CronSchedule("0 0 13 * fri")
        XCTAssertEqual(either.next(after: date("2026-11-10T00:00:00Z")), date("2026-11-13T00:00:00Z"))
        XCTAssertEqual(either.next(after: date("2026-11-13T00:00:00Z")), date("2026-11-20T00:00:00Z"))
    }

    func testLatestMissedTimeIsFoundQuicklyAfterALongStop() throws {
        let everyMinute = try CronSchedule("* * * * *")
        XCTAssertEqual(everyMinute.latest(after: date("2020-01-01T00:00:00Z"), notAfter: date("2026-11-30T10:07:30Z")), date("2026-11-30T10:07:00Z"))
        XCTAssertNil(everyMinute.latest(after: date("2026-11-30T10:07:00Z"), notAfter: date("2026-11-30T10:07:59Z")))
        let daily = try CronSchedule("@daily")
        XCTAssertEqual(daily.latest(after: date("2026-11-01T00:00:00Z"), notAfter: date("2026-11-30T10:07:30Z")), date("2026-11-30T00:00:00Z"))
    }

    func testBadSchedulesSayWhatIsWrong() {
        XCTAssertThrowsError(try CronSchedule("* * * *")) { XCTAssertTrue("\($0)".contains("expected 5 fields"), "\($0)") }
        XCTAssertThrowsError(try CronSchedule("61 * * * *")) { XCTAssertTrue("\($0)".contains("minute"), "\($0)") }
        XCTAssertThrowsError(try CronSchedule("*/0 * * * *")) { XCTAssertTrue("\($0)".contains("step"), "\($0)") }
        XCTAssertThrowsError(try CronSchedule("0 0 * * *", timeZone: "Mars/Olympus")) { XCTAssertTrue("\($0)".contains("time zone"), "\($0)") }
    }
}
