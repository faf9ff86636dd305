/// Go's ways of turning values into text: fmt's `%v`, `%q` and `Sprintf`, strconv's float forms, and
/// encoding/json. Templates print through these, so the output matches what Go writes.
public enum GoFormat {
    /// `%v`.
    public static func value(_ value: TemplateValue) -> String {
        switch value {
        case .missing: return "<no value>"
        case .null: return "<nil>"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .float(let number): return float(number)
        case .string(let text): return text
        case .list(let items): return "[" + items.map { Self.value($0) }.joined(separator: " ") + "]"
        case .map(let map): return "map[" + map.sortedKeys.map { "\($0):\(Self.value(map[$0]!))" }.joined(separator: " ") + "]"
        case .object(let object):
            guard case .map(let fields) = object.dataValue else { return Self.value(object.dataValue) }
            return "{" + fields.entries.map { Self.value($0.value) }.joined(separator: " ") + "}"
        }
    }

    /// The shortest decimal digits of a finite double and the position of the decimal point:
    /// 1234.5 is ("12345", 4).
    static func shortestDigits(_ number: Double) -> (digits: [UInt8], point: Int) {
        var text = "\(abs(number))"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count > 1 ? parts[1] : ""
        var digits = Array((whole + fraction).utf8).map { $0 - 48 }
        var point = whole.count + exponent
        while digits.count > 1, digits.first == 0 {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1, digits.last == 0 { digits.removeLast() }
        if digits == [0] { point = 1 }
        return (digits, point)
    }

    /// strconv.FormatFloat(x, 'g', -1, 64), which `%v` uses: the shortest digits, in exponent form
    /// when the exponent is below -4 or at least 6 (so 1e6 prints as `1e+06`, 15020 as `15020`).
    public static func float(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Inf" : "+Inf" }
        if number == 0 { return number.sign == .minus ? "-0" : "0" }
        let (digits, point) = shortestDigits(number)
        let sign = number < 0 ? "-" : ""
        let exponent = point - 1
        let text = String(decoding: digits.map { $0 + 48 }, as: UTF8.self)
        if exponent < -4 || exponent >= 6 {
            var mantissa = String(text.first!)
            if digits.count > 1 { mantissa += "." + text.dropFirst() }
            let magnitude = abs(exponent)
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        }
        return sign + fixedDigits(text, point: point)
    }

    /// Digits with the decimal point placed: ("125", 1) is `1.25`, ("5", -1) is `0.05`, ("12", 4) is `1200`.
    static func fixedDigits(_ digits: String, point: Int) -> String {
        if point <= 0 { return "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return digits + String(repeating: "0", count: point - digits.count) }
        return digits.prefix(point) + "." + digits.dropFirst(point)
    }

    /// strconv.Quote: double quotes, with Go's escapes for controls, quotes and backslashes.
    public static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{7}": out += "\\a"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{B}": out += "\\v"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value >= 0x80 && !isPrintable(scalar) {
                    out += scalar.value <= 0xFFFF ? "\\u" + hex(scalar.value, width: 4) : "\\U" + hex(scalar.value, width: 8)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator: return false
        case .spaceSeparator: return scalar == " "
        default: return true
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// fmt.Sprint: operands in their default form, with spaces between two operands when neither is a string.
    public static func sprint(_ values: [TemplateValue]) -> String {
        var out = ""
        for (index, value) in values.enumerated() {
            if index > 0, values[index - 1].stringValue == nil, value.stringValue == nil { out += " " }
            out += Self.value(value)
        }
        return out
    }

    /// fmt.Sprintf for the verbs templates use: %v %s %d %q %t %f %e %g %x %X %c %%, with flags,
    /// width and precision. Wrong or missing operands print as Go prints them (`%!d(string=x)`).
    public static func sprintf(_ format: String, _ arguments: [TemplateValue]) -> String {
        var out = ""
        var chars = Array(format)[...]
        var next = 0
        while let c = chars.popFirst() {
            guard c == "%" else { out.append(c); continue }
            var flags = Set<Character>()
            while let f = chars.first, "+-# 0".contains(f) { flags.insert(f); chars.removeFirst() }
            var width: Int?
            while let d = chars.first, let digit = d.wholeNumberValue, d.isASCII { width = (width ?? 0) * 10 + digit; chars.removeFirst() }
            var precision: Int?
            if chars.first == "." {
                chars.removeFirst()
                precision = 0
                while let d = chars.first, let digit = d.wholeNumberValue, d.isASCII { precision = precision! * 10 + digit; chars.removeFirst() }
            }
            guard let verb = chars.popFirst() else { out += "%!(NOVERB)"; break }
            if verb == "%" { out += "%"; continue }
            guard next < arguments.count else { out += "%!\(verb)(MISSING)"; continue }
            let argument = arguments[next].data
            next += 1
            var text: String
            switch (verb, argument) {
            case ("v", _): text = value(argument)
            case ("s", .string(let s)): text = precision.map { String(s.prefix($0)) } ?? s
            case ("s", .list), ("s", .map), ("s", .bool), ("s", .int), ("s", .float):
                text = value(argument)
            case ("q", .string(let s)): text = quote(s)
            case ("d", .int(let n)): text = String(n)
            case ("t", .bool(let b)): text = b ? "true" : "false"
            case ("x", .int(let n)): text = String(n, radix: 16)
            case ("X", .int(let n)): text = String(n, radix: 16, uppercase: true)
            case ("x", .string(let s)): text = s.utf8.map { hex(UInt32($0), width: 2) }.joined()
            case ("c", .int(let n)): text = Unicode.Scalar(UInt32(max(0, n))).map { String(Character($0)) } ?? "\u{FFFD}"
            case ("f", .float(let f)), ("F", .float(let f)): text = fixed(f, precision: precision ?? 6)
            case ("f", .int(let n)): text = "%!f(int=\(n))"
            case ("e", .float(let f)): text = scientific(f, precision: precision ?? 6)
            case ("g", .float(let f)): text = float(f)
            default:
                text = "%!\(verb)(\(argument.goTypeName)=\(value(argument)))"
            }
            if flags.contains("+"), "dfeg".contains(verb), !text.hasPrefix("-") { text = "+" + text }
            if let width, text.count < width {
                let padding = String(repeating: flags.contains("0") && !flags.contains("-") ? "0" : " ", count: width - text.count)
                text = flags.contains("-") ? text + padding : padding + text
            }
            out += text
        }
        if next < arguments.count {
            out += "%!(EXTRA " + arguments[next...].map { "\($0.goTypeName)=\(value($0))" }.joined(separator: ", ") + ")"
        }
        return out
    }

    /// `%.Nf`.
    static func fixed(_ number: Double, precision: Int) -> String {
        guard number.isFinite else { return float(number) }
        var scale = 1.0
        for _ in 0..<precision { scale *= 10 }
        let rounded = (abs(number) * scale).rounded(.toNearestOrEven)
        var digits = rounded < 9.0e18 ? String(UInt64(rounded)) : "\(rounded)"
        if digits.count <= precision { digits = String(repeating: "0", count: precision - digits.count + 1) + digits }
        let whole = digits.dropLast(precision), fraction = digits.suffix(precision)
        return (number < 0 ? "-" : "") + whole + (precision > 0 ? "." + fraction : "")
    }

    private static func scientific(_ number: Double, precision: Int) -> String {
        guard number.isFinite, number != 0 else { return number == 0 ? "0." + String(repeating: "0", count: precision) + "e+00" : float(number) }
        var exponent = Int((log10Approx(abs(number))).rounded(.down))
        var mantissa = abs(number) / pow10(exponent)
        if mantissa >= 10 { mantissa /= 10; exponent += 1 }
        if mantissa < 1 { mantissa *= 10; exponent -= 1 }
        let magnitude = abs(exponent)
        return (number < 0 ? "-" : "") + fixed(mantissa, precision: precision) + "e" + (exponent < 0 ? "-" : "+")
            + (magnitude < 10 ? "0" : "") + String(magnitude)
    }

    private static func log10Approx(_ value: Double) -> Double {
        let (digits, point) = shortestDigits(value)
        _ = digits
        return Double(point - 1)
    }

    private static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        if exponent >= 0 { for _ in 0..<exponent { result *= 10 } } else { for _ in 0..<(-exponent) { result /= 10 } }
        return result
    }
}

// MARK: - JSON as Go's encoding/json writes it

extension GoFormat {
    /// json.Marshal: map keys sorted, struct fields in declaration order, `<`, `>`, `&` escaped; with
    /// `indent`, json.MarshalIndent with that many spaces.
    public static func json(_ value: TemplateValue, indent: Int = 0) -> String {
        var out = ""
        writeJSON(value, depth: 0, indent: indent, into: &out)
        return out
    }

    private static func writeJSON(_ value: TemplateValue, depth: Int, indent: Int, into out: inout String) {
        func newline(_ level: Int) {
            guard indent > 0 else { return }
            out += "\n" + String(repeating: " ", count: level * indent)
        }
        switch value {
        case .missing, .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .float(let number): out += jsonFloat(number)
        case .string(let text): out += jsonString(text)
        case .list(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                newline(depth + 1)
                writeJSON(item, depth: depth + 1, indent: indent, into: &out)
            }
            if !items.isEmpty { newline(depth) }
            out += "]"
        case .map(let map):
            writeObject(map.sortedKeys.map { ($0, map[$0]!) }, depth: depth, indent: indent, into: &out)
        case .object(let object):
            if case .map(let fields) = object.dataValue {
                writeObject(fields.entries.map { ($0.key, $0.value) }, depth: depth, indent: indent, into: &out)
            } else {
                writeJSON(object.dataValue, depth: depth, indent: indent, into: &out)
            }
        }
    }

    private static func writeObject(_ entries: [(String, TemplateValue)], depth: Int, indent: Int, into out: inout String) {
        out += "{"
        for (index, entry) in entries.enumerated() {
            if index > 0 { out += "," }
            if indent > 0 { out += "\n" + String(repeating: " ", count: (depth + 1) * indent) }
            out += jsonString(entry.0) + (indent > 0 ? ": " : ":")
            writeJSON(entry.1, depth: depth + 1, indent: indent, into: &out)
        }
        if !entries.isEmpty && indent > 0 { out += "\n" + String(repeating: " ", count: depth * indent) }
        out += "}"
    }

    /// A float as encoding/json writes it: plain digits between 1e-6 and 1e21, else exponent form.
    static func jsonFloat(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number == 0 { return "0" }
        let (digits, point) = shortestDigits(number)
        let magnitude = abs(number)
        let text = String(decoding: digits.map { $0 + 48 }, as: UTF8.self)
        let sign = number < 0 ? "-" : ""
        if magnitude < 1e-6 || magnitude >= 1e21 {
            let exponent = point - 1
            var mantissa = String(text.first!)
            if digits.count > 1 { mantissa += "." + text.dropFirst() }
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String(abs(exponent))
        }
        return sign + fixedDigits(text, point: point)
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + hex(scalar.value, width: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
