/// Writes node trees as YAML in the block style Kubernetes tooling uses: two-space indent, sequences
/// under a key not indented further (`- name: x`), empty collections as `{}` and `[]`, strings quoted only
/// when they would not read back as the same string, multi-line strings as literal blocks.
public struct YAMLEmitter: Sendable {
    /// The order mapping keys are written in.
    public enum KeyOrder: Sendable {
        /// As they stand in the tree (as parsed, for parsed input).
        case asParsed
        /// Sorted the way sigs.k8s.io/yaml sorts them (digit runs compared as numbers), which is the
        /// order of `kubectl get -o yaml` and Istio's kube-inject output.
        case sorted
    }

    public var keyOrder: KeyOrder

    public init(keyOrder: KeyOrder = .asParsed) {
        self.keyOrder = keyOrder
    }

    /// One document, ending in a newline.
    public func emit(_ node: YAMLNode) -> String {
        var writer = YAMLWriter(keyOrder: keyOrder)
        writer.document(node)
        return writer.text
    }

    /// Several documents separated by `---` lines.
    public func emit(documents: [YAMLNode]) -> String {
        var writer = YAMLWriter(keyOrder: keyOrder)
        for (index, node) in documents.enumerated() {
            if index > 0 { writer.raw("---\n") }
            writer.document(node)
        }
        return writer.text
    }
}

/// The longest key libyaml writes as a simple `key: value`; a longer one gets the explicit `? ` form.
private let simpleKeyLimit = 128
/// Past this column a long scalar value is folded onto the next line at a space, as libyaml does.
private let bestWidth = 80

private struct YAMLWriter {
    let keyOrder: YAMLEmitter.KeyOrder
    private var bytes: [UInt8] = []

    init(keyOrder: YAMLEmitter.KeyOrder) {
        self.keyOrder = keyOrder
        bytes.reserveCapacity(4096)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    private mutating func spaces(_ count: Int) {
        for _ in 0..<count { bytes.append(0x20) }
    }

    mutating func document(_ node: YAMLNode) {
        switch node.content {
        case .mapping(let pairs) where !pairs.isEmpty:
            mapping(pairs, indent: 0, continuingLine: false)
        case .sequence(let items) where !items.isEmpty:
            sequence(items, indent: 0, continuingLine: false)
        default:
            inline(node, blockIndent: 2)
            bytes.append(0x0A)
        }
    }

    private func ordered(_ pairs: [YAMLPair]) -> [YAMLPair] {
        guard keyOrder == .sorted, pairs.count > 1 else { return pairs }
        return pairs.sorted { KeyOrdering.goYAMLLess($0.key.scalarText ?? "", $1.key.scalarText ?? "") }
    }

    /// A block mapping whose keys stand at `indent`; with `continuingLine` the first key follows
    /// text already on the line (a `- ` of a sequence item).
    private mutating func mapping(_ pairs: [YAMLPair], indent: Int, continuingLine: Bool) {
        var first = continuingLine
        for pair in ordered(pairs) {
            if !first { spaces(indent) }
            first = false
            if !writeSimpleKey(pair.key) {
                bytes.append(contentsOf: "? ".utf8)
                inline(pair.key, blockIndent: indent + 2, simpleKeyContext: false)
                bytes.append(0x0A)
                spaces(indent)
                bytes.append(0x3A)
            }
            value(pair.value, indent: indent)
        }
    }

    /// What follows `key:` for a value in a mapping at `indent`.
    private mutating func value(_ node: YAMLNode, indent: Int) {
        switch node.content {
        case .mapping(let pairs) where !pairs.isEmpty:
            bytes.append(0x0A)
            mapping(pairs, indent: indent + 2, continuingLine: false)
        case .sequence(let items) where !items.isEmpty:
            bytes.append(0x0A)
            sequence(items, indent: indent, continuingLine: false)
        default:
            bytes.append(0x20)
            inline(node, blockIndent: indent + 2)
            bytes.append(0x0A)
        }
    }

    private mutating func sequence(_ items: [YAMLNode], indent: Int, continuingLine: Bool) {
        var first = continuingLine
        for item in items {
            if !first { spaces(indent) }
            first = false
            bytes.append(0x2D)
            switch item.content {
            case .mapping(let pairs) where !pairs.isEmpty:
                bytes.append(0x20)
                mapping(pairs, indent: indent + 2, continuingLine: true)
            case .sequence(let nested) where !nested.isEmpty:
                bytes.append(0x20)
                sequence(nested, indent: indent + 2, continuingLine: true)
            default:
                bytes.append(0x20)
                inline(item, blockIndent: indent + 2)
                bytes.append(0x0A)
            }
        }
    }

    /// Writes `key:` and returns true, or writes nothing and returns false when the key needs the
    /// explicit `? ` form (a collection, or longer than libyaml's simple-key limit).
    private mutating func writeSimpleKey(_ key: YAMLNode) -> Bool {
        guard case .scalar = key.content else { return false }
        let start = bytes.count
        inline(key, blockIndent: 0, simpleKeyContext: true)
        if bytes.count - start > simpleKeyLimit {
            bytes.removeSubrange(start...)
            return false
        }
        bytes.append(0x3A)
        return true
    }

    /// A scalar or an empty collection, or (as a key) any node in flow style.
    private mutating func inline(_ node: YAMLNode, blockIndent: Int, simpleKeyContext: Bool = false) {
        switch node.content {
        case .scalar(let scalar):
            self.scalar(scalar, blockIndent: blockIndent, simpleKeyContext: simpleKeyContext, flow: false)
        case .sequence(let items):
            flowSequence(items)
        case .mapping(let pairs):
            flowMapping(pairs)
        }
    }

    private mutating func flowSequence(_ items: [YAMLNode]) {
        bytes.append(0x5B)
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(contentsOf: ", ".utf8) }
            flowNode(item)
        }
        bytes.append(0x5D)
    }

    private mutating func flowMapping(_ pairs: [YAMLPair]) {
        bytes.append(0x7B)
        for (index, pair) in ordered(pairs).enumerated() {
            if index > 0 { bytes.append(contentsOf: ", ".utf8) }
            flowNode(pair.key)
            bytes.append(contentsOf: ": ".utf8)
            flowNode(pair.value)
        }
        bytes.append(0x7D)
    }

    private mutating func flowNode(_ node: YAMLNode) {
        switch node.content {
        case .scalar(let scalar): self.scalar(scalar, blockIndent: 0, simpleKeyContext: false, flow: true)
        case .sequence(let items): flowSequence(items)
        case .mapping(let pairs): flowMapping(pairs)
        }
    }

    private enum Style { case plain, single, double, literal }

    private mutating func scalar(_ scalar: YAMLScalar, blockIndent: Int, simpleKeyContext: Bool, flow: Bool) {
        if scalar.kind != .string {
            bytes.append(contentsOf: Self.plainText(of: scalar).utf8)
            return
        }
        let text = scalar.text
        let analysis = ScalarAnalysis(text)
        // The style asked for: a literal block for multi-line text, quotes where plain text would read
        // back as another type, and in source order the quotes the author chose.
        var style: Style
        if analysis.hasNewline {
            style = .literal
        } else if ScalarResolver.plainWouldChangeMeaning(text) {
            style = .double
        } else if keyOrder == .asParsed && scalar.style == .singleQuoted {
            style = .single
        } else if keyOrder == .asParsed && scalar.style == .doubleQuoted {
            style = .double
        } else {
            style = .plain
        }
        // What the characters allow, as libyaml decides.
        if style == .plain {
            let plainAllowed = flow ? analysis.flowPlainAllowed : analysis.blockPlainAllowed
            if !plainAllowed || (text.isEmpty && (flow || simpleKeyContext)) { style = .single }
        }
        if style == .single && (!analysis.singleQuotedAllowed || analysis.hasLineBreaks) { style = .double }
        if style == .literal && (!analysis.blockAllowed || flow || simpleKeyContext) { style = .double }

        // Bytes since the last line break bound the column from above, so most scalars skip the count.
        let lineBytes = bytes.count - (bytes.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)
        let allowBreaks = !simpleKeyContext && !flow && text.utf8.count + lineBytes > bestWidth
            && text.utf8.count + currentColumn() > bestWidth
        switch style {
        case .plain where allowBreaks: folded(text, indent: blockIndent, quote: nil)
        case .plain: bytes.append(contentsOf: text.utf8)
        case .single where allowBreaks: folded(text, indent: blockIndent, quote: 0x27)
        case .single: singleQuoted(text)
        case .double: doubleQuoted(text, foldAt: allowBreaks ? blockIndent : nil)
        case .literal: literal(text, indent: blockIndent)
        }
    }

    /// Characters since the start of the current line.
    private func currentColumn() -> Int {
        var column = 0
        var index = bytes.count - 1
        while index >= 0 && bytes[index] != 0x0A {
            if bytes[index] & 0xC0 != 0x80 { column += 1 }
            index -= 1
        }
        return column
    }

    /// A plain or single-quoted scalar that may run past the width: at a single space beyond column 80
    /// the line breaks and goes on at `indent` (a reader folds the break back into that space).
    private mutating func folded(_ text: String, indent: Int, quote: UInt8?) {
        var column = currentColumn()
        if let quote {
            bytes.append(quote)
            column += 1
        }
        let scalars = Array(text.unicodeScalars)
        var previousSpace = false
        for (index, scalar) in scalars.enumerated() {
            if scalar == " " {
                let nextIsSpace = index + 1 < scalars.count && scalars[index + 1] == " "
                let inside = quote == nil || (index != 0 && index != scalars.count - 1)
                if !previousSpace && column > bestWidth && inside && !nextIsSpace {
                    bytes.append(0x0A)
                    spaces(indent)
                    column = indent
                } else {
                    bytes.append(0x20)
                    column += 1
                }
                previousSpace = true
                continue
            }
            if quote != nil && scalar == "'" {
                bytes.append(0x27)
                column += 1
            }
            bytes.append(contentsOf: String(scalar).utf8)
            column += 1
            previousSpace = false
        }
        if let quote { bytes.append(quote) }
    }

    /// How a null, bool, int or float is written: its own text when that reads back the same.
    static func plainText(of scalar: YAMLScalar) -> String {
        switch scalar.kind {
        case .null:
            return "null"
        case .float where ScalarResolver.resolvePlain(scalar.text) != .float:
            return ScalarResolver.canonicalFloatText(ScalarResolver.parseFloat(scalar.text)
                ?? ScalarResolver.parseInt(scalar.text).map(Double.init) ?? .nan)
        case .bool where ScalarResolver.resolvePlain(scalar.text) != .bool:
            return ScalarResolver.parseBool(scalar.text) == true ? "true" : "false"
        default:
            return scalar.text
        }
    }

    private mutating func singleQuoted(_ text: String) {
        bytes.append(0x27)
        for byte in text.utf8 {
            if byte == 0x27 { bytes.append(0x27) }
            bytes.append(byte)
        }
        bytes.append(0x27)
    }

    /// A double-quoted scalar; with `foldAt`, long lines break at a single space past column 80 and go
    /// on at that indent, with `\\` before a space that would otherwise be lost at the line start.
    private mutating func doubleQuoted(_ text: String, foldAt indent: Int? = nil) {
        bytes.append(0x22)
        let scalars = Array(text.unicodeScalars)
        var previousSpace = false
        for (index, scalar) in scalars.enumerated() {
            let value = scalar.value
            if let indent, value == 0x20 {
                if !previousSpace && currentColumn() > bestWidth && index != 0 && index != scalars.count - 1 {
                    bytes.append(0x0A)
                    spaces(indent)
                    if index + 1 < scalars.count && scalars[index + 1] == " " { bytes.append(0x5C) }
                } else {
                    bytes.append(0x20)
                }
                previousSpace = true
                continue
            }
            previousSpace = false
            if value >= 0x20 && value < 0x7F && value != 0x22 && value != 0x5C {
                bytes.append(UInt8(value))
                continue
            }
            switch value {
            case 0x00: bytes.append(contentsOf: "\\0".utf8)
            case 0x07: bytes.append(contentsOf: "\\a".utf8)
            case 0x08: bytes.append(contentsOf: "\\b".utf8)
            case 0x09: bytes.append(contentsOf: "\\t".utf8)
            case 0x0A: bytes.append(contentsOf: "\\n".utf8)
            case 0x0B: bytes.append(contentsOf: "\\v".utf8)
            case 0x0C: bytes.append(contentsOf: "\\f".utf8)
            case 0x0D: bytes.append(contentsOf: "\\r".utf8)
            case 0x1B: bytes.append(contentsOf: "\\e".utf8)
            case 0x22: bytes.append(contentsOf: "\\\"".utf8)
            case 0x5C: bytes.append(contentsOf: "\\\\".utf8)
            case 0x85: bytes.append(contentsOf: "\\N".utf8)
            case 0x2028: bytes.append(contentsOf: "\\L".utf8)
            case 0x2029: bytes.append(contentsOf: "\\P".utf8)
            case 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFFD:
                bytes.append(contentsOf: String(scalar).utf8)
            default:
                let hex = String(value, radix: 16, uppercase: true)
                if value <= 0xFF {
                    bytes.append(contentsOf: "\\x".utf8)
                    bytes.append(contentsOf: String(repeating: "0", count: 2 - hex.count).utf8)
                } else if value <= 0xFFFF {
                    bytes.append(contentsOf: "\\u".utf8)
                    bytes.append(contentsOf: String(repeating: "0", count: 4 - hex.count).utf8)
                } else {
                    bytes.append(contentsOf: "\\U".utf8)
                    bytes.append(contentsOf: String(repeating: "0", count: 8 - hex.count).utf8)
                }
                bytes.append(contentsOf: hex.utf8)
            }
        }
        bytes.append(0x22)
    }

    /// `|` with libyaml's hints: an indentation digit when the text starts with a space or a break,
    /// `-` when it has no final line break, `+` when it has more than one.
    private mutating func literal(_ text: String, indent: Int) {
        bytes.append(0x7C)
        let utf8 = Array(text.utf8)
        if let first = utf8.first, first == 0x20 || first == 0x0A {
            bytes.append(contentsOf: String(2).utf8)
        }
        if utf8.last != 0x0A {
            bytes.append(0x2D)
        } else if utf8.count == 1 || utf8[utf8.count - 2] == 0x0A {
            bytes.append(0x2B)
        }
        bytes.append(0x0A)
        var atLineStart = true
        for byte in utf8 {
            if byte == 0x0A {
                bytes.append(0x0A)
                atLineStart = true
            } else {
                if atLineStart { spaces(indent) }
                atLineStart = false
                bytes.append(byte)
            }
        }
        // The caller ends the line; a text that ended with its own break has already done so.
        if utf8.last == 0x0A { bytes.removeLast() }
    }
}

/// Key orders used when writing mappings.
public enum KeyOrdering {
    /// The order sigs.k8s.io/yaml (through go-yaml) writes map keys in: rune by rune, non-letters
    /// before letters, and runs of digits compared by their numeric value, so `a2 < a10`.
    public static func goYAMLLess(_ left: String, _ right: String) -> Bool {
        let a = Array(left.unicodeScalars), b = Array(right.unicodeScalars)
        var i = 0
        while i < a.count && i < b.count {
            if a[i] == b[i] {
                i += 1
                continue
            }
            let aLetter = isLetter(a[i]), bLetter = isLetter(b[i])
            if aLetter && bLetter { return a[i].value < b[i].value }
            if aLetter || bLetter { return bLetter }
            var aNumber: Int64 = 0, bNumber: Int64 = 0
            if a[i] == "0" || b[i] == "0" {
                var j = i - 1
                while j >= 0 && isDigit(a[j]) {
                    if a[j] != "0" {
                        aNumber = 1
                        bNumber = 1
                        break
                    }
                    j -= 1
                }
            }
            var ai = i, bi = i
            while ai < a.count && isDigit(a[ai]) {
                aNumber = aNumber &* 10 &+ Int64(a[ai].value - 48)
                ai += 1
            }
            while bi < b.count && isDigit(b[bi]) {
                bNumber = bNumber &* 10 &+ Int64(b[bi].value - 48)
                bi += 1
            }
            if aNumber != bNumber { return aNumber < bNumber }
            if ai != bi { return ai < bi }
            return a[i].value < b[i].value
        }
        return a.count < b.count
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 48 && scalar.value <= 57
    }

    private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return (value >= 65 && value <= 90) || (value >= 97 && value <= 122) }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}
