/// Values looked up by a TLS server name (SNI): exact names first, then `*.domain` wildcards (one label, the longest
/// domain wins), then the default. Names compare without case.
public struct ServerNameMap<Value> {
    public var defaultValue: Value
    private var exact: [String: Value] = [:]
    private var wildcards: [(domain: String, value: Value)] = []

    public init(default defaultValue: Value, names: [String: Value] = [:]) {
        self.defaultValue = defaultValue
        for (name, value) in names { self[name] = value }
    }

    /// Sets the value for `name`, an exact name or `*.domain`.
    public subscript(name: String) -> Value? {
        get {
            let name = name.lowercased()
            if name.hasPrefix("*.") { return wildcards.first { $0.domain == name.dropFirst(2) }?.value }
            return exact[name]
        }
        set {
            let name = name.lowercased()
            if name.hasPrefix("*.") {
                let domain = String(name.dropFirst(2))
                wildcards.removeAll { $0.domain == domain }
                if let newValue { wildcards.append((domain, newValue)) }
                wildcards.sort { $0.domain.count > $1.domain.count }
            } else {
                exact[name] = newValue
            }
        }
    }

    /// The value for a client's server name (nil: the client sent none).
    public func lookup(_ serverName: String?) -> Value { namedValue(for: serverName) ?? defaultValue }

    /// The value set for `serverName` or a wildcard covering it; nil when the default applies.
    public func namedValue(for serverName: String?) -> Value? {
        guard let serverName else { return nil }
        let name = serverName.lowercased()
        if let value = exact[name] { return value }
        return wildcards.first { Self.wildcardCovers($0.domain, name) }?.value
    }

    /// Every value set for a name (the default aside).
    public var namedValues: [Value] { Array(exact.values) + wildcards.map(\.value) }

    /// `*.domain` covers `label.domain` with exactly one non-empty label before the domain.
    static func wildcardCovers(_ domain: String, _ name: String) -> Bool {
        let name = name.lowercased(), domain = domain.lowercased()
        guard name.hasSuffix("." + domain) else { return false }
        let label = name.dropLast(domain.count + 1)
        return !label.isEmpty && !label.contains(".")
    }
}

extension ServerNameMap: Sendable where Value: Sendable {}
