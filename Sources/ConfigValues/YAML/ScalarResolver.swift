/// Decides what a plain scalar means, with the YAML 1.1 rules that Kubernetes' YAML decoder applies
/// (`yes`/`on`/`y` are booleans, `0123` is octal, `1_000` is an integer), and whether a string must be
/// quoted to read back as the same string under YAML 1.1 and 1.2 alike.
public enum ScalarResolver {
    /// The kind a plain (unquoted, untagged) scalar with this text resolves to.
    public static func resolvePlain(_ text: String) -> ScalarKind {
        let utf8 = text.utf8
        guard let first = utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"):
            // Every null and boolean word is at most five letters long.
            if utf8.count > 5 { return .string }
            if text == "~" || text == "null" || text == "Null" || text == "NULL" { return .null }
            if parseBool(text) != nil { return .bool }
            return .string
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "t"), UInt8(ascii: "T"),
             UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            return utf8.count <= 5 && parseBool(text) != nil ? .bool : .string
        case UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if parseInt(text) != nil || isUnsignedIntBeyondInt64(text) { return .int }
            if parseFloat(text) != nil { return .float }
            return .string
        default:
            return .string
        }
    }

    /// Whether a string written plain would read back as something else (or not at all) under
    /// YAML 1.1 or 1.2 rules, so that it must be quoted.
    public static func plainWouldChangeMeaning(_ text: String) -> Bool {
        resolvePlain(text) != .string || isSexagesimal(text)
    }

    public static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// An integer in any YAML 1.1 form: decimal, `0x`, `0o`, `0b`, leading-zero octal, `_` separators.
    public static func parseInt(_ text: String) -> Int? {
        var utf8 = Array(text.utf8)
        var negative = false
        var start = 0
        if let sign = utf8.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            start = 1
        }
        if utf8.contains(UInt8(ascii: "_")) { utf8.removeAll { $0 == UInt8(ascii: "_") } }
        guard start < utf8.count else { return nil }
        var radix: UInt64 = 10
        if utf8.count - start > 1, utf8[start] == UInt8(ascii: "0") {
            switch utf8[start + 1] {
            case UInt8(ascii: "x"), UInt8(ascii: "X"): radix = 16; start += 2
            case UInt8(ascii: "o"), UInt8(ascii: "O"): radix = 8; start += 2
            case UInt8(ascii: "b"), UInt8(ascii: "B"): radix = 2; start += 2
            default: radix = 8; start += 1
            }
        }
        guard start < utf8.count else { return nil }
        var magnitude: UInt64 = 0
        for byte in utf8[start...] {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard digit < radix else { return nil }
            let (product, overflowMultiply) = magnitude.multipliedReportingOverflow(by: radix)
            let (sum, overflowAdd) = product.addingReportingOverflow(digit)
            guard !overflowMultiply, !overflowAdd else { return nil }
            magnitude = sum
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int(Int64.min) }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int(magnitude)
    }

    private static func isUnsignedIntBeyondInt64(_ text: String) -> Bool {
        let digits = text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else { return false }
        guard let value = UInt64(digits.filter { $0 != "_" }) else { return false }
        return value > UInt64(Int64.max)
    }

    /// A float as YAML 1.1 writes it: `1.5`, `-.5`, `1e3`, `6.02E+23`, `.inf`, `-.Inf`, `.nan`.
    public static func parseFloat(_ text: String) -> Double? {
        guard let first = text.utf8.first else { return nil }
        if first == UInt8(ascii: ".") || first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            switch text {
            case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
            case "-.inf", "-.Inf", "-.INF": return -.infinity
            case ".nan", ".NaN", ".NAN": return .nan
            default: break
            }
        }
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let plain = text.contains("_") ? text.filter { $0 != "_" } : text
        guard matchesFloatSyntax(plain) else { return nil }
        return Double(plain.hasSuffix(".") ? plain + "0" : plain)
    }

    /// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
    private static func matchesFloatSyntax(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 48 && bytes[i] <= 57 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else { return false }
            while isDigit(index) { index += 1 }
        } else {
            guard isDigit(index) else { return false }
            while isDigit(index) { index += 1 }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                while isDigit(index) { index += 1 }
            }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { return false }
            while isDigit(index) { index += 1 }
        }
        return index == bytes.count
    }

    /// YAML 1.1 base-60 numbers such as `190:20:30` or `1:20.5`, which some decoders still read as numbers.
    public static func isSexagesimal(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
                || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")),
              text.utf8.contains(UInt8(ascii: ":")) else { return false }
        var body = Substring(text)
        if let sign = body.first, sign == "+" || sign == "-" { body = body.dropFirst() }
        guard let first = body.first, first.isASCII, first.isNumber, body.contains(":") else { return false }
        var parts = body.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return false }
        let head = parts.removeFirst()
        guard head.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) else { return false }
        for (offset, part) in parts.enumerated() {
            var field = part
            if offset == parts.count - 1, let dot = field.firstIndex(of: ".") {
                guard field[field.index(after: dot)...].allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) else { return false }
                field = field[..<dot]
            }
            guard (1...2).contains(field.count), field.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            if field.count == 2, field.first! > "5" { return false }
        }
        return true
    }

    /// Text for a float that reads back as a float: Go's shortest form, with `.0` added to whole numbers.
    public static func canonicalFloatText(_ value: Double) -> String {
        if value.isNaN { return ".nan" }
        if value.isInfinite { return value < 0 ? "-.inf" : ".inf" }
        let text = "\(value)"
        return resolvePlain(text) == .float ? text : text + ".0"
    }
}
