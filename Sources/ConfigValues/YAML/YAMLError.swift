/// A YAML or JSON input that could not be read, with where and why.
public struct YAMLError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// libyaml's own problem text, and the construct it was reading when it stopped.
        case syntax(problem: String, context: String?)
        case undefinedAlias(String)
        case aliasExpansionLimit(Int)
        case tagMismatch(tag: String, text: String)
        case nestingTooDeep(Int)
    }

    public var reason: Reason
    public var file: String?
    public var location: SourceLocation
    /// Where the construct named by `context` began, when libyaml says.
    public var contextLocation: SourceLocation?

    public init(_ reason: Reason, file: String?, location: SourceLocation, contextLocation: SourceLocation? = nil) {
        self.reason = reason
        self.file = file
        self.location = location
        self.contextLocation = contextLocation
    }

    /// `file:line:column: what is wrong`, then how to fix it where there is a general answer.
    public var description: String {
        let place = "\(file ?? "<stdin>"):\(location.line):\(location.column)"
        switch reason {
        case .syntax(let problem, let context):
            var text = "\(place): YAML syntax error: \(problem)"
            if let context {
                text += " (\(context)"
                if let contextLocation { text += " at line \(contextLocation.line), column \(contextLocation.column)" }
                text += ")"
            }
            if problem.contains("tab") || problem.contains("indentation") || problem.contains("mapping values") {
                text += "\n  hint: indent with spaces only and keep sibling keys at the same column"
            }
            return text
        case .undefinedAlias(let name):
            return "\(place): alias *\(name) refers to no anchor &\(name) defined before it"
        case .aliasExpansionLimit(let limit):
            return "\(place): aliases expand to more than \(limit) nodes; refusing the document (an alias bomb?)"
        case .tagMismatch(let tag, let text):
            return "\(place): the value \"\(text)\" cannot be read as \(tag); remove the tag or fix the value"
        case .nestingTooDeep(let depth):
            return "\(place): nesting deeper than \(depth) levels; refusing the document"
        }
    }
}
