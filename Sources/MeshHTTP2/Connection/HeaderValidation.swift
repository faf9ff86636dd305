/// The checks that make a header list malformed (RFC 9113 section 8.2 and 8.3): each failure is a stream error of
/// type PROTOCOL_ERROR.
enum HeaderValidation {
    static let requestPseudoHeaders = [":method", ":scheme", ":authority", ":path"]

    /// What the connection needs from a valid request or response head.
    struct Head {
        var contentLength: Int?
        var method: String?
        var status: Int?
    }

    static func validateRequest(_ fields: [HeaderField]) throws(ValidationFailure) -> Head {
        var head = try validateFields(fields, allowedPseudo: requestPseudoHeaders)
        var path: String?
        var scheme: String?
        for field in fields where field.name.utf8.first == UInt8(ascii: ":") {
            switch field.name {
            case ":method": head.method = field.value
            case ":path": path = field.value
            case ":scheme": scheme = field.value
            default: break
            }
        }
        guard let method = head.method else { throw ValidationFailure("request without :method") }
        if method == "CONNECT" {
            if path != nil || scheme != nil { throw ValidationFailure("CONNECT request with :path or :scheme") }
            if !fields.contains(where: { $0.name == ":authority" }) { throw ValidationFailure("CONNECT request without :authority") }
        } else {
            guard scheme != nil else { throw ValidationFailure("request without :scheme") }
            guard let path, !path.isEmpty else { throw ValidationFailure("request without a :path") }
        }
        return head
    }

    static let responsePseudoHeaders = [":status"]

    static func validateResponse(_ fields: [HeaderField]) throws(ValidationFailure) -> Head {
        var head = try validateFields(fields, allowedPseudo: responsePseudoHeaders)
        guard let status = fields.first(where: { $0.name == ":status" })?.value else { throw ValidationFailure("response without :status") }
        guard status.utf8.count == 3, let code = Int(status), (100...599).contains(code) else { throw ValidationFailure(":status \"\(status)\" is not a 3-digit status") }
        head.status = code
        return head
    }

    static func validateTrailers(_ fields: [HeaderField]) throws(ValidationFailure) {
        _ = try validateFields(fields, allowedPseudo: [])
    }

    /// Checks common to every list: pseudo-headers first, each known and once; names lowercase tokens; no
    /// connection-specific fields; `te` only `trailers`; values without NUL, CR, LF or outer whitespace.
    /// `allowedPseudo` is short: a bit per entry says which were seen.
    private static func validateFields(_ fields: [HeaderField], allowedPseudo: [String]) throws(ValidationFailure) -> Head {
        var head = Head()
        var seenPseudo: UInt32 = 0
        var regularSeen = false
        for field in fields {
            let name = field.name
            if name.utf8.first == UInt8(ascii: ":") {
                guard let position = allowedPseudo.firstIndex(of: name) else { throw ValidationFailure("pseudo-header \(name) is not allowed here") }
                guard !regularSeen else { throw ValidationFailure("pseudo-header \(name) after a regular header") }
                guard seenPseudo & (1 << position) == 0 else { throw ValidationFailure("pseudo-header \(name) given twice") }
                seenPseudo |= 1 << position
            } else {
                regularSeen = true
                try checkName(name)
                if HTTP2HeaderNames.isConnectionSpecific(name) { throw ValidationFailure("connection-specific header \(name)") }
                if name == "te" && field.value != "trailers" { throw ValidationFailure("te header other than \"trailers\"") }
                if name == "content-length" {
                    guard let length = Int(field.value), length >= 0, field.value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                        throw ValidationFailure("content-length \"\(field.value)\" is not a number")
                    }
                    if let earlier = head.contentLength, earlier != length { throw ValidationFailure("content-length given twice with different values") }
                    head.contentLength = length
                }
            }
            try checkValue(field)
        }
        return head
    }

    private static func checkName(_ name: String) throws(ValidationFailure) {
        guard !name.isEmpty else { throw ValidationFailure("empty header name") }
        for byte in name.utf8 {
            if byte >= 65 && byte <= 90 { throw ValidationFailure("header name \"\(name)\" has uppercase letters") }
            // Token characters (RFC 9110 section 5.6.2).
            let allowed = (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            if !allowed { throw ValidationFailure("header name \"\(name)\" has a character not allowed in a name") }
        }
    }

    private static func checkValue(_ field: HeaderField) throws(ValidationFailure) {
        let bytes = field.value.utf8
        if bytes.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) { throw ValidationFailure("header \(field.name) has NUL, CR or LF in its value") }
        if let first = bytes.first, first == 32 || first == 9 { throw ValidationFailure("header \(field.name) value starts with whitespace") }
        if let last = bytes.last, last == 32 || last == 9 { throw ValidationFailure("header \(field.name) value ends with whitespace") }
    }
}

/// Why a header list is malformed.
struct ValidationFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Header names as HTTP/2 wants them, checked without hashing or copying (the proxy asks for every header it
/// forwards).
public enum HTTP2HeaderNames {
    /// Whether a lowercase name is one that only means something to one HTTP/1.1 connection (`connection`,
    /// `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`): never sent in HTTP/2.
    public static func isConnectionSpecific(_ lowercasedName: String) -> Bool {
        switch lowercasedName.utf8.count {
        case 7: return lowercasedName == "upgrade"
        case 10: return lowercasedName == "connection" || lowercasedName == "keep-alive"
        case 16: return lowercasedName == "proxy-connection"
        case 17: return lowercasedName == "transfer-encoding"
        default: return false
        }
    }

    /// `name` in lowercase; the same string, not a copy, when it has no uppercase letter (the usual case).
    public static func lowercased(_ name: String) -> String {
        name.utf8.contains { $0 >= 65 && $0 <= 90 } ? name.lowercased() : name
    }
}
