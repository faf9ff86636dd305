/// Kubernetes resource quantities (`100m`, `1Gi`, `2e3`) in their canonical form, as the API types
/// write them back: `2000m` becomes `2`, `1024Mi` becomes `1Gi`, `1000` becomes `1k`.
public enum Quantity {
    private static let binarySuffixes: [(String, Int)] = [("Ki", 1), ("Mi", 2), ("Gi", 3), ("Ti", 4), ("Pi", 5), ("Ei", 6)]
    private static let decimalSuffixes: [(String, Int)] = [("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6), ("G", 9),
                                                           ("T", 12), ("P", 15), ("E", 18)]

    /// The canonical text, or nil when the text is not a quantity.
    public static func canonical(_ text: String) -> String? {
        var body = Substring(text)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        let numberEnd = body.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? body.endIndex
        let number = body[..<numberEnd], suffix = String(body[numberEnd...])
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1 else { return nil }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        let digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        guard !digits.isEmpty, var mantissa = Int(digits) else { return nil }
        var exponent = -(parts.count > 1 ? parts[1].count : 0)

        var binaryPower: Int?
        var exponentFormat = false
        if suffix.isEmpty {
        } else if let binary = binarySuffixes.first(where: { $0.0 == suffix }) {
            binaryPower = binary.1
        } else if let decimal = decimalSuffixes.first(where: { $0.0 == suffix }) {
            exponent += decimal.1
        } else if let first = suffix.first, first == "e" || first == "E", let value = Int(suffix.dropFirst()) {
            exponent += value
            exponentFormat = true
        } else {
            return nil
        }
        let sign = negative && mantissa != 0 ? "-" : ""

        if let power = binaryPower {
            // The value in bytes, when it is a whole number of them.
            var bytes = mantissa
            for _ in 0..<power { bytes *= 1024 }
            var scale = exponent
            while scale < 0 && bytes % 10 == 0 { bytes /= 10; scale += 1 }
            if scale == 0 && bytes >= 1024 {
                var unit = 0
                var value = bytes
                while unit < 6 && value % 1024 == 0 && value >= 1024 { value /= 1024; unit += 1 }
                return sign + String(value) + (unit == 0 ? "" : binarySuffixes[unit - 1].0)
            }
            mantissa = bytes
            exponent = scale
        }
        if mantissa == 0 { return "0" }
        while mantissa % 10 == 0 { mantissa /= 10; exponent += 1 }
        while ((exponent % 3) + 3) % 3 != 0 { mantissa *= 10; exponent -= 1 }
        if exponentFormat { return sign + String(mantissa) + (exponent == 0 ? "" : "e\(exponent)") }
        if exponent < -9 {
            // Below a nano unit Kubernetes rounds up to it.
            return sign + "1n"
        }
        let unit = exponent == 0 ? "" : decimalSuffixes.first { $0.1 == exponent }?.0 ?? ""
        if exponent > 18 { return sign + String(mantissa) + "e\(exponent)" }
        return sign + String(mantissa) + unit
    }
}
