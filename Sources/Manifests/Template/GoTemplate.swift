/// A function a template can call: it gets the evaluated arguments (the piped value last).
public typealias TemplateFunction = @Sendable ([TemplateValue]) throws -> TemplateValue

/// A Go text/template: parsed once, executed with data and a function map. Istio's injection templates
/// and Helm's chart templates are written in this language.
public struct GoTemplate: Sendable {
    public let name: String
    let root: [TemplateNode]
    /// Templates created with `define` or `block`, by name.
    var definitions: [String: [TemplateNode]]

    /// Parses a template.
    /// - Parameters:
    ///   - name: the name errors give (Istio's templates are named after their key, e.g. `sidecar`).
    ///   - source: the template text.
    public init(name: String, source: String) throws(TemplateError) {
        self.name = name
        var parser = try TemplateParser(name: name, source: source)
        root = try parser.parse()
        definitions = parser.definitions
    }

    /// Adds the `define`d templates of another template, as Go's `Template.AddParseTree` would.
    public mutating func addDefinitions(from other: GoTemplate) {
        definitions.merge(other.definitions) { mine, _ in mine }
    }

    /// Runs the template.
    /// - Parameters:
    ///   - data: the value of `.` and `$`.
    ///   - functions: the functions the template may call, by name.
    /// - Returns: the text it writes.
    public func execute(_ data: TemplateValue, functions: [String: TemplateFunction]) throws(TemplateError) -> String {
        var state = ExecutionState(template: self, functions: functions)
        state.variables = [("$", data)]
        do {
            try state.walk(root, dot: data)
        } catch let error as TemplateError {
            throw error
        } catch let signal as LoopSignal {
            throw TemplateError(template: name, line: signal.line, message: "{{\(signal.isBreak ? "break" : "continue")}} outside {{range}}")
        } catch {
            throw TemplateError(template: name, line: state.line, message: "\(error)")
        }
        return state.output
    }
}

/// A failure inside a function, reported with the template line by the executor.
public struct TemplateFunctionError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

private struct LoopSignal: Error {
    var isBreak: Bool
    var line: Int
}

private struct ExecutionState {
    let template: GoTemplate
    let functions: [String: TemplateFunction]
    var output = ""
    var variables: [(String, TemplateValue)] = []
    var line = 0
    var depth = 0

    init(template: GoTemplate, functions: [String: TemplateFunction]) {
        self.template = template
        self.functions = functions
    }

    func fail(_ message: String) -> TemplateError {
        TemplateError(template: template.name, line: line, message: message)
    }

    mutating func walk(_ nodes: [TemplateNode], dot: TemplateValue) throws {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .action(let pipeline, let line):
                self.line = line
                let value = try evaluate(pipeline, dot: dot)
                if pipeline.variables.isEmpty { output += Self.printed(value) }
            case .ifNode(let pipeline, let then, let otherwise, let line):
                self.line = line
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot)
                if value.isTruthy {
                    try walk(then, dot: dot)
                } else if let otherwise {
                    try walk(otherwise, dot: dot)
                }
                variables.removeSubrange(mark...)
            case .withNode(let pipeline, let body, let otherwise, let line):
                self.line = line
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot)
                if value.isTruthy {
                    try walk(body, dot: value)
                } else if let otherwise {
                    try walk(otherwise, dot: dot)
                }
                variables.removeSubrange(mark...)
            case .rangeNode(let pipeline, let body, let otherwise, let line):
                self.line = line
                try walkRange(pipeline, body: body, otherwise: otherwise, dot: dot)
            case .templateCall(let name, let pipeline, let line):
                self.line = line
                guard let body = template.definitions[name] else {
                    throw fail("no such template \"\(name)\"")
                }
                let value = try pipeline.map { try evaluate($0, dot: dot) } ?? .null
                depth += 1
                guard depth < 1000 else { throw fail("exceeded maximum template depth (1000)") }
                let saved = variables
                variables = [("$", value)]
                try walk(body, dot: value)
                variables = saved
                depth -= 1
            case .breakNode(let line):
                throw LoopSignal(isBreak: true, line: line)
            case .continueNode(let line):
                throw LoopSignal(isBreak: false, line: line)
            }
        }
    }

    private mutating func walkRange(_ pipeline: Pipeline, body: [TemplateNode], otherwise: [TemplateNode]?,
                                    dot: TemplateValue) throws {
        // The range variables are declared per iteration, not by the pipeline itself.
        var bare = pipeline
        bare.variables = []
        let mark = variables.count
        let value = try evaluate(bare, dot: dot).data
        var elements: [(TemplateValue, TemplateValue)] = []
        switch value {
        case .list(let items): elements = items.enumerated().map { (.int($0.offset), $0.element) }
        case .map(let map): elements = map.sortedKeys.map { (.string($0), map[$0]!) }
        case .int(let count): elements = (0..<max(count, 0)).map { (.int($0), .int($0)) }
        case .missing, .null: break
        default: throw fail("range can't iterate over \(Self.printed(value))")
        }
        if elements.isEmpty {
            if let otherwise { try walk(otherwise, dot: dot) }
            return
        }
        loop: for (key, element) in elements {
            switch pipeline.variables.count {
            case 1: variables.append((pipeline.variables[0], element))
            case 2:
                variables.append((pipeline.variables[0], key))
                variables.append((pipeline.variables[1], element))
            default: break
            }
            do {
                try walk(body, dot: element)
            } catch let signal as LoopSignal {
                variables.removeSubrange(mark...)
                if signal.isBreak { break loop }
                continue loop
            }
            variables.removeSubrange(mark...)
        }
    }

    mutating func evaluate(_ pipeline: Pipeline, dot: TemplateValue) throws -> TemplateValue {
        var value: TemplateValue?
        for command in pipeline.commands {
            value = try evaluateCommand(command, dot: dot, piped: value)
        }
        let result = value ?? .missing
        if !pipeline.variables.isEmpty {
            if pipeline.isAssignment {
                let name = pipeline.variables[0]
                guard let index = variables.lastIndex(where: { $0.0 == name }) else {
                    throw fail("undefined variable: \(name)")
                }
                variables[index].1 = result
            } else {
                for name in pipeline.variables { variables.append((name, result)) }
            }
        }
        return result
    }

    private func lookupVariable(_ name: String) throws -> TemplateValue {
        guard let entry = variables.last(where: { $0.0 == name }) else { throw fail("undefined variable: \(name)") }
        return entry.1
    }

    private mutating func evaluateCommand(_ command: [Operand], dot: TemplateValue, piped: TemplateValue?) throws -> TemplateValue {
        let arguments = command.dropFirst()
        switch command[0] {
        case .identifier(let name):
            if name == "and" || name == "or" {
                return try shortCircuit(isAnd: name == "and", Array(arguments), dot: dot, piped: piped)
            }
            guard let function = functions[name] else { throw fail("function \"\(name)\" not defined") }
            var values = try arguments.map { try evaluateArgument($0, dot: dot) }
            if let piped { values.append(piped) }
            do {
                return try function(values)
            } catch let error as TemplateFunctionError {
                throw fail("error calling \(name): \(error.message)")
            }
        case .field(let chain):
            return try evaluateChain(dot, chain, arguments: Array(arguments), dot: dot, piped: piped)
        case .variable(let name, let chain):
            let value = try lookupVariable(name)
            if chain.isEmpty {
                try requireNoArguments(arguments, piped, name)
                return value
            }
            return try evaluateChain(value, chain, arguments: Array(arguments), dot: dot, piped: piped)
        case .parenthesized(let inner, let chain):
            let value = try evaluate(inner, dot: dot)
            if chain.isEmpty {
                try requireNoArguments(arguments, piped, "parenthesized pipeline")
                return value
            }
            return try evaluateChain(value, chain, arguments: Array(arguments), dot: dot, piped: piped)
        case .dot:
            try requireNoArguments(arguments, piped, ".")
            return dot
        case .string(let value):
            try requireNoArguments(arguments, piped, "\"\(value)\"")
            return .string(value)
        case .number(let value):
            try requireNoArguments(arguments, piped, Self.printed(value))
            return value
        case .bool(let value):
            try requireNoArguments(arguments, piped, "\(value)")
            return .bool(value)
        case .null:
            throw fail("nil is not a command")
        }
    }

    private func requireNoArguments(_ arguments: ArraySlice<Operand>, _ piped: TemplateValue?, _ what: String) throws {
        if !arguments.isEmpty || piped != nil { throw fail("can't give argument to non-function \(what)") }
    }

    /// `and` and `or` stop at the first argument that decides, and return it.
    private mutating func shortCircuit(isAnd: Bool, _ arguments: [Operand], dot: TemplateValue, piped: TemplateValue?) throws -> TemplateValue {
        var operands: [() throws -> TemplateValue] = []
        for argument in arguments {
            var copy = self
            operands.append { try copy.evaluateArgument(argument, dot: dot) }
        }
        if let piped { operands.append { piped } }
        guard !operands.isEmpty else { throw fail("wrong number of args for \(isAnd ? "and" : "or"): want at least 1 got 0") }
        var value = TemplateValue.missing
        for operand in operands {
            value = try operand()
            if value.isTruthy != isAnd { return value }
        }
        return value
    }

    private mutating func evaluateArgument(_ operand: Operand, dot: TemplateValue) throws -> TemplateValue {
        switch operand {
        case .null: return .null
        case .identifier(let name):
            guard let function = functions[name] else { throw fail("function \"\(name)\" not defined") }
            do { return try function([]) } catch let error as TemplateFunctionError {
                throw fail("error calling \(name): \(error.message)")
            }
        default:
            return try evaluateCommand([operand], dot: dot, piped: nil)
        }
    }

    private mutating func evaluateChain(_ receiver: TemplateValue, _ chain: [String], arguments: [Operand],
                                        dot: TemplateValue, piped: TemplateValue?) throws -> TemplateValue {
        var value = receiver
        for name in chain.dropLast() {
            value = try field(value, name, arguments: [])
        }
        var values = try arguments.map { try evaluateArgument($0, dot: dot) }
        if let piped { values.append(piped) }
        return try field(value, chain[chain.count - 1], arguments: values)
    }

    /// `.Name` on a value: a method or field of a struct, or a key of a map.
    private func field(_ receiver: TemplateValue, _ name: String, arguments: [TemplateValue]) throws -> TemplateValue {
        switch receiver {
        case .object(let object):
            if let result = try object.method(name, arguments: arguments) { return result }
            if let value = object.field(name) {
                if !arguments.isEmpty { throw fail("\(name) has arguments but cannot be invoked as function") }
                return value
            }
            throw fail("can't evaluate field \(name) in type \(object.typeName)")
        case .map(let map):
            if !arguments.isEmpty { throw fail("\(name) is not a method but has arguments") }
            return map[name] ?? map.zero
        case .missing:
            // A missing map key is Go's invalid value: fields of it are invalid too, without an error.
            return .missing
        case .null:
            throw fail("nil pointer evaluating interface {}.\(name)")
        default:
            throw fail("can't evaluate field \(name) in type \(receiver.goTypeName)")
        }
    }

    /// How `{{ value }}` prints, as Go's fmt %v does.
    static func printed(_ value: TemplateValue) -> String {
        switch value {
        case .missing: return "<no value>"
        case .null: return "<nil>"
        default: return GoFormat.value(value)
        }
    }
}
