/// What a string's characters allow when it is written as a YAML scalar: the checks libyaml's emitter
/// makes before it picks plain, single-quoted, double-quoted or literal style. Kubernetes' YAML output
/// comes from a port of that emitter, so making the same choices gives the same text.
struct ScalarAnalysis {
    var flowPlainAllowed = true
    var blockPlainAllowed = true
    var singleQuotedAllowed = true
    var blockAllowed = true
    var hasLineBreaks = false
    var hasNewline = false

    init(_ text: String) {
        var text = text
        self = text.withUTF8 { ScalarAnalysis(bytes: $0) }
    }

    init(bytes: UnsafeBufferPointer<UInt8>) {
        let count = bytes.count
        guard count > 0 else {
            flowPlainAllowed = false
            blockPlainAllowed = true
            blockAllowed = false
            return
        }
        // Fast path: letters, digits and `_ / .` after a letter or digit allow every style.
        if Self.isAlphanumeric(bytes[0]) {
            var simple = true
            for byte in bytes where !Self.isAlphanumeric(byte) && byte != 0x5F && byte != 0x2F && byte != 0x2E && byte != 0x2D {
                simple = false
                break
            }
            if simple { return }
        }
        var flowIndicators = false, blockIndicators = false
        var leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false
        var breakSpace = false, spaceBreak = false, previousSpace = false, previousBreak = false
        var specialCharacters = false, lineBreaks = false

        if count >= 3 {
            let b0 = bytes[0], b1 = bytes[1], b2 = bytes[2]
            if (b0 == 0x2D && b1 == 0x2D && b2 == 0x2D) || (b0 == 0x2E && b1 == 0x2E && b2 == 0x2E) {
                flowIndicators = true
                blockIndicators = true
            }
        }

        var precededByWhitespace = true
        var index = 0
        var followedByWhitespace = Self.isBlank(bytes, at: Self.width(bytes[0]))
        while index < count {
            let byte = bytes[index]
            let width = Self.width(byte)
            let isFirst = index == 0
            let isLast = index + width >= count
            if isFirst {
                switch byte {
                case 0x23, 0x2C, 0x5B, 0x5D, 0x7B, 0x7D, 0x26, 0x2A, 0x21, 0x7C, 0x3E, 0x27, 0x22, 0x25, 0x40, 0x60:
                    // # , [ ] { } & * ! | > ' " % @ `
                    flowIndicators = true
                    blockIndicators = true
                case 0x3F, 0x3A: // ? :
                    flowIndicators = true
                    if followedByWhitespace { blockIndicators = true }
                case 0x2D: // -
                    if followedByWhitespace {
                        flowIndicators = true
                        blockIndicators = true
                    }
                default: break
                }
            } else {
                switch byte {
                case 0x2C, 0x3F, 0x5B, 0x5D, 0x7B, 0x7D: flowIndicators = true
                case 0x3A:
                    flowIndicators = true
                    if followedByWhitespace { blockIndicators = true }
                case 0x23:
                    if precededByWhitespace {
                        flowIndicators = true
                        blockIndicators = true
                    }
                default: break
                }
            }
            if !Self.isPrintable(bytes, at: index) { specialCharacters = true }
            let isBreak = Self.isBreak(bytes, at: index)
            if isBreak { lineBreaks = true }
            if byte == 0x0A { hasNewline = true }
            if byte == 0x20 {
                if isFirst { leadingSpace = true }
                if isLast { trailingSpace = true }
                if previousBreak { breakSpace = true }
                previousSpace = true
                previousBreak = false
            } else if isBreak {
                if isFirst { leadingBreak = true }
                if isLast { trailingBreak = true }
                if previousSpace { spaceBreak = true }
                previousSpace = false
                previousBreak = true
            } else {
                previousSpace = false
                previousBreak = false
            }
            precededByWhitespace = byte == 0x20 || byte == 0x09 || isBreak
            index += width
            if index < count {
                followedByWhitespace = Self.isBlank(bytes, at: index + Self.width(bytes[index]))
            }
        }

        hasLineBreaks = lineBreaks
        if leadingSpace || leadingBreak || trailingSpace || trailingBreak {
            flowPlainAllowed = false
            blockPlainAllowed = false
        }
        if trailingSpace { blockAllowed = false }
        if breakSpace {
            flowPlainAllowed = false
            blockPlainAllowed = false
            singleQuotedAllowed = false
        }
        if spaceBreak || specialCharacters {
            flowPlainAllowed = false
            blockPlainAllowed = false
            singleQuotedAllowed = false
            blockAllowed = false
        }
        if lineBreaks {
            flowPlainAllowed = false
            blockPlainAllowed = false
        }
        if flowIndicators { flowPlainAllowed = false }
        if blockIndicators { blockPlainAllowed = false }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// Bytes in the UTF-8 sequence that starts with this byte.
    static func width(_ byte: UInt8) -> Int {
        if byte & 0x80 == 0 { return 1 }
        if byte & 0xE0 == 0xC0 { return 2 }
        if byte & 0xF0 == 0xE0 { return 3 }
        if byte & 0xF8 == 0xF0 { return 4 }
        return 1
    }

    /// Space, tab, a line break, or the end of the text.
    static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        guard index < bytes.count else { return true }
        let byte = bytes[index]
        return byte == 0x20 || byte == 0x09 || isBreak(bytes, at: index)
    }

    /// CR, LF, NEL (U+0085), LS (U+2028) or PS (U+2029).
    static func isBreak(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        let byte = bytes[index]
        if byte == 0x0A || byte == 0x0D { return true }
        if byte == 0xC2, index + 1 < bytes.count { return bytes[index + 1] == 0x85 }
        if byte == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x80 {
            return bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9
        }
        return false
    }

    /// libyaml's printable set: LF, ASCII 0x20-0x7E, U+00A0-U+D7FF and U+E000-U+FFFD except the BOM.
    /// Tabs, other controls and characters beyond the Basic Multilingual Plane are not printable.
    static func isPrintable(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        let byte = bytes[index]
        let next = index + 1 < bytes.count ? bytes[index + 1] : 0
        let third = index + 2 < bytes.count ? bytes[index + 2] : 0
        if byte == 0x0A || (byte >= 0x20 && byte <= 0x7E) { return true }
        if byte == 0xC2 { return next >= 0xA0 }
        if byte > 0xC2 && byte < 0xED { return true }
        if byte == 0xED { return next < 0xA0 }
        if byte == 0xEE { return true }
        if byte == 0xEF {
            return !(next == 0xBB && third == 0xBF) && !(next == 0xBF && (third == 0xBE || third == 0xBF))
        }
        return false
    }
}
