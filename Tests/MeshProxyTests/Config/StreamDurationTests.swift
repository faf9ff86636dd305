@testable import MeshProxy
import XCTest

/// A route's `max_stream_duration` and the request's `grpc-timeout` under `grpc_timeout_header_max`.
final class StreamDurationTests: XCTestCase {
    func testGRPCTimeoutValuesAreReadInEachUnitAndMalformedOnesAreNot() {
        XCTAssertEqual(StreamDuration.parseGRPCTimeout("2H"), 7200)
        XCTAssertEqual(StreamDuration.parseGRPCTimeout("3M"), 180)
        XCTAssertEqual(StreamDuration.parseGRPCTimeout("5S"), 5)
        XCTAssertEqual(StreamDuration.parseGRPCTimeout("250m"), 0.25)
        XCTAssertEqual(StreamDuration.parseGRPCTimeout("1500u"), 0.0015)
        XCTAssertEqual(StreamDuration.parseGRPCTimeout("99999999n")!, 0.099999999, accuracy: 1e-12)
        for bad in ["", "S", "10", "10s", "123456789S", "-1S", "1.5S", "soon", "１S"] {
            XCTAssertNil(StreamDuration.parseGRPCTimeout(bad), bad)
        }
    }

    func testTheHeaderCountsOnlyWhenTheRouteReadsIt() {
        var duration = StreamDuration()
        XCTAssertNil(duration.limit(grpcTimeout: "1S"), "no max_stream_duration, no grpc_timeout_header_max")
        duration.maximum = 10
        XCTAssertEqual(duration.limit(grpcTimeout: "1S"), 10, "the header is not read without grpc_timeout_header_max")
        duration.grpcTimeoutHeaderMax = 0
        XCTAssertEqual(duration.limit(grpcTimeout: "1S"), 1, "0: the header as it is")
        XCTAssertEqual(duration.limit(grpcTimeout: nil), 10, "no header: max_stream_duration")
        XCTAssertEqual(duration.limit(grpcTimeout: "bad"), 10)
        duration.grpcTimeoutHeaderMax = 0.5
        XCTAssertEqual(duration.limit(grpcTimeout: "1S"), 0.5, "capped")
        duration.grpcTimeoutHeaderMax = 0
        duration.grpcTimeoutHeaderOffset = 0.25
        XCTAssertEqual(duration.limit(grpcTimeout: "1S"), 0.75, "less the offset")
        XCTAssertEqual(duration.limit(grpcTimeout: "100m"), 0.1, "an offset larger than the timeout is not taken")
    }
}
