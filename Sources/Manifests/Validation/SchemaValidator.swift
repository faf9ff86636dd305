/// Checks a value against a schema the way the Kubernetes API server checks a custom resource, with
/// messages in its wording ("in body should be at least 1 chars long", "Required value", "Unsupported value").
public enum SchemaValidator {
    public static func validate(_ node: YAMLNode, as type: SchemaType, path: [YAMLPathComponent]) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        check(node, type, path, &problems)
        return problems
    }

    private static func fail(_ node: YAMLNode, _ path: [YAMLPathComponent], _ message: String, _ problems: inout [ValidationProblem]) {
        problems.append(ValidationProblem(.error, path: path, location: node.location, message: message))
    }

    private static func typeName(_ node: YAMLNode) -> String {
        switch node.content {
        case .mapping: return "object"
        case .sequence: return "array"
        case .scalar(let scalar):
            switch scalar.kind {
            case .null: return "null"
            case .bool: return "boolean"
            case .int: return "integer"
            case .float: return "number"
            case .string: return "string"
            }
        }
    }

    /// A value of the wrong type; the rules of the objects around it do not run.
    private static func wrongType(_ node: YAMLNode, _ expected: String, _ path: [YAMLPathComponent], _ problems: inout [ValidationProblem]) {
        problems.append(ValidationProblem(.error, path: path, location: node.location,
                                          message: "in body must be of type \(expected): \"\(typeName(node))\"", isWrongType: true))
    }

    private static func check(_ node: YAMLNode, _ type: SchemaType, _ path: [YAMLPathComponent], _ problems: inout [ValidationProblem]) {
        switch type {
        case .any:
            return
        case .object(let object):
            guard let pairs = node.pairs else { return wrongType(node, "object", path, &problems) }
            if pairs.count < object.minProperties {
                fail(node, path, "in body should have at least \(object.minProperties) properties", &problems)
            }
            for pair in pairs {
                guard let key = pair.key.scalarText else { continue }
                if let fieldType = object.fields[key] {
                    // A null field is treated as absent, as the API server prunes it.
                    if pair.value.isNull { continue }
                    check(pair.value, fieldType, path + [.key(key)], &problems)
                } else if !object.open {
                    let suggestion = closestField(key, in: Array(object.fields.keys))
                    fail(pair.key, path + [.key(key)], "unknown field \"\(key)\"" + (suggestion.map { "; did you mean \"\($0)\"?" } ?? ""), &problems)
                }
            }
            for name in object.required where node[name] == nil || node[name]!.isNull {
                fail(node, path + [.key(name)], "Required value", &problems)
            }
            // Rules see only objects whose fields have the right types; other errors inside do not stop
            // them, as the API server reports every CEL rule that fails beside the schema's errors. An
            // object already in error gets no warnings.
            let inside = problems.filter { $0.severity == .error && $0.path.starts(with: path) }
            if !inside.contains(where: \.isWrongType) {
                for rule in object.rules { problems += rule.check(node, path).filter { inside.isEmpty || $0.severity == .error } }
            }
        case .array(let items, let minItems, let maxItems, let unique):
            guard let elements = node.items else { return wrongType(node, "array", path, &problems) }
            if elements.count < minItems { fail(node, path, "in body should have at least \(minItems) items", &problems) }
            if let maxItems, elements.count > maxItems { fail(node, path, "in body should have at most \(maxItems) items", &problems) }
            if unique {
                for (index, element) in elements.enumerated() where elements[..<index].contains(element) {
                    fail(element, path + [.index(index)], "Duplicate value: \(GoFormat.json(TemplateValue(node: element)))", &problems)
                }
            }
            for (index, element) in elements.enumerated() { check(element, items, path + [.index(index)], &problems) }
        case .map(let values, let minProperties):
            guard let pairs = node.pairs else { return wrongType(node, "object", path, &problems) }
            if pairs.count < minProperties { fail(node, path, "in body should have at least \(minProperties) properties", &problems) }
            for pair in pairs {
                let key = pair.key.scalarText ?? ""
                check(pair.value, values, path + [.key(key)], &problems)
            }
        case .text(let rules):
            guard let scalar = node.scalar, scalar.kind == .string else {
                return wrongType(node, "string", path, &problems)
            }
            checkString(scalar.text, rules, node, path, &problems)
        case .whole(let minimum, let maximum):
            guard let value = node.int else {
                if node.scalar?.kind == .float, let value = node.double, value == value.rounded() {
                    return checkRange(Double(value), minimum.map(Double.init), maximum.map(Double.init), node, path, &problems)
                }
                return wrongType(node, "integer", path, &problems)
            }
            checkRange(Double(value), minimum.map(Double.init), maximum.map(Double.init), node, path, &problems)
        case .number(let minimum, let maximum):
            guard let value = node.double else { return wrongType(node, "number", path, &problems) }
            checkRange(value, minimum, maximum, node, path, &problems)
        case .bool:
            guard node.bool != nil else { return wrongType(node, "boolean", path, &problems) }
        case .time(let minimum):
            guard let text = node.string else { return wrongType(node, "string", path, &problems) }
            guard let seconds = DurationText.seconds(text) else {
                // With a minimum, the CRD's CEL rule is what refuses it, in the rule's words.
                let rule = minimum.map { "must be a valid duration greater than \(DurationText.text($0)), such as 1s, 500ms or 1m30s" }
                return fail(node, path, "Invalid value: \"\(text)\": \(rule ?? "must be a valid duration such as 1s, 500ms or 1m30s")", &problems)
            }
            if let minimum, seconds < minimum {
                fail(node, path, "Invalid value: \"\(text)\": must be a valid duration greater than \(DurationText.text(minimum))", &problems)
            }
        case .intOrString:
            guard node.int != nil || node.string != nil else { return wrongType(node, "integer or string", path, &problems) }
        }
    }

    private static func checkRange(_ value: Double, _ minimum: Double?, _ maximum: Double?, _ node: YAMLNode,
                                   _ path: [YAMLPathComponent], _ problems: inout [ValidationProblem]) {
        func text(_ number: Double) -> String { number == number.rounded() ? String(Int(number)) : "\(number)" }
        if let minimum, value < minimum {
            fail(node, path, "in body should be greater than or equal to \(text(minimum))", &problems)
        }
        if let maximum, value > maximum {
            fail(node, path, "in body should be less than or equal to \(text(maximum))", &problems)
        }
    }

    private static func checkString(_ text: String, _ rules: StringRules, _ node: YAMLNode, _ path: [YAMLPathComponent],
                                    _ problems: inout [ValidationProblem]) {
        if let allowed = rules.oneOf, !allowed.contains(text) {
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            return fail(node, path, "Unsupported value: \"\(text)\": supported values: \(list)", &problems)
        }
        if text.count < rules.minLength {
            fail(node, path, "in body should be at least \(rules.minLength) chars long", &problems)
        }
        if let maximum = rules.maxLength, text.count > maximum {
            fail(node, path, "in body should be at most \(maximum) chars long", &problems)
        }
        if let pattern = rules.pattern, !Patterns.matches(text, pattern) {
            fail(node, path, "in body should match '\(pattern)'", &problems)
        }
    }

    /// The known field nearest to a misspelt one, when it is close enough to be a typo.
    static func closestField(_ word: String, in names: [String]) -> String? {
        closestMatch(to: word, in: names.sorted())
    }
}

/// Regular expressions for schema patterns, compiled once per pattern.
enum Patterns {
    static func matches(_ text: String, _ pattern: String) -> Bool {
        // OpenAPI patterns search the value (they carry their own ^ and $ when they mean the whole of it).
        guard let regex = try? Regex(pattern) else { return true }
        return ((try? regex.firstMatch(in: text)) ?? nil) != nil
    }
}

/// Protobuf durations as text: `1s`, `1.5s`, `100ms`, `1m30s`, `2h`.
public enum DurationText {
    /// The duration in seconds, or nil when the text is not a duration.
    public static func seconds(_ text: String) -> Double? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000001), ("µs", 0.000001), ("ns", 0.000000001), ("h", 3600), ("m", 60), ("s", 1)]
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? rest.endIndex
            guard numberEnd != rest.startIndex, let number = Double(rest[..<numberEnd]) else { return nil }
            rest = rest[numberEnd...]
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += number * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }

    static func text(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
