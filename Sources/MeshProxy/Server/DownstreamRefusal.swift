import Foundation
import MeshHTTP1

/// A request the HTTP/1.1 connection manager answers itself before any filter sees it, as Envoy does: bytes its
/// codec refuses (flag DPE, `http1.*` details, the status's reason phrase as a text/plain body, the connection's
/// `downstream_cx_protocol_error`), an HTTP/1.0 or older request without `http_protocol_options.accept_http_10`
/// (426 `low_version`, also DPE), and an HTTP/1.1 request without Host (400 `missing_host_header`, no body).
struct DownstreamRefusal: Equatable {
    let status: Int
    /// `%RESPONSE_CODE_DETAILS%`.
    let details: String
    /// The codec refused the bytes: DPE, and no method or path in the access log.
    let isProtocolError: Bool
    let body: String

    /// The HTTP/1.1 decoder refused the bytes: Envoy's status and details for what was wrong.
    init(_ rejection: HTTP1RequestDecoder.Rejection) {
        isProtocolError = true
        switch rejection.kind {
        case .headTooLarge:
            (status, details) = (431, "http1.headers_too_large")
        case .unsupportedTransferEncoding:
            (status, details) = (501, "http1.invalid_transfer_encoding")
        case .unsupportedVersion:
            // Envoy answers every version but 1.1 (and 1.0 where taken) as too low.
            (status, details) = (426, "low_version")
        case .contentLengthWithTransferEncoding:
            (status, details) = (400, "http1.content_length_and_chunked_not_allowed")
        case .nulInHead:
            (status, details) = (400, "http1.invalid_characters")
        case .bareLineBreak, .emptyHead, .malformedRequestLine, .foldedHeaderLine, .malformedHeaderLine, .repeatedContentLength,
             .badContentLength, .badChunkedBody:
            (status, details) = (400, "http1.codec_error")
        }
        body = ResponseHead.reason(status)
    }

    private init(status: Int, details: String, isProtocolError: Bool, body: String) {
        self.status = status
        self.details = details
        self.isProtocolError = isProtocolError
        self.body = body
    }

    /// Why the connection manager will not take this parsed request, or nil. An HTTP/1.0 request it takes gets
    /// `default_host_for_http_10` as its Host when it has none (none of either: 400 `missing_host_header`).
    static func check(_ request: inout HTTPRequest, manager: HTTPConnectionManagerConfig) -> DownstreamRefusal? {
        if request.version == 10 {
            guard manager.acceptHTTP10 else {
                return DownstreamRefusal(status: 426, details: "low_version", isProtocolError: true, body: ResponseHead.reason(426))
            }
            guard !request.headers.contains(where: { HeaderName.equals($0.name, "host") }) else { return nil }
            // Without Host, the default host names the destination; without either, as for HTTP/1.1: 400.
            guard let host = manager.defaultHostForHTTP10 else {
                return DownstreamRefusal(status: 400, details: "missing_host_header", isProtocolError: false, body: "")
            }
            request.headers.append(("host", host))
            return nil
        }
        // An absolute-form target names the host (AbsoluteFormRequest moves it to Host when the manager takes those).
        guard request.headers.contains(where: { HeaderName.equals($0.name, "host") }) || request.target.utf8.first != UInt8(ascii: "/") && request.target != "*" else {
            return DownstreamRefusal(status: 400, details: "missing_host_header", isProtocolError: false, body: "")
        }
        return nil
    }
}
