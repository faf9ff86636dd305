import COpenSSLShims
import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong in an OpenSSL call, with OpenSSL's own reason when it gave one.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ what: String) {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // "error:0480006C:PEM routines::no start line" → "no start line"
            reasons.append(text.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? text)
        }
        description = reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
    }
}

/// An X.509 certificate's identity and validity, as read by OpenSSL.
public struct X509Summary: Sendable, Equatable {
    /// The subject in one-line RFC 2253 form (`CN=example.com,O=Example`).
    public let subject: String
    public let issuer: String
    /// Validity window, in seconds since 1970-01-01 UTC.
    public let notBefore: Int64
    public let notAfter: Int64
}

/// A private key held by OpenSSL.
public final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    /// A new ECDSA P-256 key.
    public static func generateP256() throws(CryptoError) -> PrivateKey {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else { throw CryptoError("cannot start key generation") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_ec_paramgen_curve_nid(context, NID_X9_62_prime256v1) == 1,
              EVP_PKEY_keygen(context, &key) == 1, let key else { throw CryptoError("cannot generate a P-256 key") }
        return PrivateKey(key)
    }

    /// The key in PEM text (any type OpenSSL reads: PKCS#8, RSA, EC).
    public init(pem: [UInt8]) throws(CryptoError) {
        let key: OpaquePointer? = OpenSSL.withMemoryBIO(pem) { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
        guard let key else { throw CryptoError("not a PEM private key") }
        pointer = key
    }

    /// PKCS#8 PEM text.
    public func pem() throws(CryptoError) -> [UInt8] {
        try OpenSSL.writeToMemory { PEM_write_bio_PrivateKey($0, pointer, nil, nil, 0, nil, nil) == 1 }
    }
}

/// What a new certificate says about its subject.
public struct CertificateRequest: Sendable {
    public var commonName: String
    public var organization: String?
    public var dnsNames: [String]
    public var ipAddresses: [String]
    /// A certificate authority signs other certificates; a leaf serves TLS (server and client auth).
    public var isAuthority: Bool
    /// Validity from a minute ago (clocks differ a little) for this many seconds.
    public var lifetimeSeconds: Int

    public init(commonName: String, organization: String? = nil, dnsNames: [String] = [], ipAddresses: [String] = [],
                isAuthority: Bool = false, lifetimeSeconds: Int) {
        self.commonName = commonName
        self.organization = organization
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.isAuthority = isAuthority
        self.lifetimeSeconds = lifetimeSeconds
    }
}

/// An X.509 certificate held by OpenSSL.
public final class Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_free(pointer) }

    /// The first certificate in PEM text.
    public init(pem: [UInt8]) throws(CryptoError) {
        let certificate: OpaquePointer? = OpenSSL.withMemoryBIO(pem) { PEM_read_bio_X509($0, nil, nil, nil) }
        guard let certificate else { throw CryptoError("not a PEM certificate") }
        pointer = certificate
    }

    public func pem() throws(CryptoError) -> [UInt8] {
        try OpenSSL.writeToMemory { PEM_write_bio_X509($0, pointer) == 1 }
    }

    /// Subject, issuer and validity.
    public func summary() throws(CryptoError) -> X509Summary {
        guard let notBefore = Self.epochSeconds(X509_get0_notBefore(pointer)), let notAfter = Self.epochSeconds(X509_get0_notAfter(pointer)) else {
            throw CryptoError("the certificate's validity dates cannot be read")
        }
        return X509Summary(subject: Self.nameText(X509_get_subject_name(pointer)), issuer: Self.nameText(X509_get_issuer_name(pointer)),
                           notBefore: notBefore, notAfter: notAfter)
    }

    /// Whether `key` is this certificate's private key.
    public func isKey(_ key: PrivateKey) -> Bool {
        defer { ERR_clear_error() }
        return X509_check_private_key(pointer, key.pointer) == 1
    }

    /// Issues a certificate for `key`'s public half, signed by `issuer` (or by `key` itself: self-signed).
    public static func issue(_ request: CertificateRequest, for key: PrivateKey,
                             signedBy issuer: (certificate: Certificate, key: PrivateKey)? = nil) throws(CryptoError) -> Certificate {
        guard let certificate = X509_new() else { throw CryptoError("cannot allocate a certificate") }
        let result = Certificate(certificate)
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw CryptoError("cannot draw a serial number") }
        serial[0] &= 0x7F  // positive
        let number = BN_bin2bn(serial, Int32(serial.count), nil)
        defer { BN_free(number) }
        guard X509_set_version(certificate, 2) == 1, BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil,
              X509_gmtime_adj(X509_getm_notBefore(certificate), -60) != nil,
              X509_gmtime_adj(X509_getm_notAfter(certificate), request.lifetimeSeconds) != nil,
              X509_set_pubkey(certificate, key.pointer) == 1 else { throw CryptoError("cannot fill in the certificate") }
        let subject = X509_get_subject_name(certificate)
        if let organization = request.organization {
            guard X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, organization, -1, -1, 0) == 1 else { throw CryptoError("bad organization") }
        }
        guard X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, request.commonName, -1, -1, 0) == 1 else {
            throw CryptoError("bad common name \(request.commonName)")
        }
        let issuerCertificate = issuer?.certificate.pointer ?? certificate
        guard X509_set_issuer_name(certificate, X509_get_subject_name(issuerCertificate)) == 1 else { throw CryptoError("cannot set the issuer") }
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, request.isAuthority ? "critical,CA:TRUE" : "critical,CA:FALSE"),
            (NID_key_usage, request.isAuthority ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature,keyEncipherment"),
            (NID_subject_key_identifier, "hash"),
        ]
        if !request.isAuthority { extensions.append((NID_ext_key_usage, "serverAuth,clientAuth")) }
        if issuer != nil { extensions.append((NID_authority_key_identifier, "keyid:always")) }
        let names = request.dnsNames.map { "DNS:\($0)" } + request.ipAddresses.map { "IP:\($0)" }
        if !names.isEmpty { extensions.append((NID_subject_alt_name, names.joined(separator: ","))) }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuerCertificate, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let item = X509V3_EXT_conf_nid(nil, &context, nid, value) else { throw CryptoError("bad certificate extension \(value)") }
            defer { X509_EXTENSION_free(item) }
            guard X509_add_ext(certificate, item, -1) == 1 else { throw CryptoError("cannot add extension \(value)") }
        }
        guard X509_sign(certificate, (issuer?.key ?? key).pointer, EVP_sha256()) > 0 else { throw CryptoError("cannot sign the certificate") }
        return result
    }

    private static func epochSeconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64? {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Int64(timegm(&parts))
    }

    private static func nameText(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        let text = try? OpenSSL.writeToMemory { X509_NAME_print_ex($0, name, 0, COpenSSLShims_XN_FLAG_RFC2253()) >= 0 }
        return String(decoding: text ?? [], as: UTF8.self)
    }
}

/// meshctl's one door to OpenSSL: everything else sees Swift types only.
public enum OpenSSL {
    /// The linked library's version text, e.g. `OpenSSL 3.0.19 27 Jan 2026`.
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }

    static func withMemoryBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer?) -> T) -> T {
        bytes.withUnsafeBytes { buffer in
            let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count))
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    /// How sessions of a context write and keep memory: an idle session gives back its record buffers (about 34 KiB),
    /// and `SSL_write` returns after each record and may retry a stalled record from a buffer that has since moved
    /// (its bytes unchanged): a connection's write queue may grow, and its storage move, while a record waits.
    static func setSessionModes(_ context: OpaquePointer) {
        _ = SSL_CTX_ctrl(context, SSL_CTRL_MODE, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
    }

    static func writeToMemory(_ write: (OpaquePointer?) -> Bool) throws(CryptoError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError("cannot allocate a memory buffer") }
        defer { BIO_free(bio) }
        guard write(bio) else { throw CryptoError("cannot write PEM") }
        var pointer: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
        guard let pointer, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
    }
}

/// Server-side TLS settings: a certificate chain and its key, TLS 1.2 and newer, ALPN `http/1.1`.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer

    /// `certificateChain` is the leaf first, then any intermediates.
    public init(certificateChain: [Certificate], key: PrivateKey) throws(CryptoError) {
        guard let leaf = certificateChain.first, let context = SSL_CTX_new(TLS_server_method()) else {
            throw CryptoError("cannot create a TLS context")
        }
        self.context = context
        _ = COpenSSLShims_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        OpenSSL.setSessionModes(context)
        guard SSL_CTX_use_certificate(context, leaf.pointer) == 1, SSL_CTX_use_PrivateKey(context, key.pointer) == 1,
              SSL_CTX_check_private_key(context) == 1 else { throw CryptoError("the certificate and key do not fit together") }
        for intermediate in certificateChain.dropFirst() {
            X509_up_ref(intermediate.pointer)
            guard COpenSSLShims_SSL_CTX_add_extra_chain_cert(context, intermediate.pointer) == 1 else { throw CryptoError("bad chain certificate") }
        }
        SSL_CTX_set_alpn_select_cb(context, { _, selected, selectedLength, offered, offeredLength, _ in
            // Offered is a list of length-prefixed names; answer http/1.1 when it is among them.
            guard let offered, let selected, let selectedLength else { return SSL_TLSEXT_ERR_NOACK }
            var index = 0
            let wanted = Array("http/1.1".utf8)
            while index < Int(offeredLength) {
                let length = Int(offered[index])
                if length == wanted.count, index + 1 + length <= Int(offeredLength),
                   (0..<length).allSatisfy({ offered[index + 1 + $0] == wanted[$0] }) {
                    selected.pointee = offered + index + 1
                    selectedLength.pointee = UInt8(length)
                    return SSL_TLSEXT_ERR_OK
                }
                index += 1 + length
            }
            return SSL_TLSEXT_ERR_NOACK
        }, nil)
    }

    deinit { SSL_CTX_free(context) }
}

/// Client-side TLS settings: the authorities to trust, TLS 1.2 and newer, ALPN `http/1.1`; the peer's certificate
/// must verify and name the host asked for.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer

    public init(trusting authorities: [Certificate]) throws(CryptoError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw CryptoError("cannot create a TLS context") }
        self.context = context
        _ = COpenSSLShims_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        OpenSSL.setSessionModes(context)
        let store = SSL_CTX_get_cert_store(context)
        for authority in authorities {
            guard X509_STORE_add_cert(store, authority.pointer) == 1 else { throw CryptoError("cannot trust the authority") }
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        let protocols: [UInt8] = [8] + Array("http/1.1".utf8)
        guard SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count)) == 0 else { throw CryptoError("cannot offer ALPN") }
    }

    deinit { SSL_CTX_free(context) }
}

/// One TLS connection over a non-blocking socket.
public final class TLSSession: @unchecked Sendable {
    private let ssl: OpaquePointer

    /// The client side of a connection to `host` (a DNS name or an IP literal, which the certificate must name).
    public init(client context: TLSClientContext, socket: Int32, host: String) throws(CryptoError) {
        guard let ssl = SSL_new(context.context) else { throw CryptoError("cannot create a TLS session") }
        self.ssl = ssl
        SSL_set_fd(ssl, socket)
        SSL_set_connect_state(ssl)
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        if isAddress {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else { throw CryptoError("bad address \(host)") }
        } else {
            _ = COpenSSLShims_SSL_set_tlsext_host_name(ssl, host)
            guard SSL_set1_host(ssl, host) == 1 else { throw CryptoError("bad host name \(host)") }
        }
    }

    /// The protocol ALPN settled on (`http/1.1`), if any.
    public var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// What a TLS read, write or handshake step came to.
    public enum Step: Equatable {
        case done(Int)
        /// Call again when the socket is readable (or writable).
        case wantRead, wantWrite
        /// The peer closed the TLS session.
        case closed
        case failed(String)
    }

    public init(server context: TLSServerContext, socket: Int32) throws(CryptoError) {
        guard let ssl = SSL_new(context.context) else { throw CryptoError("cannot create a TLS session") }
        self.ssl = ssl
        SSL_set_fd(ssl, socket)
        SSL_set_accept_state(ssl)
    }

    deinit { SSL_free(ssl) }

    public var handshakeDone: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Decrypted bytes TLS holds that a read would return without touching the socket.
    public var bufferedBytes: Int { Int(SSL_pending(ssl)) }

    public func handshake() -> Step { step(SSL_do_handshake(ssl)) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Step {
        step(SSL_read(ssl, buffer.baseAddress, Int32(buffer.count)))
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Step {
        step(SSL_write(ssl, bytes.baseAddress, Int32(bytes.count)))
    }

    /// Sends close_notify; best effort.
    public func shutdown() {
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    private func step(_ result: Int32) -> Step {
        if result > 0 { return .done(Int(result)) }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0: return .closed
        default: return .failed(CryptoError("TLS").description)
        }
    }
}
