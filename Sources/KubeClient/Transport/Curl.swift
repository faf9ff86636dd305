import CCurl
import CCurlShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libcurl, the only HTTP client meshctl uses. This is the only file that sees libcurl.
///
/// meshctl does not link libcurl: it opens it when the first client is made (most commands never talk to an API
/// server, and mapping libcurl's ~20 libraries was most of meshctl's start). `MESHCTL_LIBCURL` names another file
/// to open instead of the system's `libcurl.so.4`.
public enum CurlLibrary {
    /// The file libcurl is opened from.
    public static var file: String {
        if let chosen = getenv("MESHCTL_LIBCURL"), chosen.pointee != 0 { return String(cString: chosen) }
        #if os(macOS)
        return "libcurl.4.dylib"
        #else
        return "libcurl.so.4"
        #endif
    }

    /// Opens libcurl, once per process; when it cannot be opened, an error that says which package to install.
    public static func load() throws {
        guard let failure = CCurlShims_load(file) else { return }
        throw TransportError(reason: "meshctl talks to API servers through libcurl, which could not be loaded ("
                             + String(cString: failure) + "); install it with: apt-get install libcurl4 "
                             + "(the package is libcurl4t64 on Ubuntu 24.04 and later)")
    }

    /// The loaded libcurl's version, e.g. `7.88.1`, or `not installed` when it cannot be opened.
    public static var version: String {
        guard (try? load()) != nil else { return "not installed" }
        guard let info = CCurlShims_version_info(CURLVERSION_TENTH), let text = info.pointee.version else { return "unknown" }
        return String(cString: text)
    }
}

/// One HTTP request for `CurlClient`.
public struct HTTPClientRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)] = []
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.last { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// How a `CurlClient` connects: whom it trusts, who it is, and through what.
public struct CurlOptions: Sendable {
    /// PEM text of the certificate authorities to trust instead of the system's.
    public var certificateAuthorities: [UInt8]?
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    public var insecureSkipVerify = false
    public var proxy: String?
    public var timeoutSeconds = 30
    public var connectTimeoutSeconds = 10
    /// `name:port:host:port`: connect to host:port for requests to name:port (a kubeconfig's tls-server-name).
    public var connectTo: String?
    /// Speak HTTP/2 from the first byte on plain `http://` URLs too (h2c with prior knowledge), not only over TLS.
    /// libcurl before 8.0 cannot reuse such a connection for a second request (curl/curl#10634).
    public var http2PriorKnowledge = false

    public init(certificateAuthorities: [UInt8]? = nil, timeoutSeconds: Int = 30) {
        self.certificateAuthorities = certificateAuthorities
        self.timeoutSeconds = timeoutSeconds
    }
}

/// Why a request got no HTTP answer: what kind of failure it was (decided from libcurl's result code, never from
/// its wording) and libcurl's explanation, naming the server.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    /// The kinds of failure callers decide on.
    public enum Failure: Sendable, Equatable {
        /// The host name (or the proxy's) did not resolve.
        case cannotResolve
        /// Nothing accepted the connection.
        case cannotConnect
        case timedOut
        /// The TLS handshake failed, or the server's certificate was not trusted.
        case tls
        /// The connection broke or closed before a whole answer came: worth one more try for a read.
        case connectionLost
        /// Anything else, with libcurl's result code.
        case other(code: Int32)
    }

    /// `GET https://...`, or empty when no request was made.
    public let request: String
    /// libcurl's explanation: refused, name not resolved, certificate not trusted (with the subject), timed out.
    public let reason: String
    /// What kind of failure it was, for callers that retry or explain.
    public let failure: Failure

    /// An error for `request` (empty when none was sent); `failure` is `.other(code: 0)` when no libcurl code applies.
    public init(request: String = "", reason: String, failure: Failure = .other(code: 0)) {
        self.request = request
        self.reason = reason
        self.failure = failure
    }

    public var description: String { request.isEmpty ? reason : "\(request): \(reason)" }
}

/// Sends one HTTP request and returns the answer: libcurl in meshctl, a scripted fake in unit tests.
public protocol HTTPTransport: AnyObject {
    func perform(_ request: HTTPClientRequest) throws -> HTTPClientResponse
    func performStreaming(_ request: HTTPClientRequest, onData: @escaping ([UInt8]) -> Bool) throws -> HTTPClientResponse
}

extension HTTPTransport {
    /// Transports that cannot stream hand over the whole body at once.
    public func performStreaming(_ request: HTTPClientRequest, onData: @escaping ([UInt8]) -> Bool) throws -> HTTPClientResponse {
        let response = try perform(request)
        _ = onData(response.body)
        return HTTPClientResponse(status: response.status, headers: response.headers, body: [])
    }
}

/// A libcurl easy handle: requests one after another, reusing the connection. An easy handle must not be used by
/// two threads at once, so requests from several threads take turns (a streamed one holds the handle until it ends).
public final class CurlClient: HTTPTransport, @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let turn = Locked(())
    private let options: CurlOptions
    private var connectToList: UnsafeMutablePointer<curl_slist>?

    public convenience init(certificateAuthorities: [UInt8]? = nil, timeoutSeconds: Int = 30) throws {
        try self.init(options: CurlOptions(certificateAuthorities: certificateAuthorities, timeoutSeconds: timeoutSeconds))
    }

    public init(options: CurlOptions) throws {
        try CurlLibrary.load()
        guard let handle = CCurlShims_easy_init() else { throw TransportError(reason: "libcurl cannot start a request") }
        self.handle = handle
        self.options = options
        // HTTP/2 where the server offers it over TLS; connections are kept and reused between requests.
        CCurlShims_easy_setopt_long(handle, CURLOPT_HTTP_VERSION,
                                    options.http2PriorKnowledge ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_2TLS)
        CCurlShims_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        CCurlShims_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, options.connectTimeoutSeconds)
        CCurlShims_easy_setopt_long(handle, CURLOPT_TIMEOUT, options.timeoutSeconds)
        if options.insecureSkipVerify {
            CCurlShims_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            CCurlShims_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let proxy = options.proxy { CCurlShims_easy_setopt_string(handle, CURLOPT_PROXY, proxy) }
        if let connectTo = options.connectTo {
            connectToList = CCurlShims_slist_append(nil, connectTo)
            CCurlShims_easy_setopt_slist(handle, CURLOPT_CONNECT_TO, connectToList)
        }
        // Blobs are copied by libcurl (CURL_BLOB_COPY), so they need not outlive these calls.
        func setBlob(_ option: CURLoption, _ bytes: [UInt8]?) {
            guard let bytes else { return }
            bytes.withUnsafeBytes { raw in
                var blob = curl_blob(data: UnsafeMutableRawPointer(mutating: raw.baseAddress), len: raw.count, flags: UInt32(CURL_BLOB_COPY))
                CCurlShims_easy_setopt_pointer(handle, option, &blob)
            }
        }
        setBlob(CURLOPT_CAINFO_BLOB, options.certificateAuthorities)
        setBlob(CURLOPT_SSLCERT_BLOB, options.clientCertificate)
        setBlob(CURLOPT_SSLKEY_BLOB, options.clientKey)
        if options.clientCertificate != nil {
            CCurlShims_easy_setopt_string(handle, CURLOPT_SSLCERTTYPE, "PEM")
            CCurlShims_easy_setopt_string(handle, CURLOPT_SSLKEYTYPE, "PEM")
        }
    }

    deinit {
        CCurlShims_easy_cleanup(handle)
        CCurlShims_slist_free_all(connectToList)
    }

    private final class Sink {
        var bytes: [UInt8] = []
        var headerLines: [String] = []
        /// For streamed responses: gets each piece as it arrives; false stops the transfer.
        var onData: (([UInt8]) -> Bool)?
        /// Set when `onData` asked to stop: libcurl then reports a write error that is no failure.
        var stoppedByReceiver = false
    }

    public func perform(_ request: HTTPClientRequest) throws -> HTTPClientResponse {
        try turn.withLock { _ in try perform(request, sink: Sink()) }
    }

    /// Sends a request whose answer streams (a watch): `onData` gets the body piece by piece until the server
    /// ends it or `onData` returns false. The returned response has the status and headers, and no body.
    /// The handle is held until the stream ends: `onData` must not send requests through this client.
    public func performStreaming(_ request: HTTPClientRequest, onData: @escaping ([UInt8]) -> Bool) throws -> HTTPClientResponse {
        let sink = Sink()
        sink.onData = onData
        return try turn.withLock { _ in try perform(request, sink: sink) }
    }

    private func perform(_ request: HTTPClientRequest, sink: Sink) throws -> HTTPClientResponse {
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { CCurlShims_slist_free_all(headerList) }
        for (name, value) in request.headers { headerList = CCurlShims_slist_append(headerList, "\(name): \(value)") }
        // Curl expects a body pointer that outlives the call.
        return try request.body.withUnsafeBytes { body -> HTTPClientResponse in
            try errorBuffer.withUnsafeMutableBufferPointer { errors -> HTTPClientResponse in
                CCurlShims_easy_setopt_string(handle, CURLOPT_URL, request.url)
                CCurlShims_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
                CCurlShims_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
                CCurlShims_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                if request.method == "GET" || request.method == "HEAD" {
                    CCurlShims_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
                    CCurlShims_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, nil)
                } else {
                    CCurlShims_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress))
                    CCurlShims_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                }
                return try run(request, sink, errors)
            }
        }
    }

    /// The subject of the certificate a server presents, read by a second connection that only does the TLS
    /// handshake without verifying it (no request is sent, so no credential leaves): for the error message.
    static func peerCertificateSubject(_ url: String, options: CurlOptions) -> String? {
        guard let probe = CCurlShims_easy_init() else { return nil }
        defer { CCurlShims_easy_cleanup(probe) }
        CCurlShims_easy_setopt_string(probe, CURLOPT_URL, url)
        CCurlShims_easy_setopt_long(probe, CURLOPT_CONNECT_ONLY, 1)
        CCurlShims_easy_setopt_long(probe, CURLOPT_CERTINFO, 1)
        CCurlShims_easy_setopt_long(probe, CURLOPT_SSL_VERIFYPEER, 0)
        CCurlShims_easy_setopt_long(probe, CURLOPT_SSL_VERIFYHOST, 0)
        CCurlShims_easy_setopt_long(probe, CURLOPT_CONNECTTIMEOUT, options.connectTimeoutSeconds)
        CCurlShims_easy_setopt_long(probe, CURLOPT_NOSIGNAL, 1)
        let connectTo = options.connectTo.map { CCurlShims_slist_append(nil, $0) } ?? nil
        defer { CCurlShims_slist_free_all(connectTo) }
        if connectTo != nil { CCurlShims_easy_setopt_slist(probe, CURLOPT_CONNECT_TO, connectTo) }
        guard CCurlShims_easy_perform(probe) == CURLE_OK else { return nil }
        var pointer: UnsafeMutableRawPointer?
        guard CCurlShims_easy_getinfo_pointer(probe, CURLINFO_CERTINFO, &pointer) == CURLE_OK, let pointer else { return nil }
        let info = pointer.assumingMemoryBound(to: curl_certinfo.self).pointee
        guard info.num_of_certs > 0, var entry = info.certinfo?[0] else { return nil }
        while true {
            let line = String(cString: entry.pointee.data)
            if line.hasPrefix("Subject:") { return String(line.dropFirst("Subject:".count)) }
            guard let next = entry.pointee.next else { return nil }
            entry = next
        }
    }

    /// The kind of failure a libcurl result code means.
    static func failure(_ code: CURLcode) -> TransportError.Failure {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .cannotResolve
        case CURLE_COULDNT_CONNECT: return .cannotConnect
        case CURLE_OPERATION_TIMEDOUT: return .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return .tls
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return .connectionLost
        default: return .other(code: Int32(code.rawValue))
        }
    }

    private func run(_ request: HTTPClientRequest, _ sink: Sink, _ errors: UnsafeMutableBufferPointer<CChar>) throws -> HTTPClientResponse {
        let context = Unmanaged.passUnretained(sink).toOpaque()
        CCurlShims_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        CCurlShims_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let piece = UnsafeRawBufferPointer(start: data, count: size * count)
            if let onData = sink.onData {
                if onData(Array(piece)) { return size * count }
                sink.stoppedByReceiver = true
                return 0
            }
            sink.bytes.append(contentsOf: piece)
            return size * count
        }
        CCurlShims_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
        CCurlShims_easy_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            sink.headerLines.append(String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self))
            return size * count
        }
        let result = CCurlShims_easy_perform(handle)
        // A streamed answer the receiver stopped on purpose ends in a write error: that is its normal end.
        guard result == CURLE_OK || (result == CURLE_WRITE_ERROR && sink.stoppedByReceiver) else {
            let detail = String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var reason = detail.isEmpty ? String(cString: CCurlShims_easy_strerror(result)) : detail
            if result == CURLE_PEER_FAILED_VERIFICATION || result == CURLE_SSL_CACERT_BADFILE || detail.contains("SSL certificate problem"),
               let subject = Self.peerCertificateSubject(request.url, options: options) {
                reason += " (the server's certificate: \(subject))"
            }
            throw TransportError(request: "\(request.method) \(request.url)", reason: reason, failure: Self.failure(result))
        }
        var status = 0
        CCurlShims_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        // Headers of the last response only (a 100 Continue or a redirect comes first).
        var headers: [(name: String, value: String)] = []
        for line in sink.headerLines {
            if line.hasPrefix("HTTP/") { headers.removeAll(); continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmed))
        }
        return HTTPClientResponse(status: status, headers: headers, body: sink.bytes)
    }
}
