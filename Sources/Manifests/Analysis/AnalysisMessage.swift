/// How serious an analysis message is; thresholds compare these.
public enum MessageLevel: Int, Comparable, Sendable, CaseIterable {
    case info, warning, error

    /// `Info`, `Warning`, `Error`: the names Istio prints.
    public var name: String {
        switch self {
        case .info: "Info"
        case .warning: "Warning"
        case .error: "Error"
        }
    }

    /// Reads a level name in any letter case (`--failure-threshold ERROR`).
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = level
    }

    public static func < (lhs: MessageLevel, rhs: MessageLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One of Istio's analysis message types: its code, name and level never change between tools.
public struct MessageType: Sendable, Hashable {
    public var code: String
    public var name: String
    public var level: MessageLevel

    /// Istio's page for the code.
    public var documentationURL: String { "https://istio.io/latest/docs/reference/config/analysis/\(code.lowercased())/" }
}

/// A finding of an analyzer about one resource.
public struct AnalysisMessage: Sendable {
    public var type: MessageType
    public var text: String
    public var resource: AnalyzedResource
    /// Where in the resource's file the finding points: the offending field when known, else the resource.
    public var location: SourceLocation

    /// For the constructors in MessageConstructors.swift only: analyzers call those, which own the wording.
    init(_ type: MessageType, _ text: String, on resource: AnalyzedResource, at node: YAMLNode? = nil) {
        self.type = type
        self.text = text
        self.resource = resource
        self.location = node?.location ?? resource.location
    }

    /// For the constructors in MessageConstructors.swift only.
    init(_ type: MessageType, _ text: String, on resource: AnalyzedResource, location: SourceLocation) {
        self.type = type
        self.text = text
        self.resource = resource
        self.location = location
    }

    /// `Error [IST0101] (VirtualService shop/cart rules.yaml:14) Referenced ...`: istioctl's log line.
    public var logLine: String {
        var origin = resource.origin
        if let file = resource.file { origin += " \(file):\(location.line)" }
        return "\(type.level.name) [\(type.code)] (\(origin)) \(text)"
    }
}
