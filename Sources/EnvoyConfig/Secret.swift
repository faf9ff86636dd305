import Foundation
import ConfigValues

/// A secret of the SecretsConfigDump (SDS), with what its certificate says.
public struct DynamicSecret: Sendable {
    public enum State: String, Sendable { case active = "ACTIVE", warming = "WARMING", uninitialized = "UNINITIALIZED" }

    public let json: JSONValue
    public let state: State

    public init(json: JSONValue, state: State) {
        self.json = json
        self.state = json.text("version_info") == "uninitialized" && state == .active ? .uninitialized : state
    }

    public var name: String { json.text("name") }

    /// The certificates this secret carries: its certificate chain, else its trusted CA, else one per SPIFFE trust
    /// domain bundle (with the domain). Each is the PEM text, or nil when the secret has none.
    public var certificates: [(pem: String?, trustDomain: String)] {
        let secret = json.field("secret")
        if let chain = Self.dataSource(secret?.field("tls_certificate")?.field("certificate_chain")) { return [(chain, "")] }
        let validation = secret?.field("validation_context")
        if let authority = Self.dataSource(validation?.field("trusted_ca")) { return [(authority, "")] }
        if let custom = validation?.field("custom_validator_config")?.field("typed_config"),
           custom.typeURL.map(ConfigDump.shortTypeName) == "envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig" {
            return custom.items("trust_domains").map { (Self.dataSource($0.field("trust_bundle")), $0.text("name")) }
        }
        return [(nil, "")]
    }

    /// The text of a DataSource's inline bytes (base64 in JSON) or inline string; file sources have none here.
    static func dataSource(_ source: JSONValue?) -> String? {
        if let bytes = source?.field("inline_bytes")?.string, let decoded = Base64.decode(bytes), !decoded.isEmpty {
            return String(decoding: decoded, as: UTF8.self)
        }
        if let text = source?.field("inline_string")?.string, !text.isEmpty { return text }
        return nil
    }
}

/// What `proxy-config secret` shows of a certificate: read from the first PEM block with a small DER reader.
public struct CertificateFacts: Sendable, Equatable {
    /// The serial number in hex, at least 32 digits.
    public var serialNumber: String
    /// Seconds since 1970 UTC.
    public var notBefore: Int64
    public var notAfter: Int64
    public var isCA: Bool
    /// The SPIFFE trust domain of the first `spiffe://` URI SAN ("" without one).
    public var trustDomain: String

    /// Reads the first `CERTIFICATE` block of PEM text.
    public init(pem: String) throws(EnvoyDataError) {
        guard let der = try Self.derBlocks(pem).first else { throw EnvoyDataError("failed to parse certificate PEM") }
        try self.init(der: der)
    }

    /// The DER bytes of every `CERTIFICATE` block, in order; a block whose base64 is broken is an error.
    public static func derBlocks(_ pem: String) throws(EnvoyDataError) -> [[UInt8]] {
        var blocks: [[UInt8]] = []
        var rest = pem[...]
        while let begin = rest.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = rest.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<rest.endIndex) {
            let body = rest[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
            guard let der = Base64.decode(String(body)), !der.isEmpty else { throw EnvoyDataError("failed to parse certificate PEM") }
            blocks.append(der)
            rest = rest[end.upperBound...]
        }
        return blocks
    }

    /// Whether two root CA bundles share a certificate (byte for byte): proxies that trust a common root can
    /// verify each other's certificates. Text without a certificate is an error that shows it.
    public static func shareACertificate(_ first: String, _ second: String) throws(EnvoyDataError) -> Bool {
        func certificates(_ text: String) throws(EnvoyDataError) -> [[UInt8]] {
            let blocks = try derBlocks(text)
            guard !blocks.isEmpty else { throw EnvoyDataError("failed to parse certificates: \(text)") }
            for block in blocks { _ = try CertificateFacts(der: block) }
            return blocks
        }
        let mine = try certificates(first), theirs = try certificates(second)
        return mine.contains { theirs.contains($0) }
    }

    init(der: [UInt8]) throws(EnvoyDataError) {
        var reader = DERReader(der)
        var certificate = try reader.enter(0x30)
        var tbs = try certificate.enter(0x30)
        if tbs.peekTag == 0xA0 { _ = try tbs.read() }
        let serial = try tbs.read(expecting: 0x02)
        let digits = serial.drop { $0 == 0 }.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        serialNumber = digits.leftPadded(to: 32)
        _ = try tbs.read(expecting: 0x30)  // signature algorithm
        _ = try tbs.read(expecting: 0x30)  // issuer
        var validity = try tbs.enter(0x30)
        notBefore = try validity.readTime()
        notAfter = try validity.readTime()
        _ = try tbs.read(expecting: 0x30)  // subject
        _ = try tbs.read(expecting: 0x30)  // public key
        isCA = false
        trustDomain = ""
        while !tbs.isAtEnd {
            let tag = tbs.peekTag
            let content = try tbs.read()
            guard tag == 0xA3 else { continue }
            var wrapper = DERReader(content)
            var extensions = try wrapper.enter(0x30)
            while !extensions.isAtEnd {
                var item = try extensions.enter(0x30)
                let oid = try item.read(expecting: 0x06)
                if item.peekTag == 0x01 { _ = try item.read() }
                let value = try item.read(expecting: 0x04)
                if oid == [0x55, 0x1D, 0x13] {  // basicConstraints
                    var outer = DERReader(value)
                    var constraints = try outer.enter(0x30)
                    if !constraints.isAtEnd, constraints.peekTag == 0x01 { isCA = (try constraints.read()).first.map { $0 != 0 } ?? false }
                } else if oid == [0x55, 0x1D, 0x11] {  // subjectAltName
                    var outer = DERReader(value)
                    var names = try outer.enter(0x30)
                    while !names.isAtEnd {
                        let nameTag = names.peekTag
                        let name = String(decoding: try names.read(), as: UTF8.self)
                        if nameTag == 0x86, name.hasPrefix("spiffe://") {
                            trustDomain = String(name.dropFirst("spiffe://".count).prefix { $0 != "/" })
                        }
                    }
                }
            }
        }
    }

    /// Whether `now` (seconds since 1970) lies inside the validity window.
    public func isValid(at now: Int64) -> Bool { now > notBefore && now < notAfter }

    /// RFC 3339 in UTC (`2023-05-16T01:32:52Z`).
    public static func timestamp(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rest = seconds - days * 86400
        let (year, month, day) = CivilDate.fromDays(days)
        func two(_ value: Int64) -> String { String(value).leftPadded(to: 2) }
        return "\(String(year).leftPadded(to: 4))-\(two(month))-\(two(day))T\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }
}

/// Days since 1970-01-01 and back (proleptic Gregorian calendar).
enum CivilDate {
    static func toDays(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    static func fromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Reads DER's tag-length-value items; every length is checked against what is left.
struct DERReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }
    var peekTag: UInt8 { isAtEnd ? 0 : bytes[offset] }

    /// The next item's content.
    mutating func read() throws(EnvoyDataError) -> [UInt8] {
        guard offset + 2 <= bytes.count else { throw EnvoyDataError("certificate: truncated DER") }
        offset += 1
        var length = Int(bytes[offset])
        offset += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, offset + count <= bytes.count else { throw EnvoyDataError("certificate: bad DER length") }
            length = 0
            for _ in 0..<count { length = length << 8 | Int(bytes[offset]); offset += 1 }
        }
        guard length <= bytes.count - offset else { throw EnvoyDataError("certificate: DER item longer than its container") }
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    mutating func read(expecting tag: UInt8) throws(EnvoyDataError) -> [UInt8] {
        guard peekTag == tag else { throw EnvoyDataError("certificate: unexpected DER tag \(peekTag), expected \(tag)") }
        return try read()
    }

    /// A reader over the content of the next item, which must have the tag.
    mutating func enter(_ tag: UInt8) throws(EnvoyDataError) -> DERReader { DERReader(try read(expecting: tag)) }

    /// A UTCTime or GeneralizedTime (`YYMMDDHHMMSSZ`, `YYYYMMDDHHMMSSZ`) as seconds since 1970.
    mutating func readTime() throws(EnvoyDataError) -> Int64 {
        let tag = peekTag
        let text = String(decoding: try read(), as: UTF8.self)
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let numbers = Array(digits).map { Int64(String($0))! }
        func number(_ start: Int, _ count: Int) -> Int64 { numbers[start..<start + count].reduce(0) { $0 * 10 + $1 } }
        let yearDigits = tag == 0x17 ? 2 : 4
        guard numbers.count >= yearDigits + 10 else { throw EnvoyDataError("certificate: unreadable time \(text)") }
        var year = number(0, yearDigits)
        if yearDigits == 2 { year += year < 50 ? 2000 : 1900 }
        let days = CivilDate.toDays(year: year, month: number(yearDigits, 2), day: number(yearDigits + 2, 2))
        return days * 86400 + number(yearDigits + 4, 2) * 3600 + number(yearDigits + 6, 2) * 60 + number(yearDigits + 8, 2)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Private keys never leave meshctl: Envoy already prints `[redacted]` in their place, and any key a dump still
/// carries (a hand-written file, another proxy) is replaced the same way before printing.
public enum PrivateKeyRedaction {
    /// Data sources that hold secret material: keys, PKCS#12 bundles, generic secrets (OAuth2 HMAC and the like),
    /// session ticket keys (a list of sources), in Envoy's and protobuf's spellings.
    static let keyFields: Set<String> = ["private_key", "privateKey", "password", "pkcs12", "secret", "keys"]

    public static func redacted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map(redacted))
        case .object(let pairs):
            return .object(pairs.map { pair in
                guard keyFields.contains(pair.key) else { return (pair.key, redacted(pair.value)) }
                return (pair.key, redactedSource(pair.value))
            })
        default: return value
        }
    }

    /// A data source (or a list of them) with its inline content replaced; file names stay, they are no secret.
    private static func redactedSource(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map(redactedSource))
        case .object(let source):
            return .object(source.map { field in
                switch field.key {
                case "inline_bytes", "inlineBytes": return (field.key, .string(Base64.encode(Array("[redacted]".utf8))))
                case "inline_string", "inlineString": return (field.key, .string("[redacted]"))
                default: return (field.key, redacted(field.value))
                }
            })
        default: return redacted(value)
        }
    }
}
