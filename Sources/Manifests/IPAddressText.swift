#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP addresses and CIDR ranges as written in manifests, checked with the C library's parser.
enum IPAddressText {
    /// An IPv4 or IPv6 address such as `10.1.2.3` or `2001:db8::1`.
    static func isAddress(_ text: String) -> Bool {
        bits(text) != nil
    }

    /// `address/prefix` with a prefix that fits the address family: `10.0.0.0/8`, `2001:db8::/32`.
    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), parts[1].allSatisfy(\.isNumber),
              let width = bits(String(parts[0])) else { return false }
        return (0...width).contains(prefix)
    }

    /// An address, or a CIDR range.
    static func isAddressOrCIDR(_ text: String) -> Bool {
        text.contains("/") ? isCIDR(text) : isAddress(text)
    }

    /// 32 for IPv4, 128 for IPv6, nil when `text` is neither.
    private static func bits(_ text: String) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &buffer) == 1 { return 32 }
        if inet_pton(AF_INET6, text, &buffer) == 1 { return 128 }
        return nil
    }
}
