/// A template that could not be parsed or run, with the template's name and line.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public var template: String
    public var line: Int
    public var message: String

    public init(template: String, line: Int, message: String) {
        self.template = template
        self.line = line
        self.message = message
    }

    public var description: String { "template: \(template):\(line): \(message)" }
}

/// The parsed form of a template: Go text/template's node kinds.
indirect enum TemplateNode: Sendable {
    case text(String)
    case action(Pipeline, line: Int)
    case ifNode(Pipeline, then: [TemplateNode], otherwise: [TemplateNode]?, line: Int)
    case rangeNode(Pipeline, body: [TemplateNode], otherwise: [TemplateNode]?, line: Int)
    case withNode(Pipeline, body: [TemplateNode], otherwise: [TemplateNode]?, line: Int)
    case templateCall(name: String, Pipeline?, line: Int)
    case breakNode(line: Int)
    case continueNode(line: Int)
}

/// `$x := cmd | cmd arg`: optional variables, then commands joined by pipes.
struct Pipeline: Sendable {
    var variables: [String] = []
    /// `=` rather than `:=`: assigns variables that already exist.
    var isAssignment = false
    var commands: [[Operand]] = []
}

/// One word of a command.
indirect enum Operand: Sendable {
    case dot
    /// `.A.B`
    case field([String])
    /// `$x.A.B` (`$` alone is the template's data)
    case variable(String, [String])
    /// A function name.
    case identifier(String)
    case string(String)
    case number(TemplateValue)
    case bool(Bool)
    case null
    /// `(pipeline).A.B`
    case parenthesized(Pipeline, [String])
}

/// Parses Go text/template source into node lists, collecting `define`d templates.
struct TemplateParser {
    private enum Token: Equatable {
        case text(String)
        case leftDelim(trim: Bool)
        case rightDelim(trim: Bool)
        case comment
        case identifier(String)
        case field(String)
        case variable(String)
        case dot
        case string(String)
        case rawString(String)
        case char(Int)
        case number(String)
        case pipe, leftParen, rightParen, comma, declare, assign
        case space
        case end
    }

    private struct Positioned {
        var token: Token
        var line: Int
    }

    let name: String
    private var tokens: [Positioned] = []
    private var position = 0
    private(set) var definitions: [String: [TemplateNode]] = [:]

    init(name: String, source: String) throws(TemplateError) {
        self.name = name
        tokens = try Self.lex(source, name: name)
    }

    // MARK: Lexing

    private static func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }

    private static func lex(_ source: String, name: String) throws(TemplateError) -> [Positioned] {
        var result: [Positioned] = []
        let chars = Array(source)
        var index = 0
        var line = 1
        var text = ""
        func count(_ characters: ArraySlice<Character>) -> Int { characters.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) } }

        while index < chars.count {
            // Text up to the next `{{`.
            if !(chars[index] == "{" && index + 1 < chars.count && chars[index + 1] == "{") {
                text.append(chars[index])
                index += 1
                continue
            }
            let textLine = line
            line += text.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
            index += 2
            var trimLeft = false
            if index + 1 < chars.count, chars[index] == "-", isSpace(chars[index + 1]) {
                trimLeft = true
                index += 1
            }
            if trimLeft { while let last = text.last, isSpace(last) { text.removeLast() } }
            if !text.isEmpty { result.append(Positioned(token: .text(text), line: textLine)) }
            text = ""

            // A comment: `{{/* ... */}}`, with optional trim markers around it.
            var probe = index
            while probe < chars.count, isSpace(chars[probe]) { probe += 1 }
            if probe + 1 < chars.count, chars[probe] == "/", chars[probe + 1] == "*" {
                guard let close = findCommentEnd(chars, from: probe + 2) else {
                    throw TemplateError(template: name, line: line, message: "unclosed comment")
                }
                line += count(chars[index..<close])
                var after = close + 2
                var trimRight = false
                if !matches(chars, at: after, "}}") {
                    skipSpace(chars, &after, &line)
                    trimRight = matches(chars, at: after, "-}}")
                    if trimRight { after += 1 }
                }
                guard matches(chars, at: after, "}}") else {
                    throw TemplateError(template: name, line: line, message: "comment ends before closing delimiter")
                }
                index = after + 2
                if trimRight { skipSpace(chars, &index, &line) }
                continue
            }

            result.append(Positioned(token: .leftDelim(trim: trimLeft), line: line))
            // Tokens inside the action.
            while true {
                guard index < chars.count else {
                    throw TemplateError(template: name, line: line, message: "unclosed action")
                }
                let c = chars[index]
                if isSpace(c) {
                    var end = index
                    while end < chars.count, isSpace(chars[end]) { end += 1 }
                    // ` -}}` closes with a trim marker.
                    if matches(chars, at: end, "-}}") {
                        line += count(chars[index..<end])
                        index = end + 3
                        result.append(Positioned(token: .rightDelim(trim: true), line: line))
                        skipSpace(chars, &index, &line)
                        break
                    }
                    line += count(chars[index..<end])
                    index = end
                    result.append(Positioned(token: .space, line: line))
                    continue
                }
                if c == "}" {
                    guard index + 1 < chars.count, chars[index + 1] == "}" else {
                        throw TemplateError(template: name, line: line, message: "unexpected \"}\" in command")
                    }
                    index += 2
                    result.append(Positioned(token: .rightDelim(trim: false), line: line))
                    break
                }
                switch c {
                case "|": result.append(Positioned(token: .pipe, line: line)); index += 1
                case "(": result.append(Positioned(token: .leftParen, line: line)); index += 1
                case ")": result.append(Positioned(token: .rightParen, line: line)); index += 1
                case ",": result.append(Positioned(token: .comma, line: line)); index += 1
                case "=": result.append(Positioned(token: .assign, line: line)); index += 1
                case ":":
                    guard index + 1 < chars.count, chars[index + 1] == "=" else {
                        throw TemplateError(template: name, line: line, message: "expected :=")
                    }
                    result.append(Positioned(token: .declare, line: line))
                    index += 2
                case "\"":
                    var value = ""
                    index += 1
                    while true {
                        guard index < chars.count, chars[index] != "\n" else {
                            throw TemplateError(template: name, line: line, message: "unterminated quoted string")
                        }
                        let d = chars[index]
                        if d == "\"" { index += 1; break }
                        if d == "\\" {
                            guard index + 1 < chars.count else {
                                throw TemplateError(template: name, line: line, message: "unterminated quoted string")
                            }
                            let (scalar, length) = try unescape(chars, at: index, name: name, line: line)
                            value.unicodeScalars.append(scalar)
                            index += length
                        } else {
                            value.append(d)
                            index += 1
                        }
                    }
                    result.append(Positioned(token: .string(value), line: line))
                case "`":
                    var end = index + 1
                    while end < chars.count, chars[end] != "`" { end += 1 }
                    guard end < chars.count else {
                        throw TemplateError(template: name, line: line, message: "unterminated raw quoted string")
                    }
                    let value = String(chars[(index + 1)..<end])
                    result.append(Positioned(token: .rawString(value), line: line))
                    line += count(chars[index..<end])
                    index = end + 1
                case "'":
                    var end = index + 1
                    var value: Int = 0
                    if end < chars.count, chars[end] == "\\" {
                        let (scalar, length) = try unescape(chars, at: end, name: name, line: line)
                        value = Int(scalar.value)
                        end += length
                    } else if end < chars.count {
                        value = Int(chars[end].unicodeScalars.first!.value)
                        end += 1
                    }
                    guard end < chars.count, chars[end] == "'" else {
                        throw TemplateError(template: name, line: line, message: "unterminated character constant")
                    }
                    result.append(Positioned(token: .char(value), line: line))
                    index = end + 1
                case "$":
                    var end = index + 1
                    while end < chars.count, chars[end].isLetter || chars[end].isNumber || chars[end] == "_" { end += 1 }
                    result.append(Positioned(token: .variable(String(chars[index..<end])), line: line))
                    index = end
                case ".":
                    if index + 1 < chars.count, chars[index + 1].isNumber {
                        let (number, end) = scanNumber(chars, from: index)
                        result.append(Positioned(token: .number(number), line: line))
                        index = end
                        break
                    }
                    var end = index + 1
                    while end < chars.count, chars[end].isLetter || chars[end].isNumber || chars[end] == "_" { end += 1 }
                    if end == index + 1 {
                        result.append(Positioned(token: .dot, line: line))
                    } else {
                        result.append(Positioned(token: .field(String(chars[(index + 1)..<end])), line: line))
                    }
                    index = end
                default:
                    if c.isNumber || ((c == "-" || c == "+") && index + 1 < chars.count && (chars[index + 1].isNumber || chars[index + 1] == ".")) {
                        let (number, end) = scanNumber(chars, from: index)
                        result.append(Positioned(token: .number(number), line: line))
                        index = end
                    } else if c.isLetter || c == "_" {
                        var end = index
                        while end < chars.count, chars[end].isLetter || chars[end].isNumber || chars[end] == "_" { end += 1 }
                        result.append(Positioned(token: .identifier(String(chars[index..<end])), line: line))
                        index = end
                    } else {
                        throw TemplateError(template: name, line: line, message: "unexpected \"\(c)\" in command")
                    }
                }
            }
        }
        if !text.isEmpty { result.append(Positioned(token: .text(text), line: line)) }
        result.append(Positioned(token: .end, line: line))
        return result
    }

    private static func matches(_ chars: [Character], at index: Int, _ literal: String) -> Bool {
        var position = index
        for character in literal {
            guard position < chars.count, chars[position] == character else { return false }
            position += 1
        }
        return true
    }

    private static func skipSpace(_ chars: [Character], _ index: inout Int, _ line: inout Int) {
        while index < chars.count, isSpace(chars[index]) {
            if chars[index] == "\n" { line += 1 }
            index += 1
        }
    }

    private static func findCommentEnd(_ chars: [Character], from start: Int) -> Int? {
        var index = start
        while index + 1 < chars.count {
            if chars[index] == "*" && chars[index + 1] == "/" { return index }
            index += 1
        }
        return nil
    }

    private static func scanNumber(_ chars: [Character], from start: Int) -> (String, Int) {
        var end = start
        if chars[end] == "+" || chars[end] == "-" { end += 1 }
        while end < chars.count {
            let c = chars[end]
            if c.isLetter || c.isNumber || c == "." || c == "_" {
                end += 1
            } else if (c == "+" || c == "-"), let previous = chars[safe: end - 1], previous == "e" || previous == "E" || previous == "p" || previous == "P" {
                end += 1
            } else {
                break
            }
        }
        return (String(chars[start..<end]), end)
    }

    private static func unescape(_ chars: [Character], at index: Int, name: String, line: Int) throws(TemplateError) -> (Unicode.Scalar, Int) {
        let c = chars[index + 1]
        switch c {
        case "n": return ("\n", 2)
        case "t": return ("\t", 2)
        case "r": return ("\r", 2)
        case "\\": return ("\\", 2)
        case "\"": return ("\"", 2)
        case "'": return ("'", 2)
        case "a": return ("\u{7}", 2)
        case "b": return ("\u{8}", 2)
        case "f": return ("\u{C}", 2)
        case "v": return ("\u{B}", 2)
        case "x", "u", "U":
            let digits = c == "x" ? 2 : (c == "u" ? 4 : 8)
            guard index + 1 + digits < chars.count,
                  let value = UInt32(String(chars[(index + 2)...(index + 1 + digits)]), radix: 16),
                  let scalar = Unicode.Scalar(value) else {
                throw TemplateError(template: name, line: line, message: "invalid escape in quoted string")
            }
            return (scalar, 2 + digits)
        default:
            if c.isNumber, index + 3 < chars.count, let value = UInt32(String(chars[(index + 1)...(index + 3)]), radix: 8),
               let scalar = Unicode.Scalar(value) {
                return (scalar, 4)
            }
            throw TemplateError(template: name, line: line, message: "invalid escape \\\(c) in quoted string")
        }
    }

    // MARK: Parsing

    private var current: Positioned { tokens[position] }

    private mutating func next() -> Positioned {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private mutating func skipSpaces() {
        while case .space = current.token { position += 1 }
    }

    private func error(_ message: String, line: Int? = nil) -> TemplateError {
        TemplateError(template: name, line: line ?? current.line, message: message)
    }

    /// Parses the whole source: the main template's nodes; `define`d ones land in `definitions`.
    mutating func parse() throws(TemplateError) -> [TemplateNode] {
        let (nodes, terminator) = try parseList(allowed: [])
        if let terminator { throw error("unexpected {{\(terminator)}}") }
        return nodes
    }

    /// Nodes until `{{end}}`, `{{else ...}}` or the end of input. Returns the terminator word.
    private mutating func parseList(allowed: Set<String>) throws(TemplateError) -> ([TemplateNode], String?) {
        var nodes: [TemplateNode] = []
        while true {
            let token = next()
            switch token.token {
            case .end:
                if !allowed.isEmpty { throw error("unexpected EOF", line: token.line) }
                return (nodes, nil)
            case .text(let text):
                nodes.append(.text(text))
            case .leftDelim:
                skipSpaces()
                let line = current.line
                if case .identifier(let word) = current.token {
                    switch word {
                    case "end", "else":
                        guard allowed.contains(word) else { throw error("unexpected {{\(word)}}") }
                        position += 1
                        skipSpaces()
                        return (nodes, word)
                    case "if", "range", "with":
                        position += 1
                        nodes.append(try parseControl(word, line: line))
                        continue
                    case "template":
                        position += 1
                        nodes.append(try parseTemplateCall(line: line))
                        continue
                    case "define", "block":
                        position += 1
                        if let node = try parseDefine(isBlock: word == "block", line: line) { nodes.append(node) }
                        continue
                    case "break", "continue":
                        position += 1
                        try expectRightDelim()
                        nodes.append(word == "break" ? .breakNode(line: line) : .continueNode(line: line))
                        continue
                    default:
                        break
                    }
                }
                let pipeline = try parsePipeline(allowDeclarations: true)
                try expectRightDelim()
                nodes.append(.action(pipeline, line: line))
            default:
                throw error("unexpected token in template")
            }
        }
    }

    private mutating func expectRightDelim() throws(TemplateError) {
        skipSpaces()
        guard case .rightDelim = next().token else { throw error("unexpected token; expected }}") }
    }

    private mutating func parseControl(_ keyword: String, line: Int) throws(TemplateError) -> TemplateNode {
        let pipeline = try parsePipeline(allowDeclarations: true, isRange: keyword == "range")
        try expectRightDelim()
        let (body, terminator) = try parseList(allowed: ["end", "else"])
        var otherwise: [TemplateNode]?
        if terminator == "else" {
            // `{{else if ...}}` / `{{else with ...}}` chain into a nested node that ends with the same {{end}}.
            if case .identifier(let word) = current.token, (word == "if" && keyword == "if") || (word == "with" && keyword == "with") {
                position += 1
                let nestedLine = current.line
                otherwise = [try parseControl(word, line: nestedLine)]
                return make(keyword, pipeline, body, otherwise, line)
            }
            try expectRightDelim()
            let (elseBody, elseTerminator) = try parseList(allowed: ["end"])
            guard elseTerminator == "end" else { throw error("expected {{end}}") }
            otherwise = elseBody
        }
        try expectRightDelim()
        return make(keyword, pipeline, body, otherwise, line)
    }

    private func make(_ keyword: String, _ pipeline: Pipeline, _ body: [TemplateNode], _ otherwise: [TemplateNode]?, _ line: Int) -> TemplateNode {
        switch keyword {
        case "if": return .ifNode(pipeline, then: body, otherwise: otherwise, line: line)
        case "range": return .rangeNode(pipeline, body: body, otherwise: otherwise, line: line)
        default: return .withNode(pipeline, body: body, otherwise: otherwise, line: line)
        }
    }

    private mutating func parseTemplateName() throws(TemplateError) -> String {
        skipSpaces()
        switch next().token {
        case .string(let value), .rawString(let value): return value
        default: throw error("expected a quoted template name")
        }
    }

    private mutating func parseTemplateCall(line: Int) throws(TemplateError) -> TemplateNode {
        let target = try parseTemplateName()
        skipSpaces()
        if case .rightDelim = current.token {
            position += 1
            return .templateCall(name: target, nil, line: line)
        }
        let pipeline = try parsePipeline(allowDeclarations: false)
        try expectRightDelim()
        return .templateCall(name: target, pipeline, line: line)
    }

    private mutating func parseDefine(isBlock: Bool, line: Int) throws(TemplateError) -> TemplateNode? {
        let target = try parseTemplateName()
        var pipeline: Pipeline?
        skipSpaces()
        if isBlock {
            pipeline = try parsePipeline(allowDeclarations: false)
        }
        try expectRightDelim()
        let (body, terminator) = try parseList(allowed: ["end"])
        guard terminator == "end" else { throw error("expected {{end}}") }
        try expectRightDelim()
        definitions[target] = body
        return isBlock ? .templateCall(name: target, pipeline, line: line) : nil
    }

    private mutating func parsePipeline(allowDeclarations: Bool, isRange: Bool = false) throws(TemplateError) -> Pipeline {
        var pipeline = Pipeline()
        skipSpaces()
        // Look ahead for `$x :=`, `$x =` or `$i, $v :=`.
        if allowDeclarations, case .variable = current.token {
            let saved = position
            var names: [String] = []
            while case .variable(let name) = current.token {
                names.append(name)
                position += 1
                skipSpaces()
                if case .comma = current.token, isRange, names.count < 2 {
                    position += 1
                    skipSpaces()
                    continue
                }
                break
            }
            if case .declare = current.token {
                position += 1
                pipeline.variables = names
            } else if case .assign = current.token, names.count == 1 {
                position += 1
                pipeline.variables = names
                pipeline.isAssignment = true
            } else {
                position = saved
            }
        }
        while true {
            skipSpaces()
            let command = try parseCommand()
            if command.isEmpty { throw error("missing command") }
            pipeline.commands.append(command)
            skipSpaces()
            if case .pipe = current.token {
                position += 1
                continue
            }
            break
        }
        return pipeline
    }

    private mutating func parseCommand() throws(TemplateError) -> [Operand] {
        var operands: [Operand] = []
        while true {
            skipSpaces()
            switch current.token {
            case .rightDelim, .pipe, .rightParen, .end:
                return operands
            default:
                operands.append(try parseOperand())
            }
        }
    }

    private mutating func fieldChain() -> [String] {
        var chain: [String] = []
        while case .field(let name) = current.token {
            chain.append(name)
            position += 1
        }
        return chain
    }

    private mutating func parseOperand() throws(TemplateError) -> Operand {
        let token = next()
        switch token.token {
        case .dot:
            return .dot
        case .field(let name):
            return .field([name] + fieldChain())
        case .variable(let name):
            return .variable(name, fieldChain())
        case .identifier(let word):
            switch word {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "nil": return .null
            default: return .identifier(word)
            }
        case .string(let value), .rawString(let value):
            return .string(value)
        case .char(let value):
            return .number(.int(value))
        case .number(let text):
            guard let value = Self.number(text) else { throw error("bad number syntax: \"\(text)\"", line: token.line) }
            return .number(value)
        case .leftParen:
            let inner = try parsePipeline(allowDeclarations: true)
            skipSpaces()
            guard case .rightParen = next().token else { throw error("unclosed left paren", line: token.line) }
            return .parenthesized(inner, fieldChain())
        default:
            throw error("unexpected token in operand", line: token.line)
        }
    }

    /// Go number literals: decimal, hex, octal, binary, floats, `_` separators.
    static func number(_ text: String) -> TemplateValue? {
        let cleaned = text.filter { $0 != "_" }
        if let value = ScalarResolver.parseInt(cleaned) {
            // A leading 0 is octal in Go too; "0" alone is zero.
            return .int(value)
        }
        if let value = Double(cleaned) { return .float(value) }
        return nil
    }
}

extension Array {
    subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}
