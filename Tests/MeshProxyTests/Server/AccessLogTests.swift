import Foundation
@testable import MeshProxy
import XCTest

final class AccessLogTests: XCTestCase {
    func testIstioFormatRendersTheSampleUFLine() throws {
        let format = try AccessLogFormat("[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n")
        var entry = AccessLogEntry()
        entry.startTime = Date(timeIntervalSince1970: 1_795_797_712.176)
        entry.method = "GET"
        entry.path = "/noretry/v3"
        entry.protocolName = "HTTP/1.1"
        entry.authority = "reviews.default.svc.cluster.local:9080"
        entry.requestHeaders = [("user-agent", "meshctl-sample/dead-noretry"), ("x-request-id", "109ef93c-fe40-4a64-9e3a-607f5a79cd49")]
        entry.responseCode = 503
        entry.add(.upstreamConnectionFailure)
        entry.details = "upstream_reset_before_response_started{remote connection failure|delayed_connect_error: Connection refused}"
        entry.transportFailureReason = "delayed_connect_error: Connection refused"
        entry.bytesSent = 98
        entry.upstreamHost = "127.0.0.1:19089"
        entry.upstreamCluster = "outbound|9080|v3|reviews.default.svc.cluster.local"
        entry.downstreamLocalAddress = "127.0.0.1:9080"
        entry.downstreamRemoteAddress = "127.0.0.1:47490"
        entry.routeName = "v3-noretry"
        XCTAssertEqual(format.render(entry), "[2026-11-27T16:41:52.176Z] \"GET /noretry/v3 HTTP/1.1\" 503 UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - \"delayed_connect_error:_Connection_refused\" 0 98 0 - \"-\" \"meshctl-sample/dead-noretry\" \"109ef93c-fe40-4a64-9e3a-607f5a79cd49\" \"reviews.default.svc.cluster.local:9080\" \"127.0.0.1:19089\" outbound|9080|v3|reviews.default.svc.cluster.local - 127.0.0.1:9080 127.0.0.1:47490 - v3-noretry\n")
    }

    func testFlagsPrintInEnvoysOrder() {
        var entry = AccessLogEntry()
        entry.add(.upstreamConnectionFailure)
        entry.add(.upstreamRetryLimitExceeded)
        entry.add(.upstreamConnectionFailure)
        XCTAssertEqual(entry.flags.map(\.rawValue), ["URX", "UF"])
    }

    func testUnknownOperatorsAreRefused() {
        XCTAssertThrowsError(try AccessLogFormat("%UPSTREAM_PEER_SUBJECT%")) { error in
            XCTAssertEqual("\(error)", "%UPSTREAM_PEER_SUBJECT% is not an access log operator meshctl's proxy supports")
        }
        XCTAssertThrowsError(try AccessLogFormat("100% done"))
        XCTAssertEqual(try AccessLogFormat("%% %PROTOCOL%").render(AccessLogEntry()), "% -")
    }

    /// A sidecar's access log goes to `/dev/stdout`, a pipe the kubelet reads: lines reach it (no seek, which a pipe
    /// refuses), and a file keeps what it had, the new lines after it.
    func testTheWriterAppendsToPipesAndFiles() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { unlink(fifo) }
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        let writer = AccessLogWriter()
        defer { writer.close() }
        writer.write("first line\n", to: fifo)
        writer.write("second line\n", to: fifo)
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(reader, &buffer, buffer.count)
        XCTAssertEqual(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self), "first line\nsecond line\n")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: file) }
        try "earlier\n".write(to: file, atomically: true, encoding: .utf8)
        writer.write("appended\n", to: file.path)
        writer.close()
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "earlier\nappended\n")
    }
}
