import XCTest
@testable import MeshCLIKit

/// The demo's counting: what one `local curl -v` got, the tally of a batch, and the binomial 3-sigma check.
final class TrafficTallyTests: XCTestCase {
    func testAnOutcomeIsReadFromLocalCurlsStatusLineAndTheEchoBody() {
        let ok = TrafficOutcome(exitCode: .success, stdout: "pod=cart-v2-abc\nnamespace=shop\nversion=v2\n",
                                stderr: "* cart.shop is 127.96.0.9; connecting\n> GET / HTTP/1.1\n>\n< HTTP/1.1 200 OK\n< content-type: text/plain\n<\n")
        XCTAssertEqual(ok, .answered(status: 200, version: "v2", faultInjected: false))
        let fault = TrafficOutcome(exitCode: .success, stdout: "fault filter abort", stderr: "< HTTP/1.1 503 Service Unavailable\n")
        XCTAssertEqual(fault, .answered(status: 503, version: nil, faultInjected: true))
        let refused = TrafficOutcome(exitCode: .failure, stdout: "",
                                     stderr: "* cart.shop is 127.96.0.9\n> GET / HTTP/1.1\n>\nerror: the connection to 127.96.0.9:80 closed without an answer (empty reply)\n")
        XCTAssertEqual(refused, .noAnswer(reason: "the connection to 127.96.0.9:80 closed without an answer (empty reply)"))
        XCTAssertEqual(TrafficOutcome(exitCode: .failure, stdout: "", stderr: ""), .noAnswer(reason: "no answer (exit 1)"))
    }

    func testATallyCountsVersionsFaultsAndRequestsWithoutAnAnswer() {
        var outcomes = Array(repeating: TrafficOutcome.answered(status: 200, version: "v1", faultInjected: false), count: 6)
        outcomes += [.answered(status: 200, version: "v2", faultInjected: false), .answered(status: 503, version: nil, faultInjected: true),
                     .answered(status: 500, version: nil, faultInjected: false), .noAnswer(reason: "reset")]
        let tally = TrafficTally(outcomes)
        XCTAssertEqual(tally.total, 10)
        XCTAssertEqual(tally.ok, 7)
        XCTAssertEqual(tally.okByVersion, ["v1": 6, "v2": 1])
        XCTAssertEqual(tally.faultInjected, 1)
        XCTAssertEqual(tally.noAnswer, 1)
        XCTAssertEqual(tally.otherFailures, 1)
        XCTAssertEqual(tally.splitText, "v1 6 (60.0%), v2 1 (10.0%)")
        XCTAssertEqual(tally.outcomesText, "HTTP 200 x7, HTTP 500 x1, HTTP 503 x1, no answer x1 (reset)")
        XCTAssertEqual(TrafficTally().splitText, "no request answered 2xx")
    }

    func testTheBinomialCheckAllowsThreeStandardDeviations() {
        // 200 requests at 10%: mean 20, sd √18 ≈ 4.24, so 3 sigma ≈ 12.7 requests: 8...32 hold, 7 and 33 do not.
        let canary = BinomialCheck(observed: 19, trials: 200, expectedShare: 0.1)
        XCTAssertEqual(canary.expectedCount, 20, accuracy: 1e-9)
        XCTAssertEqual(canary.standardDeviation, 18.0.squareRoot(), accuracy: 1e-9)
        XCTAssertTrue(canary.holds)
        XCTAssertEqual(canary.expectedText, "10.0% ± 6.4% (3 sigma of 200 requests)")
        XCTAssertEqual(canary.measuredText, "19 of 200 (9.5%), 0.2 sigma off")
        XCTAssertTrue(BinomialCheck(observed: 8, trials: 200, expectedShare: 0.1).holds)
        XCTAssertTrue(BinomialCheck(observed: 32, trials: 200, expectedShare: 0.1).holds)
        XCTAssertFalse(BinomialCheck(observed: 7, trials: 200, expectedShare: 0.1).holds)
        XCTAssertFalse(BinomialCheck(observed: 33, trials: 200, expectedShare: 0.1).holds)
        // A 50/50 split where v2 never answers is far outside.
        XCTAssertFalse(BinomialCheck(observed: 0, trials: 200, expectedShare: 0.5).holds)
        XCTAssertTrue(BinomialCheck(observed: 115, trials: 200, expectedShare: 0.5).holds)
    }

    func testCertainExpectationsMustBeExactAndNoTrialsNeverHold() {
        XCTAssertTrue(BinomialCheck(observed: 50, trials: 50, expectedShare: 1).holds)
        XCTAssertFalse(BinomialCheck(observed: 49, trials: 50, expectedShare: 1).holds)
        XCTAssertEqual(BinomialCheck(observed: 0, trials: 50, expectedShare: 0).expectedText, "0.0% exactly")
        XCTAssertFalse(BinomialCheck(observed: 0, trials: 0, expectedShare: 0.5).holds)
    }
}
