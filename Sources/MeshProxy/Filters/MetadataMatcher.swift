import ConfigValues

/// `envoy.type.matcher.v3.MetadataMatcher`: a value in a filter's dynamic metadata (`filter`, then `path` keys)
/// tested by a value matcher; RBAC reads the JWT filter's payload this way (`requestPrincipals`, claims).
public struct MetadataMatcher: Sendable {
    public var filter: String
    public var path: [String]
    var value: ValueMatcher
    public var invert: Bool

    /// Whether the request's metadata (by filter name) matches; a value that is not there matches nothing.
    func matches(_ metadata: [String: JSONValue]) -> Bool {
        var node = metadata[filter]
        for key in path { node = node?[key] }
        let found = node.map { value.matches($0) } ?? value.matchesAbsence
        return found != invert
    }
}

/// `envoy.type.matcher.v3.ValueMatcher`.
indirect enum ValueMatcher: Sendable {
    case null
    case double(Double)
    case string(StringMatcher)
    case bool(Bool)
    case present(Bool)
    /// `list_match.one_of`: a list with an element that matches.
    case listOneOf(ValueMatcher)
    case or([ValueMatcher])

    func matches(_ value: JSONValue) -> Bool {
        switch self {
        case .null: return value.isNull
        case .double(let wanted): if case .number(let text) = value { return Double(text) == wanted } else { return false }
        case .string(let matcher): return value.string.map(matcher.matches) ?? false
        case .bool(let wanted): return value.bool == wanted
        case .present(let wanted): return wanted
        case .listOneOf(let inner): return value.array?.contains { inner.matches($0) } ?? false
        case .or(let list): return list.contains { $0.matches(value) }
        }
    }

    var matchesAbsence: Bool {
        switch self {
        case .null: return true
        case .present(let wanted): return !wanted
        case .or(let list): return list.contains(where: \.matchesAbsence)
        default: return false
        }
    }
}

extension MetadataMatcher {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> MetadataMatcher {
        let filter = try reader.requiredString("filter")
        let path = try reader.list("path") { segment throws(ProxyConfigError) in try segment.requiredString("key") }
        guard let value = try reader.object("value", { value throws(ProxyConfigError) in try ValueMatcher.read(value) }) else {
            throw reader.error("needs a value matcher", path: [.key("value")])
        }
        return MetadataMatcher(filter: filter, path: path, value: value, invert: try reader.bool("invert") ?? false)
    }
}

extension ValueMatcher {
    static func read(_ reader: ConfigReader) throws(ProxyConfigError) -> ValueMatcher {
        var found: [ValueMatcher] = []
        if try reader.object("null_match", { _ throws(ProxyConfigError) in true }) != nil { found.append(.null) }
        if let double = try reader.object("double_match", { match throws(ProxyConfigError) -> ValueMatcher in
            guard let exact = try match.number("exact") else { throw match.error("only exact is supported", path: [.key("exact")]) }
            return .double(exact)
        }) { found.append(double) }
        if let string = try reader.object("string_match", { string throws(ProxyConfigError) in try StringMatcher.read(string) }) { found.append(.string(string)) }
        if let flag = try reader.bool("bool_match") { found.append(.bool(flag)) }
        if let flag = try reader.bool("present_match") { found.append(.present(flag)) }
        if let list = try reader.object("list_match", { list throws(ProxyConfigError) -> ValueMatcher in
            guard let inner = try list.object("one_of", { inner throws(ProxyConfigError) in try read(inner) }) else {
                throw list.error("needs one_of", path: [.key("one_of")])
            }
            return .listOneOf(inner)
        }) { found.append(list) }
        if let or = try reader.object("or_match", { or throws(ProxyConfigError) -> ValueMatcher in
            .or(try or.list("value_matchers") { item throws(ProxyConfigError) in try read(item) })
        }) { found.append(or) }
        guard found.count == 1 else {
            throw reader.error(found.isEmpty ? "needs one value matcher (or the one given is not supported by meshctl's proxy)" : "sets more than one value matcher")
        }
        return found[0]
    }
}
