import Foundation
import MeshTLS

/// JWTs signed in the test with keys made for it (OpenSSL through MeshNet): an RSA key (`kid: rsa-1`, RS256 and
/// RS384), an RSA key for PS256 (`kid: pss-1`), an EC P-256 key (`kid: ec-1`, ES256), and the JWKS of their public halves.
public final class TestTokens: @unchecked Sendable {
    public let rsa: PrivateKey
    public let pss: PrivateKey
    public let ec: PrivateKey
    public let jwks: String

    public init() throws {
        rsa = try PrivateKey.generateRSA(bits: 2048)
        pss = try PrivateKey.generateRSA(bits: 2048)
        ec = try PrivateKey.generateP256()
        let r = try rsa.publicNumbers(), p = try pss.publicNumbers(), e = try ec.publicNumbers()
        jwks = """
            {"keys": [{"kty": "RSA", "kid": "rsa-1", "n": "\(Self.base64URL(r["n"]!))", "e": "\(Self.base64URL(r["e"]!))"},
                      {"kty": "RSA", "kid": "pss-1", "alg": "PS256", "n": "\(Self.base64URL(p["n"]!))", "e": "\(Self.base64URL(p["e"]!))"},
                      {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "\(Self.base64URL(e["x"]!))", "y": "\(Self.base64URL(e["y"]!))"}]}
            """
    }

    /// A token with these claims (a JSON object's text), signed with `algorithm` by the matching key; `kid` names the
    /// key unless given; `tamper` flips a bit of the signature.
    public func token(_ claims: String, algorithm: String = "RS256", kid: String? = nil, tamper: Bool = false) throws -> String {
        let key: PrivateKey, keyID: String
        switch algorithm {
        case "PS256": (key, keyID) = (pss, "pss-1")
        case "ES256": (key, keyID) = (ec, "ec-1")
        default: (key, keyID) = (rsa, "rsa-1")
        }
        let header = #"{"alg":"\#(algorithm)","kid":"\#(kid ?? keyID)","typ":"JWT"}"#
        let signed = Self.base64URL(Array(header.utf8)) + "." + Self.base64URL(Array(claims.utf8))
        let digest: SignatureDigest = algorithm.hasSuffix("384") ? .sha384 : algorithm.hasSuffix("512") ? .sha512 : .sha256
        var signature = try key.sign(Array(signed.utf8), digest: digest, pss: algorithm.hasPrefix("PS"))
        if algorithm.hasPrefix("ES") { signature = Self.rawECDSA(signature, size: 32) }
        if tamper { signature[signature.count / 2] ^= 1 }
        return signed + "." + Self.base64URL(signature)
    }

    /// Claims from `issuer` for `audience` about `subject`, expiring `expiresIn` seconds from now.
    public static func claims(issuer: String, subject: String = "alice", audience: String? = nil, expiresIn: Int = 3600, extra: String = "") -> String {
        let now = Int(Date().timeIntervalSince1970)
        var text = #"{"iss":"\#(issuer)","sub":"\#(subject)","exp":\#(now + expiresIn),"iat":\#(now)"#
        if let audience { text += #","aud":"\#(audience)""# }
        return text + extra + "}"
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A DER ECDSA-Sig-Value as JWS's r || s, each `size` bytes.
    static func rawECDSA(_ der: [UInt8], size: Int) -> [UInt8] {
        var index = 2
        if der[1] & 0x80 != 0 { index += Int(der[1] & 0x7F) }
        var out: [UInt8] = []
        for _ in 0..<2 {
            let length = Int(der[index + 1])
            let value = Array(der[(index + 2)..<(index + 2 + length)].drop { $0 == 0 })
            out += [UInt8](repeating: 0, count: size - value.count) + value
            index += 2 + length
        }
        return out
    }
}
