import ConfigValues
#if canImport(Glibc)
import Glibc
#endif

/// A `CidrRange` (`address_prefix`, `prefix_len`), matched against IP literals.
public struct CIDRRange: Sendable, Equatable {
    public var prefix: [UInt8]
    public var length: Int

    public init?(_ address: String, length: Int) {
        guard let bytes = Self.bytes(address), (0...bytes.count * 8).contains(length) else { return nil }
        prefix = bytes
        self.length = length
    }

    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> CIDRRange {
        let address = try reader.requiredString("address_prefix")
        guard let bytes = bytes(address) else { throw reader.error("is not an IP address", path: [.key("address_prefix")]) }
        let length = try reader.integer("prefix_len", maximum: bytes.count * 8) ?? bytes.count * 8
        return CIDRRange(address, length: length)!
    }

    /// Whether `address` (an IP literal) is in the range.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address), bytes.count == prefix.count else { return false }
        var bits = length
        for (a, b) in zip(bytes, prefix) where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if a & mask != b & mask { return false }
            bits -= 8
        }
        return true
    }

    /// Whether `text` is an IPv4 or IPv6 literal (no allocation: it runs for each upstream connection).
    static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// The address's bytes (4 for IPv4, 16 for IPv6), nil when it is not an IP literal.
    static func bytes(_ address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
