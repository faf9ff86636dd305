#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 3339 times as Kubernetes writes them (`2026-11-27T16:08:18Z`), read by hand: a table of 10,000 rows
/// reads 10,000 of them, and credential plugins' expiry times come in this form too.
public enum RFC3339 {
    /// Seconds since 1970 UTC of `YYYY-MM-DDTHH:MM:SS` followed by `Z`, fractional seconds or an offset.
    public static func epochSeconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 116, bytes[13] == 58, bytes[16] == 58 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard (48...57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        var epoch = Int64(timegm(&parts))
        // An offset such as +02:00 after optional fractional seconds.
        var index = 19
        if index < bytes.count, bytes[index] == 46 { index += 1; while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 } }
        if index + 6 <= bytes.count, bytes[index] == 43 || bytes[index] == 45, let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6) {
            let offset = Int64(hours * 3600 + minutes * 60)
            epoch += bytes[index] == 43 ? -offset : offset
        }
        return epoch
    }
}
