@testable import MeshProxy
import XCTest

/// A local reply as a gRPC client gets it, and the first bytes' verdict of the AUTO codec.
final class LocalReplyGRPCTests: XCTestCase {
    func testHTTPStatusesMapToGRPCStatusesAsInEnvoy() {
        let expected = [400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14, 500: 2, 418: 2]
        for (http, grpc) in expected { XCTAssertEqual(LocalReply.grpcStatus(forHTTP: http), grpc, "\(http)") }
    }

    func testAGRPCReplyIsTrailersOnlyWithTheBodyAsItsMessage() {
        let reply = LocalReply.noHealthyUpstream.asGRPC()
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.body, "")
        XCTAssertEqual(reply.flags, [.noHealthyUpstream])
        XCTAssertEqual(reply.extraHeaders.map(\.name), ["content-type", "grpc-status", "grpc-message"])
        XCTAssertEqual(reply.extraHeaders.map(\.value), ["application/grpc", "14", "no healthy upstream"])
        XCTAssertFalse(LocalReply.noRoute.asGRPC().extraHeaders.contains { $0.name == "grpc-message" }, "an empty body gives no message")
        XCTAssertEqual(LocalReply.maxDurationTimeout.asGRPC().extraHeaders.first { $0.name == "grpc-status" }?.value, "4", "its own status wins")
        let fault = LocalReply.faultAbort(grpcStatus: 9, grpcRequest: true)
        XCTAssertEqual(fault.asGRPC().extraHeaders.map(\.value), fault.extraHeaders.map(\.value), "already gRPC-shaped")
        XCTAssertEqual(LocalReply.overflow.asGRPC().extraHeaders.last?.name, "x-envoy-overloaded", "the reply's own headers stay")
    }

    func testGRPCMessagesArePercentEncodedOutsidePrintableASCII() {
        XCTAssertEqual(LocalReply.grpcMessage("plain text/with: marks"), "plain text/with: marks")
        XCTAssertEqual(LocalReply.grpcMessage("100%\n"), "100%25%0A")
        XCTAssertEqual(LocalReply.grpcMessage("é"), "%C3%A9")
    }

    func testTheAutoCodecTellsTheH2PrefaceByItsFirstBytes() {
        func verdict(_ text: String) -> Bool? { Array(text.utf8).withUnsafeBytes { DownstreamCodec.verdict($0) } }
        XCTAssertNil(verdict(""))
        XCTAssertNil(verdict("PRI * HTTP/2.0\r\n"))
        XCTAssertEqual(verdict("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), true)
        XCTAssertEqual(verdict("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\u{12}\u{4}"), true)
        XCTAssertEqual(verdict("PUT / HTTP/1.1\r\n"), false)
        XCTAssertEqual(verdict("GET"), false)
        XCTAssertEqual(verdict("PRI * HTTP/1.1"), false)
    }
}
