import ConfigValues
import Foundation
import MeshTLS

/// Why a token is refused, with the text Envoy answers (its jwt_verify_lib's status messages).
enum JWTStatus: String, Error, Sendable {
    case missing = "Jwt is missing"
    case badFormat = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
    case headerBadBase64 = "Jwt header is an invalid Base64url encoded"
    case headerBadJSON = "Jwt header is an invalid JSON"
    case headerBadAlgorithm = "Jwt header [alg] field is required and must be a string"
    case headerUnsupportedAlgorithm = "Jwt header [alg] is not supported"
    case headerBadKeyID = "Jwt header [kid] field is not a string"
    case payloadBadBase64 = "Jwt payload is an invalid Base64url encoded"
    case payloadBadJSON = "Jwt payload is an invalid JSON"
    case payloadIssuerNotString = "Jwt payload [iss] field is not a string"
    case payloadSubjectNotString = "Jwt payload [sub] field is not a string"
    case payloadIssuedAtNotInteger = "Jwt payload [iat] field is not a positive 64 bit integer"
    case payloadNotBeforeNotInteger = "Jwt payload [nbf] field is not a positive 64 bit integer"
    case payloadExpiryNotInteger = "Jwt payload [exp] field is not a positive 64 bit integer"
    case payloadAudienceBad = "Jwt payload [aud] field is not a string or string list"
    case signatureBadBase64 = "Jwt signature is an invalid Base64url encoded"
    case unknownIssuer = "Jwt issuer is not configured"
    case audienceNotAllowed = "Audiences in Jwt are not allowed"
    case notYetValid = "Jwt not yet valid"
    case expired = "Jwt is expired"
    case expirationRequired = "Jwt doesn't have an expiration time"
    case noMatchingKey = "Jwks doesn't have key to match kid or alg from Jwt"
    case verificationFailed = "Jwt verification fails"

    /// 403 for a token meant for someone else, 401 otherwise (as Envoy answers).
    var httpStatus: Int { self == .audienceNotAllowed ? 403 : 401 }
    /// `jwt_authn_access_denied{Jwt_is_expired}`: the response code details Envoy logs.
    var details: String { "jwt_authn_access_denied{\(rawValue.replacingOccurrences(of: " ", with: "_"))}" }
}

/// A JWS in compact form (`header.payload.signature`), decoded but not verified.
struct JSONWebToken {
    var algorithm: String
    var keyID: String?
    var issuer: String?
    var audiences: [String]
    var notBefore: Int64?
    var expiry: Int64?
    /// The payload's claims, as sent.
    var claims: JSONValue
    /// The payload segment as sent (base64url), for `forward_payload_header`.
    var encodedPayload: String
    var header: JSONValue
    var signedPart: [UInt8]
    var signature: [UInt8]

    static let algorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

    /// The characters a compact JWS may hold (base64url and the dots).
    private static let tokenCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=")

    init(_ text: String) throws(JWTStatus) {
        guard text.allSatisfy(Self.tokenCharacters.contains) else { throw .badFormat }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { throw .badFormat }
        guard let headerBytes = Self.base64URL(parts[0]) else { throw .headerBadBase64 }
        guard let header = try? JSONValue.parse(headerBytes), header.object != nil else { throw .headerBadJSON }
        guard let algorithm = header["alg"]?.string else { throw .headerBadAlgorithm }
        guard Self.algorithms.contains(algorithm) else { throw .headerUnsupportedAlgorithm }
        if let kid = header["kid"], kid.string == nil { throw .headerBadKeyID }
        guard let payloadBytes = Self.base64URL(parts[1]) else { throw .payloadBadBase64 }
        guard let claims = try? JSONValue.parse(payloadBytes), claims.object != nil else { throw .payloadBadJSON }
        if let issuer = claims["iss"], issuer.string == nil { throw .payloadIssuerNotString }
        if let subject = claims["sub"], subject.string == nil { throw .payloadSubjectNotString }
        func time(_ key: String, _ failure: JWTStatus) throws(JWTStatus) -> Int64? {
            guard let value = claims[key] else { return nil }
            guard case .number(let text) = value, let number = Double(text), number >= 0, number < 9.2e18 else { throw failure }
            return Int64(number)
        }
        _ = try time("iat", .payloadIssuedAtNotInteger)
        notBefore = try time("nbf", .payloadNotBeforeNotInteger)
        expiry = try time("exp", .payloadExpiryNotInteger)
        switch claims["aud"] {
        case nil: audiences = []
        case .string(let one)?: audiences = [one]
        case .array(let list)?:
            let strings = list.compactMap(\.string)
            guard strings.count == list.count else { throw .payloadAudienceBad }
            audiences = strings
        default: throw .payloadAudienceBad
        }
        guard let signature = Self.base64URL(parts[2]) else { throw .signatureBadBase64 }
        self.algorithm = algorithm
        self.keyID = header["kid"]?.string
        self.issuer = claims["iss"]?.string
        self.claims = claims
        self.header = header
        self.encodedPayload = parts[1]
        self.signedPart = Array((parts[0] + "." + parts[1]).utf8)
        self.signature = signature
    }

    /// Unpadded base64url (padding is tolerated); nil when it is not.
    static func base64URL(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.hasSuffix("=") { standard.removeLast() }
        guard !standard.contains("=") else { return nil }
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map(Array.init)
    }

    static func base64URLEncoded(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// One key of a JWKS that OpenSSL can verify with.
struct JSONWebKey: @unchecked Sendable {
    enum Kind: Sendable { case rsa, ec(curve: String) }
    var kind: Kind
    var keyID: String?
    var algorithm: String?
    var publicKey: PublicKey

    /// Whether the key may verify a token signed with `algorithm` and naming `keyID`.
    func fits(algorithm tokenAlgorithm: String, keyID tokenKeyID: String?) -> Bool {
        if let tokenKeyID, let keyID, keyID != tokenKeyID { return false }
        if let algorithm, algorithm != tokenAlgorithm { return false }
        switch kind {
        case .rsa: return tokenAlgorithm.hasPrefix("RS") || tokenAlgorithm.hasPrefix("PS")
        case .ec(let curve): return JWKSet.curveOfAlgorithm[tokenAlgorithm] == curve
        }
    }
}

/// A JSON Web Key Set (RFC 7517) of RSA and EC public keys.
struct JWKSet: Sendable {
    var keys: [JSONWebKey]

    /// Why a key set is refused (Envoy refuses the configuration with such a text).
    struct Problem: Error, CustomStringConvertible { let description: String }

    static let curveOfAlgorithm = ["ES256": "P-256", "ES384": "P-384", "ES512": "P-521"]
    /// The DER object identifiers of the named curves.
    private static let curveIdentifiers: [String: [UInt8]] = [
        "P-256": [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
        "P-384": [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22],
        "P-521": [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23],
    ]
    private static let rsaIdentifier: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    private static let ecIdentifier: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]

    init(json bytes: [UInt8]) throws(Problem) {
        guard let document = try? JSONValue.parse(bytes) else { throw Problem(description: "Jwks is an invalid JSON") }
        guard let list = document["keys"]?.array else { throw Problem(description: "Jwks does not have [keys] field") }
        var keys: [JSONWebKey] = []
        for (index, key) in list.enumerated() {
            keys.append(try Self.key(key, index: index))
        }
        guard !keys.isEmpty else { throw Problem(description: "Jwks doesn't have any valid keys") }
        self.keys = keys
    }

    private static func key(_ key: JSONValue, index: Int) throws(Problem) -> JSONWebKey {
        func bytes(_ field: String) -> [UInt8]? { key[field]?.string.flatMap(JSONWebToken.base64URL).flatMap { $0.isEmpty ? nil : $0 } }
        let keyID = key["kid"]?.string, algorithm = key["alg"]?.string
        switch key["kty"]?.string {
        case "RSA":
            guard let n = bytes("n"), let e = bytes("e") else { throw Problem(description: "Jwks RSA [n] or [e] field is missing or has a parse error") }
            let body = DER.sequence(DER.integer(n) + DER.integer(e))
            let info = DER.sequence(DER.sequence(rsaIdentifier + [0x05, 0x00]) + DER.bitString(body))
            guard let publicKey = try? PublicKey(subjectPublicKeyInfo: info) else { throw Problem(description: "Jwks RSA key \(index) is not a valid RSA public key") }
            return JSONWebKey(kind: .rsa, keyID: keyID, algorithm: algorithm, publicKey: publicKey)
        case "EC":
            let curve = key["crv"]?.string ?? ""
            guard let identifier = curveIdentifiers[curve] else { throw Problem(description: "Jwks EC [crv] field is not supported: \(curve)") }
            guard let x = bytes("x"), let y = bytes("y") else { throw Problem(description: "Jwks EC [x] or [y] field is missing or has a parse error") }
            let info = DER.sequence(DER.sequence(ecIdentifier + identifier) + DER.bitString([0x04] + x + y))
            guard let publicKey = try? PublicKey(subjectPublicKeyInfo: info) else { throw Problem(description: "Jwks EC key \(index) is not a valid point of \(curve)") }
            return JSONWebKey(kind: .ec(curve: curve), keyID: keyID, algorithm: algorithm, publicKey: publicKey)
        case let other:
            throw Problem(description: "Jwks key \(index): kty \(other ?? "(none)") is not supported by meshctl's proxy (RSA and EC keys are)")
        }
    }

    /// Checks the token's signature with the keys that fit it.
    func verify(_ token: JSONWebToken) throws(JWTStatus) {
        let candidates = keys.filter { $0.fits(algorithm: token.algorithm, keyID: token.keyID) }
        guard !candidates.isEmpty else { throw .noMatchingKey }
        let digest: SignatureDigest = token.algorithm.hasSuffix("256") ? .sha256 : token.algorithm.hasSuffix("384") ? .sha384 : .sha512
        var signature = token.signature
        if token.algorithm.hasPrefix("ES") {
            // JWS carries r || s; OpenSSL takes the DER ECDSA-Sig-Value.
            guard signature.count % 2 == 0, !signature.isEmpty else { throw .verificationFailed }
            let half = signature.count / 2
            signature = DER.sequence(DER.integer(Array(signature[..<half])) + DER.integer(Array(signature[half...])))
        }
        let pss = token.algorithm.hasPrefix("PS")
        guard candidates.contains(where: { $0.publicKey.verifies(signature, of: token.signedPart, digest: digest, pss: pss) }) else {
            throw .verificationFailed
        }
    }
}

/// The few DER encodings a public key and an ECDSA signature need.
enum DER {
    static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var rest = count
        while rest > 0 { bytes.insert(UInt8(rest & 0xFF), at: 0); rest >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func sequence(_ content: [UInt8]) -> [UInt8] { [0x30] + length(content.count) + content }
    static func bitString(_ content: [UInt8]) -> [UInt8] { [0x03] + length(content.count + 1) + [0x00] + content }

    /// A non-negative INTEGER from big-endian bytes (leading zeros dropped, a zero added when the top bit is set).
    static func integer(_ bytes: [UInt8]) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return [0x02] + length(value.count) + value
    }
}
