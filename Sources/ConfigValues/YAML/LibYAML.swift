import CYAML

/// Reads YAML (and JSON, which is YAML) streams into node trees, on libyaml's event parser.
/// This is the only file that sees libyaml.
public enum YAMLParser {
    /// The most nodes that aliases may add to one stream before it is refused as an alias bomb.
    public static let aliasExpansionLimit = 1_000_000
    /// The deepest nesting accepted before a stream is refused.
    public static let nestingLimit = 1_000

    /// Parses every document of a stream, in order.
    /// - Parameters:
    ///   - text: the stream's text.
    ///   - file: the name to report in errors and to record on each document.
    public static func parse(_ text: String, file: String? = nil) throws(YAMLError) -> [YAMLDocument] {
        var text = text
        var firstError: YAMLError?
        // libyaml rejects a plain scalar in a flow collection that ends with ':' before the closing
        // bracket (`[2001:db8::]`), which Go's YAML reader, and so Kubernetes, accepts. Quote that
        // scalar and read again; any other error stands.
        for _ in 0..<16 {
            var outcome: Result<[YAMLDocument], YAMLError> = .success([])
            text.withUTF8 { bytes in
                do throws(YAMLError) { outcome = .success(try parse(bytes: bytes, file: file)) } catch { outcome = .failure(error) }
            }
            switch outcome {
            case .success(let documents): return documents
            case .failure(let error):
                if firstError == nil { firstError = error }
                guard let repaired = quotingFlowScalar(in: text, at: error) else { throw firstError! }
                text = repaired
            }
        }
        throw firstError!
    }

    /// The text with the plain scalar that libyaml stopped on quoted, when the error is the flow-context
    /// colon case; nil otherwise.
    static func quotingFlowScalar(in text: String, at error: YAMLError) -> String? {
        guard case .syntax(let problem, let context) = error.reason, problem == "found unexpected ':'",
              context == "while scanning a plain scalar", let start = error.contextLocation else { return nil }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard start.line - 1 < lines.count else { return nil }
        var characters = Array(lines[start.line - 1])
        let from = start.column - 1
        guard from < characters.count, characters[from] != "'", characters[from] != "\"" else { return nil }
        var to = from
        while to < characters.count, !",]}".contains(characters[to]) { to += 1 }
        while to > from, characters[to - 1] == " " { to -= 1 }
        let scalar = String(characters[from..<to])
        guard scalar.hasSuffix(":") else { return nil }
        characters.replaceSubrange(from..<to, with: Array("'" + scalar.replacingQuotes() + "'"))
        lines[start.line - 1] = String(characters)
        return lines.joined(separator: "\n")
    }

    /// Parses every document of a stream given as UTF-8 (or UTF-16 with a byte order mark) bytes.
    public static func parse(bytes: UnsafeBufferPointer<UInt8>, file: String? = nil) throws(YAMLError) -> [YAMLDocument] {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return [] }
        var builder = TreeBuilder(file: file)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(.syntax(problem: "libyaml could not start (out of memory)", context: nil),
                            file: file, location: SourceLocation(line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }
        // libyaml reads from the pointer lazily; `bytes` outlives the parser here.
        yaml_parser_set_input_string(&parser, base, bytes.count)

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                throw syntaxError(parser, file: file)
            }
            defer { yaml_event_delete(&event) }
            if event.type == YAML_STREAM_END_EVENT { break }
            try builder.handle(&event)
        }
        return builder.documents
    }

    private static func syntaxError(_ parser: yaml_parser_t, file: String?) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unreadable input"
        let context = parser.context.map { String(cString: $0) }
        var location = position(parser.problem_mark)
        if parser.problem == nil { location = SourceLocation(line: 1, column: 1) }
        let contextLocation = context == nil ? nil : position(parser.context_mark)
        return YAMLError(.syntax(problem: problem, context: context), file: file,
                         location: location, contextLocation: contextLocation)
    }

    fileprivate static func position(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// Turns parser events into nodes. Each open collection has its own array of children, mutated in
/// place and moved out whole when the collection ends, so no node is copied on the way.
private struct TreeBuilder {
    private struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var anchor: String?
        var size: Int
        var pendingKey: YAMLNode?
        var hasMergeKey: Bool
    }

    let file: String?
    var documents: [YAMLDocument] = []
    private var frames: [Frame] = []
    private var items: [[YAMLNode]] = []
    private var pairs: [[YAMLPair]] = []
    private var root: YAMLNode?
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var aliasedNodes = 0

    init(file: String?) { self.file = file }

    mutating func handle(_ event: inout yaml_event_t) throws(YAMLError) {
        let location = YAMLParser.position(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            root = nil
            if !anchors.isEmpty { anchors.removeAll(keepingCapacity: true) }
        case YAML_DOCUMENT_END_EVENT:
            documents.append(YAMLDocument(root: root ?? .null, file: file, index: documents.count))
            root = nil
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let style = scalarStyle(data.style)
            let kind = try resolve(text: text, style: style, tag: data.tag.map { String(cString: $0) }, at: location)
            let node = YAMLNode(.scalar(YAMLScalar(text: text, kind: kind, style: style)), location: location)
            if let anchor = data.anchor { anchors[String(cString: anchor)] = (node, 1) }
            add(node, size: 1)
        case YAML_SEQUENCE_START_EVENT:
            try checkDepth(at: location)
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            frames.append(Frame(isMapping: false, location: location, anchor: anchor, size: 1, pendingKey: nil,
                                hasMergeKey: false))
            items.append([])
        case YAML_MAPPING_START_EVENT:
            try checkDepth(at: location)
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            frames.append(Frame(isMapping: true, location: location, anchor: anchor, size: 1, pendingKey: nil,
                                hasMergeKey: false))
            pairs.append([])
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = frames.popLast() else { return }
            let node: YAMLNode
            if frame.isMapping {
                let children = pairs.removeLast()
                node = YAMLNode(.mapping(frame.hasMergeKey ? Self.applyMergeKeys(children) : children),
                                location: frame.location)
            } else {
                node = YAMLNode(.sequence(items.removeLast()), location: frame.location)
            }
            if let anchor = frame.anchor { anchors[anchor] = (node, frame.size) }
            add(node, size: frame.size)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let target = anchors[name] else {
                throw YAMLError(.undefinedAlias(name), file: file, location: location)
            }
            aliasedNodes += target.size
            if aliasedNodes > YAMLParser.aliasExpansionLimit {
                throw YAMLError(.aliasExpansionLimit(YAMLParser.aliasExpansionLimit), file: file, location: location)
            }
            var node = target.node
            node.location = location
            add(node, size: target.size)
        default:
            break
        }
    }

    private func checkDepth(at location: SourceLocation) throws(YAMLError) {
        if frames.count >= YAMLParser.nestingLimit {
            throw YAMLError(.nestingTooDeep(YAMLParser.nestingLimit), file: file, location: location)
        }
    }

    private mutating func add(_ node: YAMLNode, size: Int) {
        let last = frames.count - 1
        guard last >= 0 else {
            root = node
            return
        }
        frames[last].size += size
        guard frames[last].isMapping else {
            items[items.count - 1].append(node)
            return
        }
        if let key = frames[last].pendingKey {
            frames[last].pendingKey = nil
            pairs[pairs.count - 1].append(YAMLPair(key: key, value: node))
        } else {
            if let scalar = node.scalar, scalar.style == .plain, scalar.text == "<<" { frames[last].hasMergeKey = true }
            frames[last].pendingKey = node
        }
    }

    /// Replaces each `<<: *base` (or `<<: [*a, *b]`) with the keys of the merged mappings that the
    /// mapping does not set itself; among several merged mappings the first one wins.
    private static func applyMergeKeys(_ pairs: [YAMLPair]) -> [YAMLPair] {
        func isMergeKey(_ key: YAMLNode) -> Bool {
            guard let scalar = key.scalar else { return false }
            return scalar.style == .plain && scalar.text == "<<"
        }
        var present = Set(pairs.filter { !isMergeKey($0.key) }.compactMap { $0.key.scalarText })
        var result: [YAMLPair] = []
        for pair in pairs {
            guard isMergeKey(pair.key) else {
                result.append(pair)
                continue
            }
            let sources: [YAMLNode]
            switch pair.value.content {
            case .mapping: sources = [pair.value]
            case .sequence(let items): sources = items
            case .scalar: result.append(pair); continue
            }
            for source in sources {
                for merged in source.pairs ?? [] {
                    guard let key = merged.key.scalarText, !present.contains(key) else { continue }
                    present.insert(key)
                    result.append(merged)
                }
            }
        }
        return result
    }

    private func scalarStyle(_ style: yaml_scalar_style_t) -> ScalarStyle {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }

    private func resolve(text: String, style: ScalarStyle, tag: String?, at location: SourceLocation) throws(YAMLError) -> ScalarKind {
        guard let tag else {
            return style == .plain ? ScalarResolver.resolvePlain(text) : .string
        }
        let core = "tag:yaml.org,2002:"
        guard tag.hasPrefix(core) else {
            // "!" forces a string; other application tags are read as if untagged.
            if tag == "!" { return .string }
            return style == .plain ? ScalarResolver.resolvePlain(text) : .string
        }
        let name = tag.dropFirst(core.count)
        let wanted: ScalarKind
        switch name {
        case "str", "binary", "timestamp": return .string
        case "null": wanted = .null
        case "bool": wanted = .bool
        case "int": wanted = .int
        case "float": wanted = .float
        default: return style == .plain ? ScalarResolver.resolvePlain(text) : .string
        }
        let readable: Bool
        switch wanted {
        case .null: readable = ScalarResolver.resolvePlain(text) == .null
        case .bool: readable = ScalarResolver.parseBool(text) != nil
        case .int: readable = ScalarResolver.resolvePlain(text) == .int
        case .float: readable = ScalarResolver.parseFloat(text) != nil || ScalarResolver.parseInt(text) != nil
        case .string: readable = true
        }
        guard readable else {
            throw YAMLError(.tagMismatch(tag: "!!\(name)", text: text), file: file, location: location)
        }
        return wanted
    }
}

extension YAMLParser {
    /// The linked libyaml's version, e.g. `0.2.5`.
    public static var libraryVersion: String { String(cString: yaml_get_version_string()) }
}

extension String {
    /// The text as it goes between single quotes in YAML.
    fileprivate func replacingQuotes() -> String {
        var result = ""
        for character in self {
            result.append(character)
            if character == "'" { result.append("'") }
        }
        return result
    }
}
