import ConfigValues

/// A bootstrap, route or secret file the proxy cannot run, with where: `file:line:column: field.path: problem`.
public struct ProxyConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let location: SourceLocation
    /// The field path from the document's root (`static_resources.listeners[0].name`).
    public let path: String
    public let problem: String

    public init(file: String, location: SourceLocation, path: String, problem: String) {
        self.file = file
        self.location = location
        self.path = path
        self.problem = problem
    }

    public var description: String {
        let place = location == .none ? file : "\(file):\(location.line):\(location.column)"
        return path.isEmpty ? "\(place): \(problem)" : "\(place): \(path): \(problem)"
    }
}

/// Reads one node of a configuration document strictly: every field of a mapping must be read by the time
/// `finish` runs, so a field the proxy does not implement is an error naming its path instead of being ignored.
/// Scalars are read as protobuf's JSON mapping writes them (durations `"1.5s"`, 64-bit integers as strings).
final class ConfigReader {
    let node: YAMLNode
    let file: String
    let path: [YAMLPathComponent]
    private var read: Set<String> = []

    init(_ node: YAMLNode, file: String, path: [YAMLPathComponent] = []) {
        self.node = node
        self.file = file
        self.path = path
    }

    var pathText: String { path.fieldPath }

    func error(_ problem: String, at node: YAMLNode? = nil, path extra: [YAMLPathComponent] = []) -> ProxyConfigError {
        ProxyConfigError(file: file, location: (node ?? self.node).location, path: (path + extra).fieldPath, problem: problem)
    }

    /// A reader for this node, which must be a mapping (an empty or null node reads as an empty mapping).
    static func mapping(_ node: YAMLNode, file: String, path: [YAMLPathComponent]) throws(ProxyConfigError) -> ConfigReader {
        let reader = ConfigReader(node, file: file, path: path)
        guard node.pairs != nil || node.isNull else { throw reader.error("must be a mapping (an object)") }
        return reader
    }

    /// Marks a field as read and returns its node, nil when absent or null.
    func field(_ key: String) -> YAMLNode? {
        read.insert(key)
        guard let value = node[key], !value.isNull else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { node[key].map { !$0.isNull } ?? false }

    /// Marks fields as read without looking at them: ones that change nothing the proxy does (descriptive
    /// metadata, tuning knobs whose defaults the proxy already has).
    func ignore(_ keys: String...) { for key in keys { read.insert(key) } }

    /// Fails on the first field nobody read.
    func finish() throws(ProxyConfigError) {
        for pair in node.pairs ?? [] {
            let key = pair.key.scalarText ?? ""
            guard !read.contains(key) else { continue }
            throw ProxyConfigError(file: file, location: pair.key.location, path: (path + [.key(key)]).fieldPath,
                                   problem: "field is not supported by meshctl's proxy (remove it, or run this configuration in Envoy)")
        }
    }

    /// A nested mapping, read by `body`, which must consume every field.
    func object<T>(_ key: String, _ body: (ConfigReader) throws(ProxyConfigError) -> T) throws(ProxyConfigError) -> T? {
        guard let value = field(key) else { return nil }
        let reader = try ConfigReader.mapping(value, file: file, path: path + [.key(key)])
        let result = try body(reader)
        try reader.finish()
        return result
    }

    /// A list of mappings, each read by `body`.
    func list<T>(_ key: String, _ body: (ConfigReader) throws(ProxyConfigError) -> T) throws(ProxyConfigError) -> [T] {
        guard let value = field(key) else { return [] }
        guard let items = value.items else { throw error("must be a list", at: value, path: [.key(key)]) }
        var result: [T] = []
        for (index, item) in items.enumerated() {
            let reader = try ConfigReader.mapping(item, file: file, path: path + [.key(key), .index(index)])
            result.append(try body(reader))
            try reader.finish()
        }
        return result
    }

    func string(_ key: String) throws(ProxyConfigError) -> String? {
        guard let value = field(key) else { return nil }
        guard let text = value.scalarText, value.scalar?.kind != .null else { throw error("must be a string", at: value, path: [.key(key)]) }
        return text
    }

    func requiredString(_ key: String) throws(ProxyConfigError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw error("is required", path: [.key(key)]) }
        return text
    }

    func strings(_ key: String) throws(ProxyConfigError) -> [String] {
        guard let value = field(key) else { return [] }
        guard let items = value.items else { throw error("must be a list of strings", at: value, path: [.key(key)]) }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.scalarText else { throw error("must be a string", at: item, path: [.key(key), .index(index)]) }
            result.append(text)
        }
        return result
    }

    func bool(_ key: String) throws(ProxyConfigError) -> Bool? {
        guard let value = field(key) else { return nil }
        // BoolValue wrappers may be written as {value: true}.
        if let wrapped = value["value"], value.pairs?.count == 1, let flag = wrapped.bool { return flag }
        guard let flag = value.bool else { throw error("must be true or false", at: value, path: [.key(key)]) }
        return flag
    }

    /// An unsigned integer (uint32, UInt32Value, or a 64-bit integer written as a string), at most `maximum`.
    func integer(_ key: String, maximum: Int = Int(UInt32.max)) throws(ProxyConfigError) -> Int? {
        guard let value = field(key) else { return nil }
        var node = value
        if let wrapped = value["value"], value.pairs?.count == 1 { node = wrapped }
        guard let text = node.scalarText, let number = Int(text), number >= 0, number <= maximum else {
            throw error("must be a whole number from 0 to \(maximum)", at: value, path: [.key(key)])
        }
        return number
    }

    func number(_ key: String) throws(ProxyConfigError) -> Double? {
        guard let value = field(key) else { return nil }
        guard let text = value.scalarText, let number = Double(text), number.isFinite else {
            throw error("must be a number", at: value, path: [.key(key)])
        }
        return number
    }

    /// A `google.protobuf.Duration` in its JSON form: seconds with an `s` suffix (`"0.25s"`, `"10s"`).
    func duration(_ key: String) throws(ProxyConfigError) -> Double? {
        guard let value = field(key) else { return nil }
        guard let text = value.scalarText, let seconds = Self.parseDuration(text) else {
            throw error("must be a duration such as \"1.5s\" (seconds with an s suffix, as protobuf JSON writes it)", at: value, path: [.key(key)])
        }
        return seconds
    }

    static func parseDuration(_ text: String) -> Double? {
        guard text.hasSuffix("s"), let seconds = Double(text.dropLast()), seconds >= 0, seconds <= 315_576_000_000,
              !text.dropLast().contains("e"), !text.dropLast().contains("E") else { return nil }
        return seconds
    }

    /// A `FractionalPercent` (`{numerator, denominator: HUNDRED|TEN_THOUSAND|MILLION}`) as a fraction of 1.
    func fractionalPercent(_ key: String) throws(ProxyConfigError) -> Double? {
        try object(key) { reader throws(ProxyConfigError) -> Double in
            let numerator = try reader.integer("numerator") ?? 0
            let denominator: Double
            switch try reader.string("denominator") ?? "HUNDRED" {
            case "HUNDRED": denominator = 100
            case "TEN_THOUSAND": denominator = 10_000
            case "MILLION": denominator = 1_000_000
            case let other: throw reader.error("\(other) is not a denominator: use HUNDRED, TEN_THOUSAND or MILLION", path: [.key("denominator")])
            }
            return min(1, Double(numerator) / denominator)
        }
    }

    /// A `type.v3.Percent` (`{value: 50.0}`; `{}` is 0) as a fraction of 1.
    func percent(_ key: String) throws(ProxyConfigError) -> Double? {
        try object(key) { reader throws(ProxyConfigError) -> Double in
            let value = try reader.number("value") ?? 0
            guard (0...100).contains(value) else { throw reader.error("must be from 0 to 100", path: [.key("value")]) }
            return value / 100
        }
    }

    /// One of a fixed set of enum names, or nil when absent.
    func enumeration(_ key: String, allowed: [String]) throws(ProxyConfigError) -> String? {
        guard let text = try string(key) else { return nil }
        guard allowed.contains(text) else {
            throw error("\(text) is not supported: use \(allowed.joined(separator: ", "))", at: field(key), path: [.key(key)])
        }
        return text
    }

    /// Free-form data (metadata) kept as JSON.
    func json(_ key: String) -> JSONValue? {
        field(key).map { JSONValue(yaml: $0) }
    }

    /// The `@type` of a `typed_config` (without `type.googleapis.com/`).
    func typeName() throws(ProxyConfigError) -> String {
        guard let text = try string("@type") else { throw error("needs an \"@type\"") }
        return text.split(separator: "/").last.map(String.init) ?? text
    }
}
