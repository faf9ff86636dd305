import COpenSSLShims
import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MeshNet

/// What went wrong in an OpenSSL call, with OpenSSL's own reason when it gave one.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ what: String) {
        let reasons = OpenSSL.takeErrorReasons()
        description = reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
    }
}

/// A private key held by OpenSSL.
public final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer) { self.pointer = pointer }
    fileprivate convenience init(owning pointer: OpaquePointer) { self.init(pointer) }
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

/// An X.509 certificate held by OpenSSL.
public final class Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes over one reference to `pointer`.
    fileprivate init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_free(pointer) }

    /// The DNS, URI and IP address SANs.
    public var subjectAltNames: SubjectAltNames {
        var names = SubjectAltNames()
        guard let list = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return names }
        let stack = OpaquePointer(list)
        defer { GENERAL_NAMES_free(stack) }
        for index in 0..<OPENSSL_sk_num(stack) {
            guard let entry = OPENSSL_sk_value(stack, index)?.assumingMemoryBound(to: GENERAL_NAME.self).pointee else { continue }
            switch entry.type {
            case GEN_DNS: names.dnsNames.append(Self.text(entry.d.dNSName))
            case GEN_URI: names.uris.append(Self.text(entry.d.uniformResourceIdentifier))
            case GEN_IPADD: if let address = Self.address(entry.d.iPAddress) { names.ipAddresses.append(address) }
            default: continue
            }
        }
        return names
    }

    private static func text(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }

    private static func address(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String? {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return nil }
        let length = Int(ASN1_STRING_length(string))
        guard length == 4 || length == 16 else { return nil }
        var text = [CChar](repeating: 0, count: 64)
        guard inet_ntop(length == 4 ? AF_INET : AF_INET6, data, &text, socklen_t(text.count)) != nil else { return nil }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

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
        if !request.commonName.isEmpty {
            guard X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, request.commonName, -1, -1, 0) == 1 else {
                throw CryptoError("bad common name \(request.commonName)")
            }
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
        let names = request.dnsNames.map { "DNS:\($0)" } + request.ipAddresses.map { "IP:\($0)" } + request.uris.map { "URI:\($0)" }
        if !names.isEmpty {
            let critical = request.commonName.isEmpty && request.organization == nil ? "critical," : ""
            extensions.append((NID_subject_alt_name, critical + names.joined(separator: ",")))
        }
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

    /// How sessions of a context keep memory: an idle session gives back its record buffers (about 34 KiB). Every
    /// session is a `TLSEngine` over memory BIOs, whose writes never stall, so no partial or retried writes are enabled.
    static func setSessionModes(_ context: OpaquePointer) {
        _ = SSL_CTX_ctrl(context, SSL_CTRL_MODE, Int(SSL_MODE_RELEASE_BUFFERS), nil)
    }

    /// Empties this thread's OpenSSL error queue into reason texts: "error:0480006C:PEM routines::no start line"
    /// becomes "no start line" (ERR_error_string_n's last field).
    static func takeErrorReasons() -> [String] {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = text.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? text
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons
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

/// Server-side TLS settings: certificates chosen by the server name the client asks for (SNI), ALPN by the server's
/// own preference among the client's offers, TLS 1.2 and 1.3, optionally client certificates (mTLS) verified against a
/// trust bundle and checked for SPIFFE names, and session resumption (TLS 1.3 tickets, TLS 1.2 session ids or tickets).
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer
    public let configuration: TLSServerConfiguration
    private let protocolPreference: [[UInt8]]

    /// One certificate chain (leaf first, then intermediates) for every name, ALPN `http/1.1`, no client certificates.
    public convenience init(certificateChain: [Certificate], key: PrivateKey) throws(CryptoError) {
        try self.init(TLSServerConfiguration(identity: TLSIdentity(chain: certificateChain, key: key)))
    }

    public init(_ configuration: TLSServerConfiguration) throws(CryptoError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw CryptoError("cannot create a TLS context") }
        self.context = context
        self.configuration = configuration
        protocolPreference = configuration.applicationProtocols.map { Array($0.utf8) }
        try OpenSSL.configure(context, versions: configuration.versions)
        for identity in configuration.identities.namedValues { try OpenSSL.check(identity) }
        try OpenSSL.install(configuration.identities.defaultValue, in: context)
        if !configuration.sessionTickets { _ = SSL_CTX_set_options(context, COpenSSLShims_SSL_OP_NO_TICKET()) }
        // Sessions resume only on a context that made them (and OpenSSL refuses to resume a verified client without one).
        var sessionContext = [UInt8](repeating: 0, count: 32)
        guard RAND_bytes(&sessionContext, 32) == 1, SSL_CTX_set_session_id_context(context, sessionContext, 32) == 1 else {
            throw CryptoError("cannot set the session id context")
        }
        if !configuration.trustedClientAuthorities.isEmpty {
            try OpenSSL.trust(configuration.trustedClientAuthorities, in: context)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | (configuration.requiresClientCertificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                               OpenSSL.checkPeerNames)
        }
        let this = Unmanaged.passUnretained(self).toOpaque()
        SSL_CTX_set_alpn_select_cb(context, { _, selected, selectedLength, offered, offeredLength, this in
            guard let this, let selected, let selectedLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
            let server = Unmanaged<TLSServerContext>.fromOpaque(this).takeUnretainedValue()
            let offers = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
            // No protocol in common: go on without ALPN, as nginx and Envoy do, and let the application decide.
            guard let choice = ApplicationProtocols.select(preference: server.protocolPreference, offered: offers) else {
                return SSL_TLSEXT_ERR_NOACK
            }
            selected.pointee = offered + choice.lowerBound
            selectedLength.pointee = UInt8(choice.count)
            return SSL_TLSEXT_ERR_OK
        }, this)
        if !configuration.identities.namedValues.isEmpty {
            // Runs once the ClientHello (and its server name) is read, before the certificate is sent.
            SSL_CTX_set_cert_cb(context, { ssl, this in
                guard let ssl, let this else { return 1 }
                let server = Unmanaged<TLSServerContext>.fromOpaque(this).takeUnretainedValue()
                let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
                guard let identity = server.configuration.identities.namedValue(for: name) else { return 1 }
                return OpenSSL.select(identity, for: ssl) ? 1 : 0
            }, this)
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// Client-side TLS settings: the authorities to trust, optionally a client certificate (mTLS), ALPN offers, TLS 1.2
/// and 1.3, and a cache of sessions to resume, one per server name.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    public let configuration: TLSClientConfiguration
    private let lock = NSLock()
    private var sessions: [String: OpaquePointer] = [:]

    /// Trusts `authorities`, offers ALPN `http/1.1`, no client certificate.
    public convenience init(trusting authorities: [Certificate]) throws(CryptoError) {
        try self.init(TLSClientConfiguration(trusting: authorities))
    }

    public init(_ configuration: TLSClientConfiguration) throws(CryptoError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw CryptoError("cannot create a TLS context") }
        self.context = context
        self.configuration = configuration
        try OpenSSL.configure(context, versions: configuration.versions)
        try OpenSSL.trust(configuration.trustedAuthorities, in: context)
        SSL_CTX_set_verify(context, configuration.verifiesServer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, OpenSSL.checkPeerNames)
        if let identity = configuration.identity {
            try OpenSSL.check(identity)
            try OpenSSL.install(identity, in: context)
        }
        if !configuration.applicationProtocols.isEmpty {
            guard let protocols = ApplicationProtocols.wireFormat(configuration.applicationProtocols),
                  SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count)) == 0 else { throw CryptoError("cannot offer ALPN \(configuration.applicationProtocols)") }
        }
        if configuration.resumesSessions {
            // New sessions (TLS 1.3 tickets arrive after the handshake) go to this context's cache, not OpenSSL's.
            _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_SESS_CACHE_MODE, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE), nil)
            SSL_CTX_sess_set_new_cb(context) { ssl, session in
                guard let ssl, let session, let engine = TLSEngine.owning(ssl), let key = engine.sessionKey,
                      let client = engine.clientContext, SSL_SESSION_is_resumable(session) == 1 else { return 0 }
                client.keep(session, for: key)
                return 1
            }
        }
    }

    deinit {
        for session in sessions.values { SSL_SESSION_free(session) }
        SSL_CTX_free(context)
    }

    /// Forgets every session kept for resumption.
    public func forgetSessions() {
        lock.lock(); defer { lock.unlock() }
        for session in sessions.values { SSL_SESSION_free(session) }
        sessions = [:]
    }

    /// Takes over `session`'s reference, replacing the one kept for `key`.
    fileprivate func keep(_ session: OpaquePointer, for key: String) {
        lock.lock(); defer { lock.unlock() }
        if let old = sessions.updateValue(session, forKey: key) { SSL_SESSION_free(old) }
    }

    /// Sets the session kept for `key`, if any, on a new connection (OpenSSL takes its own reference).
    fileprivate func resume(_ ssl: OpaquePointer, key: String) {
        lock.lock(); defer { lock.unlock() }
        if let session = sessions[key] { _ = SSL_set_session(ssl, session) }
    }
}

extension OpenSSL {
    /// Settings every context shares: the versions, no renegotiation (so a write never has to read), idle sessions
    /// giving back their buffers.
    static func configure(_ context: OpaquePointer, versions: ClosedRange<TLSVersion>) throws(CryptoError) {
        guard COpenSSLShims_SSL_CTX_set_min_proto_version(context, Int32(versions.lowerBound.rawValue)) == 1,
              COpenSSLShims_SSL_CTX_set_max_proto_version(context, Int32(versions.upperBound.rawValue)) == 1 else {
            throw CryptoError("cannot limit the TLS versions")
        }
        _ = SSL_CTX_set_options(context, COpenSSLShims_SSL_OP_NO_RENEGOTIATION())
        setSessionModes(context)
    }

    static func trust(_ authorities: [Certificate], in context: OpaquePointer) throws(CryptoError) {
        let store = SSL_CTX_get_cert_store(context)
        for authority in authorities {
            guard X509_STORE_add_cert(store, authority.pointer) == 1 else { throw CryptoError("cannot trust the authority") }
        }
    }

    /// Fails unless the identity has a leaf and the key is the leaf's.
    static func check(_ identity: TLSIdentity) throws(CryptoError) {
        guard let leaf = identity.chain.first else { throw CryptoError("a TLS identity needs a certificate") }
        guard leaf.isKey(identity.key) else { throw CryptoError("the certificate and key do not fit together") }
    }

    /// The identity as a context's certificate, key and chain.
    static func install(_ identity: TLSIdentity, in context: OpaquePointer) throws(CryptoError) {
        guard let leaf = identity.chain.first, SSL_CTX_use_certificate(context, leaf.pointer) == 1,
              SSL_CTX_use_PrivateKey(context, identity.key.pointer) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw CryptoError("the certificate and key do not fit together")
        }
        for intermediate in identity.chain.dropFirst() {
            guard SSL_CTX_ctrl(context, SSL_CTRL_CHAIN_CERT, 1, UnsafeMutableRawPointer(intermediate.pointer)) == 1 else {
                throw CryptoError("bad chain certificate")
            }
        }
    }

    /// The identity as one connection's only certificate, key and chain (chosen by server name).
    static func select(_ identity: TLSIdentity, for ssl: OpaquePointer) -> Bool {
        guard let leaf = identity.chain.first else { return false }
        SSL_certs_clear(ssl)
        guard SSL_use_certificate(ssl, leaf.pointer) == 1, SSL_use_PrivateKey(ssl, identity.key.pointer) == 1 else { return false }
        return identity.chain.dropFirst().allSatisfy { SSL_ctrl(ssl, SSL_CTRL_CHAIN_CERT, 1, UnsafeMutableRawPointer($0.pointer)) == 1 }
    }

    /// OpenSSL's verification callback: after OpenSSL has verified the chain, the leaf must carry a SAN one of the
    /// engine's matchers accepts (Envoy's `match_typed_subject_alt_names`). Failing here makes OpenSSL end the handshake
    /// with an alert, so both sides learn why.
    static let checkPeerNames: @convention(c) (Int32, OpaquePointer?) -> Int32 = { verified, store in
        guard verified == 1, let store, X509_STORE_CTX_get_error_depth(store) == 0,
              let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
              let engine = TLSEngine.owning(OpaquePointer(ssl)), !engine.peerNames.isEmpty,
              let leaf = X509_STORE_CTX_get_current_cert(store) else { return verified }
        X509_up_ref(leaf)
        let names = Certificate(leaf).subjectAltNames
        guard SubjectAltNameMatcher.accept(names, by: engine.peerNames) else {
            let shown = names.uris.map { "URI:\($0)" } + names.dnsNames.map { "DNS:\($0)" } + names.ipAddresses.map { "IP:\($0)" }
            engine.peerNameProblem = "the peer certificate's SANs [\(shown.joined(separator: ", "))] match none of "
                + "[\(engine.peerNames.map(\.description).joined(separator: ", "))]"
            X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION)
            return 0
        }
        return 1
    }
}

/// One TLS endpoint that does no I/O itself ("sans-IO"): ciphertext from the network goes in through `receive`, and
/// ciphertext for the network comes out through `takeOutput`; plaintext goes in through `write` and comes out through
/// `read`. It runs on OpenSSL over two memory BIOs, so it fits wherever bytes flow: a socket, an HTTP/2 stream, a
/// handler in a pipeline, or another engine in the same process.
///
/// The contract: after `receive`, call `handshake` (until `.complete`) or `read` (until `.needsInput`); after any
/// call, send what `pendingOutputBytes` says is waiting (also after a failure: it may hold the alert that tells the
/// peer why). `.needsInput` means only more ciphertext can make progress.
///
/// Writes never stall and are never retried. OpenSSL's output is a memory BIO that takes every record whole, so
/// `SSL_write` never stops half-way with WANT_WRITE, never holds on to the caller's plaintext after it returns, and
/// never demands a retry with the same buffer. The "bad write retry" failure of a socket-owning session (a record
/// stalled on a full socket, then retried from a buffer that had moved or shrunk) therefore cannot happen. The
/// price is that output grows while nobody takes it: backpressure is the caller's, by writing only while
/// `pendingOutputBytes` is under its high watermark.
///
/// Copies: `receive` copies ciphertext once into OpenSSL's input BIO (records may straddle several receives),
/// `takeOutput` copies once out of the output BIO into the caller's buffer; plaintext goes straight between the
/// caller's buffer and OpenSSL's record layer. Use one engine from one thread at a time.
public final class TLSEngine {
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    /// Replaced when emptied after a large burst (see `releaseLargeOutputBuffer`).
    private var output: OpaquePointer
    /// The contexts whose callbacks this engine's connection runs: kept alive as long as the connection.
    private let serverContext: TLSServerContext?
    fileprivate let clientContext: TLSClientContext?
    /// What the peer's certificate must be named (empty: any name the chain's authority vouches for).
    public let peerNames: [SubjectAltNameMatcher]
    /// The client's resumption cache key.
    fileprivate let sessionKey: String?
    fileprivate var peerNameProblem: String?

    /// What a handshake step came to.
    public enum Progress: Equatable, Sendable { case complete, needsInput }

    /// What a read came to.
    public enum ReadResult: Equatable, Sendable {
        /// This many plaintext bytes were placed in the buffer.
        case bytes(Int)
        /// No whole record is buffered: receive more ciphertext.
        case needsInput
        /// The peer sent close_notify: no more data will come.
        case closed
    }

    /// The server side of a connection.
    public init(server context: TLSServerContext) throws(CryptoError) {
        (serverContext, clientContext, peerNames, sessionKey) = (context, nil, context.configuration.clientNames, nil)
        (ssl, input, output) = try Self.makeSession(context.context)
        SSL_set_accept_state(ssl)
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The client side of a connection.
    /// - Parameters:
    ///   - serverName: sent as SNI (unless it is an IP address), and the key of the session kept for resumption.
    ///   - verifyHost: a DNS name or IP address the server certificate must name (OpenSSL's host checks).
    ///   - peerNames: SANs the server certificate must match one of, such as `.spiffe("spiffe://cluster.local/ns/a/sa/b")`.
    public init(client context: TLSClientContext, serverName: String?, verifyHost: String? = nil,
                peerNames: [SubjectAltNameMatcher] = []) throws(CryptoError) {
        let key = (serverName ?? verifyHost ?? "") + "|" + peerNames.map(\.description).joined(separator: ",")
        (serverContext, clientContext, self.peerNames, sessionKey) = (nil, context, peerNames, key)
        (ssl, input, output) = try Self.makeSession(context.context)
        SSL_set_connect_state(ssl)
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        if let serverName, !OpenSSL.isIPAddress(serverName) {
            guard COpenSSLShims_SSL_set_tlsext_host_name(ssl, serverName) == 1 else { throw CryptoError("bad server name \(serverName)") }
        }
        if let verifyHost { try OpenSSL.verifyHost(ssl, verifyHost) }
        if context.configuration.resumesSessions { context.resume(ssl, key: key) }
    }

    deinit {
        // OpenSSL forgets the session of a connection freed without close_notify both ways; since TLS 1.1 such a
        // session may still be resumed (RFC 5246, 7.2.1), and connections often end with a bare FIN. A session
        // that failed with an alert was already forgotten, and stays so.
        if isHandshakeComplete { SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN) }
        SSL_free(ssl)
    }

    private static func makeSession(_ context: OpaquePointer) throws(CryptoError) -> (OpaquePointer, OpaquePointer, OpaquePointer) {
        guard let ssl = SSL_new(context) else { throw CryptoError("cannot create a TLS session") }
        guard let input = BIO_new(BIO_s_mem()) else { SSL_free(ssl); throw CryptoError("cannot allocate a memory BIO") }
        guard let output = BIO_new(BIO_s_mem()) else { BIO_free(input); SSL_free(ssl); throw CryptoError("cannot allocate a memory BIO") }
        SSL_set_bio(ssl, input, output)  // the session owns both from here
        // Records are written whole into memory: nothing is ever partial or retried (see the type's comment), and the
        // context enables neither partial writes nor moving retries.
        return (ssl, input, output)
    }

    fileprivate static func owning(_ ssl: OpaquePointer) -> TLSEngine? {
        SSL_get_ex_data(ssl, 0).map { Unmanaged<TLSEngine>.fromOpaque($0).takeUnretainedValue() }
    }

    // MARK: The network side

    /// Ciphertext from the network.
    public func receive(_ ciphertext: UnsafeRawBufferPointer) {
        guard let base = ciphertext.baseAddress else { return }
        var offset = 0
        while offset < ciphertext.count {
            let written = BIO_write(input, base + offset, Int32(min(ciphertext.count - offset, Int(Int32.max))))
            guard written > 0 else { return }  // only when memory runs out
            offset += Int(written)
        }
    }

    public func receive(_ ciphertext: ByteBuffer) { ciphertext.withUnsafeReadableBytes { receive($0) } }

    /// The network will bring no more bytes: a read that needs more now fails ("unexpected eof while reading")
    /// instead of waiting, since a peer that stops without close_notify may have been cut short.
    public func receiveEndOfInput() { _ = BIO_ctrl(input, BIO_C_SET_BUF_MEM_EOF_RETURN, 0, nil) }

    /// Ciphertext waiting to be sent.
    public var pendingOutputBytes: Int { Int(BIO_ctrl_pending(output)) }

    /// Moves up to `space.count` bytes of waiting ciphertext into `space`; returns how many.
    public func takeOutput(into space: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = space.baseAddress, !space.isEmpty else { return 0 }
        let taken = max(0, Int(BIO_read(output, base, Int32(min(space.count, Int(Int32.max))))))
        releaseLargeOutputBuffer()
        return taken
    }

    /// A memory BIO keeps the storage of its largest burst; an emptied one that grew past this is replaced, so a
    /// connection that once sent a large answer does not hold that much while it idles.
    static let largestKeptOutputBuffer = 64 * 1024

    /// The output BIO's storage, in bytes.
    var outputBufferCapacity: Int {
        var memory: UnsafeMutablePointer<BUF_MEM>?
        _ = BIO_ctrl(output, BIO_C_GET_BUF_MEM_PTR, 0, &memory)
        return memory.map { Int($0.pointee.max) } ?? 0
    }

    private func releaseLargeOutputBuffer() {
        guard BIO_ctrl_pending(output) == 0, outputBufferCapacity > Self.largestKeptOutputBuffer, let fresh = BIO_new(BIO_s_mem()) else { return }
        SSL_set0_wbio(ssl, fresh)  // frees the old one
        output = fresh
    }

    /// Appends all waiting ciphertext to `buffer`.
    public func takeOutput(appendingTo buffer: inout ByteBuffer) {
        let count = pendingOutputBytes
        guard count > 0 else { return }
        buffer.reserveCapacity(minimumWritableBytes: count)
        let taken = buffer.withUnsafeMutableWritableBytes { takeOutput(into: $0) }
        buffer.moveWriterIndex(forwardBy: taken)
    }

    // MARK: The application side

    /// Drives the handshake as far as the received bytes allow.
    public func handshake() throws(TLSError) -> Progress {
        if SSL_is_init_finished(ssl) == 1 { return .complete }
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .complete }
        guard SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ else { throw failure("handshake") }
        return .needsInput
    }

    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Whether this is the server side of its connection.
    public var isServer: Bool { serverContext != nil }

    /// Decrypts into `buffer` (driving the handshake first if it is not done).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> ReadResult {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .bytes(0) }
        let result = SSL_read(ssl, base, Int32(min(buffer.count, Int(Int32.max))))
        if result > 0 { return .bytes(Int(result)) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .needsInput
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: throw failure("read")
        }
    }

    /// Encrypts all of `plaintext` into waiting output; the handshake must be complete. Returns with nothing of
    /// `plaintext` held (see the type's comment on why a write cannot stall).
    public func write(_ plaintext: UnsafeRawBufferPointer) throws(TLSError) {
        guard SSL_is_init_finished(ssl) == 1 else {
            throw TLSError(operation: "write", reasons: ["the handshake has not completed"], verifyResult: nil, peerNameProblem: nil)
        }
        guard let base = plaintext.baseAddress else { return }
        var offset = 0
        while offset < plaintext.count {
            let written = SSL_write(ssl, base + offset, Int32(min(plaintext.count - offset, 1 << 20)))
            guard written > 0 else { throw failure("write") }
            offset += Int(written)
        }
    }

    public func write(_ plaintext: ByteBuffer) throws(TLSError) {
        let failure: TLSError? = plaintext.withUnsafeReadableBytes { bytes in
            do throws(TLSError) { try write(bytes) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Queues close_notify (once). Reading may go on until the peer's own close_notify reads as `.closed`.
    public func close() {
        guard !sentCloseNotify else { return }
        if isHandshakeComplete { _ = SSL_shutdown(ssl) } else { SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN) }
        ERR_clear_error()
    }

    public var sentCloseNotify: Bool { SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN != 0 }
    public var receivedCloseNotify: Bool { SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0 }

    // MARK: What was negotiated

    /// The protocol ALPN settled on, if any.
    public var negotiatedProtocol: String? { OpenSSL.negotiatedProtocol(ssl) }

    /// The server name the client sent (SNI), on either side.
    public var serverName: String? { SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) } }

    public var version: TLSVersion? { TLSVersion(rawValue: Int(SSL_version(ssl))) }

    /// Whether the handshake resumed an earlier session (a TLS 1.3 ticket or a TLS 1.2 session id or ticket).
    public var isResumed: Bool { SSL_session_reused(ssl) == 1 }

    /// The peer's leaf certificate, once the handshake has seen it (also on a resumed session).
    public var peerCertificate: Certificate? { SSL_get1_peer_certificate(ssl).map { Certificate($0) } }

    /// The peer certificate's SANs; the URIs hold SPIFFE identities, the principals of authorization policies.
    public var peerSubjectAltNames: SubjectAltNames { peerCertificate?.subjectAltNames ?? SubjectAltNames() }

    /// The peer's SPIFFE identity: its certificate's first URI SAN of Istio's shape.
    public var peerIdentity: SPIFFEIdentity? { peerSubjectAltNames.uris.lazy.compactMap(SPIFFEIdentity.init(uri:)).first }

    private func failure(_ operation: String) -> TLSError {
        let verify = SSL_get_verify_result(ssl)
        return TLSError(operation: operation, reasons: OpenSSL.takeErrorReasons(),
                        verifyResult: verify == X509_V_OK ? nil : String(cString: X509_verify_cert_error_string(verify)),
                        peerNameProblem: peerNameProblem)
    }
}

extension OpenSSL {
    static func negotiatedProtocol(_ ssl: OpaquePointer) -> String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The peer certificate must name `host`, a DNS name or an IP address.
    static func verifyHost(_ ssl: OpaquePointer, _ host: String) throws(CryptoError) {
        if isIPAddress(host) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else { throw CryptoError("bad address \(host)") }
        } else {
            guard SSL_set1_host(ssl, host) == 1 else { throw CryptoError("bad host name \(host)") }
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
    }
}

// MARK: - Signatures (JWT verification)

/// The hash a signature is made over.
public enum SignatureDigest: Sendable {
    case sha256, sha384, sha512

    fileprivate var algorithm: OpaquePointer? {
        switch self {
        case .sha256: return EVP_sha256()
        case .sha384: return EVP_sha384()
        case .sha512: return EVP_sha512()
        }
    }
}

/// A public key (RSA or EC), read from its DER `SubjectPublicKeyInfo`.
public final class PublicKey: @unchecked Sendable {
    let pointer: OpaquePointer

    public init(subjectPublicKeyInfo der: [UInt8]) throws(CryptoError) {
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var start: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &start, buffer.count)
        }
        guard let key else { throw CryptoError("not a DER public key") }
        pointer = key
    }

    deinit { EVP_PKEY_free(pointer) }

    /// Whether `signature` signs `message` with this key: RSA PKCS#1 v1.5, or RSA-PSS with a salt as long as the
    /// digest (`pss`), or ECDSA with a DER signature.
    public func verifies(_ signature: [UInt8], of message: [UInt8], digest: SignatureDigest, pss: Bool = false) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context); ERR_clear_error() }
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, digest.algorithm, nil, pointer) == 1 else { return false }
        if pss {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1 else { return false }
        }
        return EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }
}

extension PrivateKey {
    /// A new RSA key of `bits` bits (exponent 65537).
    public static func generateRSA(bits: Int = 2048) throws(CryptoError) -> PrivateKey {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil) else { throw CryptoError("cannot start key generation") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)) == 1,
              EVP_PKEY_keygen(context, &key) == 1, let key else { throw CryptoError("cannot generate an RSA key") }
        return PrivateKey(owning: key)
    }

    /// Signs `message`: RSA PKCS#1 v1.5 (or PSS with a digest-long salt), or ECDSA (a DER signature).
    public func sign(_ message: [UInt8], digest: SignatureDigest, pss: Bool = false) throws(CryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError("cannot allocate a digest context") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &keyContext, digest.algorithm, nil, pointer) == 1 else { throw CryptoError("cannot start signing") }
        if pss {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1 else { throw CryptoError("cannot use PSS padding") }
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw CryptoError("cannot size the signature") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw CryptoError("cannot sign") }
        return Array(signature.prefix(length))
    }

    /// The public half's numbers, big-endian without leading zeros (EC coordinates padded to the curve's size):
    /// `n` and `e` for RSA, `x` and `y` for EC (as a JWK names them).
    public func publicNumbers() throws(CryptoError) -> [String: [UInt8]] {
        func number(_ name: String, padded: Int? = nil) -> [UInt8]? {
            var value: OpaquePointer?
            guard EVP_PKEY_get_bn_param(pointer, name, &value) == 1, let value else { return nil }
            defer { BN_free(value) }
            let length = padded ?? (Int(BN_num_bits(value)) + 7) / 8
            var bytes = [UInt8](repeating: 0, count: length)
            guard BN_bn2binpad(value, &bytes, Int32(length)) == Int32(length) else { return nil }
            return bytes
        }
        if let n = number("n"), let e = number("e") { return ["n": n, "e": e] }
        let size = (Int(EVP_PKEY_get_bits(pointer)) + 7) / 8
        if let x = number("qx", padded: size), let y = number("qy", padded: size) { return ["x": x, "y": y] }
        throw CryptoError("the key is neither RSA nor EC")
    }
}
