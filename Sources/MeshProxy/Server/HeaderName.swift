/// Header-name comparisons for the data path: ASCII case folding on the bytes, with no lowercased copy.
enum HeaderName {
    /// Whether `name` is `lowercase` in any case.
    /// Whether `name` is a header field name: one or more of RFC 9110's token characters.
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
            default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
    }

    static func equals(_ name: String, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard name.utf8.count == count else { return false }
        let wanted = lowercase.utf8Start
        // In place for a native string (header names are): the generic UTF-8 iterator below checks the string's
        // form on every byte.
        if let folded = name.utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            for index in 0..<count {
                let byte = bytes[index]
                guard ((byte >= 65 && byte <= 90) ? byte | 0x20 : byte) == wanted[index] else { return false }
            }
            return true
        }) {
            return folded
        }
        var index = 0
        for byte in name.utf8 {
            let folded = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
            guard folded == wanted[index] else { return false }
            index += 1
        }
        return true
    }

    /// Request headers the proxy does not pass on as they came: hop-by-hop ones, and the framing it writes itself.
    static func isHopByHopRequest(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return equals(name, "te")
        case 6: return equals(name, "expect")
        case 7: return equals(name, "upgrade")
        case 10: return equals(name, "connection") || equals(name, "keep-alive")
        case 14: return equals(name, "content-length")
        case 16: return equals(name, "proxy-connection")
        case 17: return equals(name, "transfer-encoding")
        default: return false
        }
    }

    /// Response headers the proxy drops from an upstream's answer (it writes its own framing and connection handling).
    static func isHopByHopResponse(_ name: String) -> Bool {
        switch name.utf8.count {
        case 10: return equals(name, "connection") || equals(name, "keep-alive")
        case 16: return equals(name, "proxy-connection")
        case 17: return equals(name, "transfer-encoding")
        default: return false
        }
    }

    /// Whether a `Connection` value asks to close: it contains `close` in any case, as the proxy has always read it.
    static func listsClose(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            guard bytes.count >= 5 else { return false }
            let wanted: StaticString = "close"
            for start in 0...(bytes.count - 5) {
                var offset = 0
                while offset < 5 {
                    let byte = bytes[start + offset]
                    guard ((byte >= 65 && byte <= 90) ? byte | 0x20 : byte) == wanted.utf8Start[offset] else { break }
                    offset += 1
                }
                if offset == 5 { return true }
            }
            return false
        }
    }
}
