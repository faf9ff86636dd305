@testable import MeshProxy
import XCTest

/// The fault filter's decisions with chosen draws: which configuration applies, the fixed and header-controlled
/// delays and aborts under their percentages, and the gRPC abort's second draw.
final class FaultInjectionTests: XCTestCase {
    private func fault(abortStatus: Int? = nil, abortGRPCStatus: Int? = nil, abortFromHeader: Bool = false, abortFraction: Double = 0,
                       delaySeconds: Double? = nil, delayFromHeader: Bool = false, delayFraction: Double = 0) -> FaultConfig {
        var config = FaultConfig(abortStatus: abortStatus, abortFromHeader: abortFromHeader, abortFraction: abortFraction,
                                 delaySeconds: delaySeconds, delayFromHeader: delayFromHeader, delayFraction: delayFraction)
        config.abortGRPCStatus = abortGRPCStatus
        return config
    }

    /// Draws handed out in order; the test fails when the decision takes more than it was given.
    private func draws(_ values: [Double]) -> () -> Double {
        var left = values
        return {
            guard !left.isEmpty else { XCTFail("more draws taken than expected"); return 0 }
            return left.removeFirst()
        }
    }

    func testTheRoutesConfigurationReplacesTheFiltersOnlyWhenTheFilterIsThere() {
        let filterConfig = fault(abortStatus: 503, abortFraction: 1)
        let routeConfig = fault(delaySeconds: 2, delayFraction: 1)
        XCTAssertNil(FaultInjection.config(filters: [], routeFault: routeConfig), "a route's fault config alone does nothing")
        XCTAssertEqual(FaultInjection.config(filters: [.fault(filterConfig)], routeFault: nil), filterConfig)
        XCTAssertEqual(FaultInjection.config(filters: [.fault(filterConfig)], routeFault: routeConfig), routeConfig)
        let later = fault(abortStatus: 418, abortFraction: 1)
        XCTAssertEqual(FaultInjection.config(filters: [.fault(filterConfig), .fault(later)], routeFault: nil), later, "the last fault filter's")
    }

    func testAFixedDelayAppliesWhenTheDrawFallsUnderItsPercentage() {
        let config = fault(delaySeconds: 1.5, delayFraction: 0.25)
        XCTAssertEqual(FaultInjection.delay(config, delayHeader: nil, draw: draws([0.1])), 1.5)
        XCTAssertNil(FaultInjection.delay(config, delayHeader: nil, draw: draws([0.25])))
        XCTAssertNil(FaultInjection.delay(fault(), delayHeader: "100", draw: draws([])), "no delay configured, none taken from the header")
    }

    func testTheDelayHeaderGivesMillisecondsAndReplacesTheFixedDelay() {
        let config = fault(delaySeconds: 1.5, delayFromHeader: true, delayFraction: 0)
        XCTAssertEqual(FaultInjection.delay(config, delayHeader: "250", draw: draws([0.5, 0.99])), 0.25)
        XCTAssertNil(FaultInjection.delay(config, delayHeader: "soon", draw: draws([0.5])), "a value that is not a number is ignored")
        XCTAssertNil(FaultInjection.delay(config, delayHeader: nil, draw: draws([0.5])))
    }

    func testAFixedAbortAppliesUnderItsPercentage() {
        let config = fault(abortStatus: 503, abortFraction: 0.5)
        XCTAssertEqual(FaultInjection.abort(config, abortHeader: nil, draw: draws([0.4])), .status(503))
        XCTAssertNil(FaultInjection.abort(config, abortHeader: nil, draw: draws([0.5])))
        XCTAssertNil(FaultInjection.abort(fault(), abortHeader: "500", draw: draws([])), "no abort configured, none taken from the header")
    }

    func testTheAbortHeaderReplacesTheStatusWhenItIsAValidOne() {
        let config = fault(abortStatus: 503, abortFromHeader: true, abortFraction: 0)
        XCTAssertEqual(FaultInjection.abort(config, abortHeader: "429", draw: draws([0.9])), .status(429), "the header's status, whatever the draw")
        XCTAssertNil(FaultInjection.abort(config, abortHeader: "600", draw: draws([0.9])), "outside 200-599: ignored")
        XCTAssertNil(FaultInjection.abort(config, abortHeader: "199", draw: draws([0.9])))
        XCTAssertNil(FaultInjection.abort(config, abortHeader: "x", draw: draws([0.9])))
        XCTAssertEqual(FaultInjection.abort(fault(abortStatus: 503, abortFromHeader: true, abortFraction: 1), abortHeader: "600", draw: draws([0.1])), .status(503))
    }

    func testAGRPCAbortTakesASecondDrawWhenNoStatusApplies() {
        let config = fault(abortGRPCStatus: 14, abortFraction: 0.5)
        XCTAssertEqual(FaultInjection.abort(config, abortHeader: nil, draw: draws([0.2])), .grpcStatus(14))
        XCTAssertNil(FaultInjection.abort(config, abortHeader: nil, draw: draws([0.7])))
        let both = fault(abortStatus: 503, abortGRPCStatus: 14, abortFraction: 0.5)
        XCTAssertEqual(FaultInjection.abort(both, abortHeader: nil, draw: draws([0.2])), .status(503), "the HTTP status first")
        XCTAssertEqual(FaultInjection.abort(both, abortHeader: nil, draw: draws([0.7, 0.3])), .grpcStatus(14), "then a second draw for the gRPC status")
    }
}
