import Foundation

/// Pod addresses in 127.10.0.0/16 and on (Linux routes all of 127.0.0.0/8 to loopback, so any process can bind
/// them). An address is taken while a pod holds it in its status or a process of a deleted pod still stops;
/// what pods hold is read back from the store, so addresses persist across restarts.
struct PodAddressPool {
    /// Addresses handed out go round the range before one is used again. Each control plane starts at a random
    /// place, so two running at once (tests, several state directories) rarely hand out the same address.
    private var cursor = UInt32.random(in: 0..<PodAddressPool.count)
    static let first: UInt32 = (127 << 24) | (10 << 16) | 2
    /// 127.10.0.0/16 only: each pod with a sidecar also takes the same X.Y in 127.11.0.0/16 for its application.
    static let count: UInt32 = (1 << 16) - 2

    /// The next address not in `taken`.
    mutating func allocate(taken: Set<String>) -> String? {
        for _ in 0..<min(Self.count, UInt32(taken.count) + 16) {
            let value = Self.first + cursor
            cursor = (cursor + 1) % Self.count
            // Skip .0 and .255 in each /24 (they look like network and broadcast addresses to people and some tools).
            if value & 0xff == 0 || value & 0xff == 255 { continue }
            let text = Self.text(value)
            if !taken.contains(text) { return text }
        }
        return nil
    }

    static func text(_ value: UInt32) -> String { "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)" }
}
