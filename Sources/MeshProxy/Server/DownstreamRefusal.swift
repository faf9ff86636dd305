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

    /// The parser refused the bytes with `status` for `reason` (the texts of MeshHTTP1's parsers).
    init(parserStatus status: Int, reason: String) {
        isProtocolError = true
        switch status {
        case 431:
            self.status = 431
            details = "http1.headers_too_large"
        case 501:
            self.status = 501
            details = "http1.invalid_transfer_encoding"
        case 505:
            // Envoy answers every version but 1.1 (and 1.0 where taken) as too low.
            self.status = 426
            details = "low_version"
        default:
            // Only the reasons' fixed beginnings are compared: what follows may quote the client's bytes.
            if reason.hasPrefix("both Transfer-Encoding and Content-Length") {
                self.status = 400
                details = "http1.content_length_and_chunked_not_allowed"
            } else if reason.hasPrefix("unsupported Transfer-Encoding") {
                self.status = 501
                details = "http1.invalid_transfer_encoding"
            } else if reason.hasPrefix("a NUL byte") {
                self.status = 400
                details = "http1.invalid_characters"
            } else {
                self.status = status == 413 ? 413 : 400
                details = status == 413 ? "request_payload_too_large" : "http1.codec_error"
            }
        }
        body = ResponseHead.reason(self.status)
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
