import EnvoyConfig
import XCTest

final class AccessLogTests: XCTestCase {
    static let refused = #"[2026-11-30T19:44:32.802Z] "GET /api/v1/charges/ch_3PqL1042 HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 121 51 - "-" "storefront/3.2 python-requests/2.31.0" "e4fdf68a-ca8a-42a6-b546-f8ff915c5f18" "payments.billing:8080" "127.0.0.1:21107" outbound|8080||payments.billing.svc.cluster.local - 127.0.0.1:21106 127.0.0.1:41474 - default"#

    func testReadsEveryFieldOfIstiosDefaultFormat() throws {
        let entry = try AccessLogEntry(line: Self.refused + "\r\n")
        XCTAssertEqual(entry.startTime, "2026-11-30T19:44:32.802Z")
        XCTAssertEqual([entry.method, entry.path, entry.httpProtocol], ["GET", "/api/v1/charges/ch_3PqL1042", "HTTP/1.1"])
        XCTAssertEqual(entry.responseCode, 503)
        XCTAssertEqual(entry.responseFlags, ["URX", "UF"])
        XCTAssertEqual(entry.responseCodeDetails, "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}")
        XCTAssertEqual(entry.connectionTerminationDetails, "")
        XCTAssertEqual(entry.upstreamTransportFailureReason, "delayed_connect_error:_Connection_refused")
        XCTAssertEqual([entry.bytesReceived, entry.bytesSent], [0, 121])
        XCTAssertEqual(entry.duration, 51)
        XCTAssertEqual(entry.upstreamServiceTime, "")
        XCTAssertEqual(entry.userAgent, "storefront/3.2 python-requests/2.31.0")
        XCTAssertEqual(entry.authority, "payments.billing:8080")
        XCTAssertEqual(entry.upstreamHost, "127.0.0.1:21107")
        XCTAssertEqual(entry.upstreamCluster, "outbound|8080||payments.billing.svc.cluster.local")
        XCTAssertEqual(entry.upstreamLocalAddress, "")
        XCTAssertEqual(entry.downstreamLocalAddress, "127.0.0.1:21106")
        XCTAssertEqual(entry.downstreamRemoteAddress, "127.0.0.1:41474")
        XCTAssertEqual(entry.requestedServerName, "")
        XCTAssertEqual(entry.routeName, "default")
        XCTAssertEqual(try AccessLogEntry(line: entry.textValues.enumerated().map { index, value in
            index == 0 ? "[\(value)]" : [1, 6, 11, 12, 13, 14, 15].contains(index) ? "\"\(value)\"" : value
        }.joined(separator: " ")), entry)
    }

    func testReadsTCPLinesAndTheJSONEncoding() throws {
        let tcp = try AccessLogEntry(line: #"[2026-11-30T19:45:08.001Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 10.96.0.1:443 10.1.0.7:43990 - -"#)
        XCTAssertEqual(tcp.responseCode, 0)
        XCTAssertEqual(tcp.method, "")
        XCTAssertEqual(tcp.responseFlags, ["UH"])
        XCTAssertEqual(tcp.upstreamCluster, "BlackHoleCluster")

        let json = try AccessLogEntry(line: #"{"response_code":503,"response_flags":"UO","response_code_details":"upstream_reset_before_response_started{overflow}","upstream_cluster":"outbound|7070||inventory.shop.svc.cluster.local","authority":"inventory:7070","path":"/v1","method":"GET","duration":0}"#)
        XCTAssertEqual(json.responseCode, 503)
        XCTAssertEqual(json.responseFlags, ["UO"])
        XCTAssertEqual(json.upstreamCluster, "outbound|7070||inventory.shop.svc.cluster.local")
        XCTAssertTrue(AccessLogEntry.looksLikeEntry(#"{"response_code":200}"#))
        XCTAssertFalse(AccessLogEntry.looksLikeEntry("2026-11-30T19:44:30.000000Z\tinfo\tEnvoy proxy is ready"))
    }

    func testMalformedLinesSayWhereAndWhat() {
        func problem(_ line: String) -> AccessLogError? {
            do { _ = try AccessLogEntry(line: line); return nil } catch { return error }
        }
        XCTAssertEqual(problem(#"[2026-11-30T19:44:32.802Z] "GET / HTTP/1.1" 503"#)?.problem.hasPrefix("found 3 fields, Istio's default access-log format has 22"), true)
        XCTAssertEqual(problem(#"[2026-11-30T19:44:32.802Z "GET / HTTP/1.1" 503"#)?.column, 1)
        XCTAssertEqual(problem(#"[t] "GET / HTTP/1.1 503"#)?.problem, "the quote opened here is never closed")
        XCTAssertEqual(problem(Self.refused.replacingOccurrences(of: "\" 503 URX", with: "\" 5x3 URX"))?.problem, "the response code \"5x3\" is not a number")
        XCTAssertEqual(problem(Self.refused.replacingOccurrences(of: "\" 503 URX", with: "\" 5x3 URX"))?.column, 71)
        XCTAssertEqual(problem("{not json")?.problem.hasPrefix("not a JSON access-log line"), true)
        XCTAssertNotNil(problem(""))
    }
}
