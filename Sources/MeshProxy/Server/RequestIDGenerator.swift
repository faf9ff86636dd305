/// Makes `x-request-id` values as Envoy does (random UUIDs, version 4, lowercase) from a fast generator seeded
/// once from the system's, so a request costs no system call and no Foundation. One per loop; loop thread only.
struct RequestIDGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var seed = SystemRandomNumberGenerator()
        state = (seed.next(), seed.next(), seed.next(), seed.next() | 1)
    }

    /// xoshiro256**.
    private mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 { (value << count) | (value >> (64 - count)) }

    /// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    mutating func make() -> String {
        var high = next(), low = next()
        high = (high & ~0xF000) | 0x4000                       // version 4
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // RFC 4122 variant
        return String(unsafeUninitializedCapacity: 36) { out in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            func put(_ value: UInt64, nibbles: Int) {
                for index in stride(from: nibbles - 1, through: 0, by: -1) {
                    out[position] = digits.utf8Start[Int((value >> (UInt64(index) * 4)) & 0xF)]
                    position += 1
                    if position == 8 || position == 13 || position == 18 || position == 23 { out[position] = UInt8(ascii: "-"); position += 1 }
                }
            }
            put(high, nibbles: 16)
            put(low, nibbles: 16)
            return 36
        }
    }
}
