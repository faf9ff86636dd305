@testable import MeshHTTP1
@testable import MeshProxy
import MeshNet
import XCTest

/// The HTTP/1.1 decoder's refusals as Envoy 1.40 answers them: status, `%RESPONSE_CODE_DETAILS%` and body, chosen by
/// the refusal's kind (never by its words, which may quote the client's bytes).
final class DownstreamRefusalTests: XCTestCase {
    /// Envoy's answer to each kind (its codec's details; the reason phrase as the body).
    static let envoyAnswers: [HTTP1RequestDecoder.Kind: (status: Int, details: String)] = [
        .nulInHead: (400, "http1.invalid_characters"),
        .bareLineBreak: (400, "http1.codec_error"),
        .headTooLarge: (431, "http1.headers_too_large"),
        .emptyHead: (400, "http1.codec_error"),
        .malformedRequestLine: (400, "http1.codec_error"),
        .unsupportedVersion: (426, "low_version"),
        .foldedHeaderLine: (400, "http1.codec_error"),
        .malformedHeaderLine: (400, "http1.codec_error"),
        .repeatedContentLength: (400, "http1.codec_error"),
        .badContentLength: (400, "http1.codec_error"),
        .contentLengthWithTransferEncoding: (400, "http1.content_length_and_chunked_not_allowed"),
        .unsupportedTransferEncoding: (501, "http1.invalid_transfer_encoding"),
        .badChunkedBody: (400, "http1.codec_error"),
    ]

    func testEachKindOfRefusalGetsEnvoysStatusAndDetails() {
        XCTAssertEqual(Set(Self.envoyAnswers.keys.map { "\($0)" }), Set(HTTP1RequestDecoder.Kind.allCases.map { "\($0)" }), "every kind is listed")
        for kind in HTTP1RequestDecoder.Kind.allCases {
            guard let expected = Self.envoyAnswers[kind] else { continue }
            // The words do not matter: a reason that reads like another kind's changes nothing.
            let refusal = DownstreamRefusal(HTTP1RequestDecoder.Rejection(kind, "a NUL byte; both Transfer-Encoding and Content-Length"))
            XCTAssertEqual(refusal.status, expected.status, "\(kind)")
            XCTAssertEqual(refusal.details, expected.details, "\(kind)")
            XCTAssertEqual(refusal.body, ResponseHead.reason(expected.status), "\(kind)")
            XCTAssertTrue(refusal.isProtocolError, "\(kind)")
        }
    }

    /// What the decoder refuses reaches the answer of its kind.
    func testTheDecodersRefusalsMapThroughTheirKind() throws {
        let requests: [(HTTP1RequestDecoder.Kind, String)] = [
            (.nulInHead, "GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n"),
            (.contentLengthWithTransferEncoding, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            (.unsupportedTransferEncoding, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            (.unsupportedVersion, "GET / HTTP/1.2\r\n\r\n"),
            (.headTooLarge, "GET /" + String(repeating: "a", count: 300)),
            (.badChunkedBody, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ]
        for (kind, request) in requests {
            var decoder = HTTP1RequestDecoder(maxHeadBytes: 256)
            decoder.feed(ByteBuffer(string: request))
            do {
                while try decoder.next() != nil {}
                XCTFail("not refused: \(request.debugDescription)")
            } catch {
                XCTAssertEqual(DownstreamRefusal(error).details, Self.envoyAnswers[kind]?.details, request.debugDescription)
            }
        }
    }
}
