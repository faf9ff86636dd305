#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The functions templates call: Go's built-ins, the Sprig functions Istio's and Helm's templates use,
/// and Istio's injection functions.
public enum TemplateFunctions {
    private typealias Failure = TemplateFunctionError

    /// Go's text/template built-ins (`and` and `or` are part of the executor, since they short-circuit).
    public static let builtins: [String: TemplateFunction] = [
        "not": { args in try arity("not", args, 1); return .bool(!args[0].isTruthy) },
        "len": { args in
            try arity("len", args, 1)
            switch args[0].data {
            case .string(let text): return .int(text.utf8.count)
            case .list(let items): return .int(items.count)
            case .map(let map): return .int(map.count)
            default: throw Failure("len of type \(args[0].goTypeName)")
            }
        },
        "index": { args in
            guard var value = args.first else { throw Failure("wrong number of args for index: want at least 1 got 0") }
            for key in args.dropFirst() {
                switch (value.data, key) {
                case (.list(let items), .int(let position)):
                    guard items.indices.contains(position) else { throw Failure("index out of range: \(position)") }
                    value = items[position]
                case (.map(let map), .string(let name)):
                    value = map[name] ?? map.zero
                case (.missing, _), (.null, _):
                    throw Failure("index of untyped nil")
                default:
                    throw Failure("can't index item of type \(value.goTypeName)")
                }
            }
            return value
        },
        "slice": { args in
            guard let first = args.first else { throw Failure("wrong number of args for slice") }
            let bounds = try args.dropFirst().map { try int($0) }
            switch first.data {
            case .string(let text):
                let bytes = Array(text.utf8)
                let low = bounds.first ?? 0, high = bounds.count > 1 ? bounds[1] : bytes.count
                guard low >= 0, low <= high, high <= bytes.count else { throw Failure("index out of range: \(high)") }
                return .string(String(decoding: bytes[low..<high], as: UTF8.self))
            case .list(let items):
                let low = bounds.first ?? 0, high = bounds.count > 1 ? bounds[1] : items.count
                guard low >= 0, low <= high, high <= items.count else { throw Failure("index out of range: \(high)") }
                return .list(Array(items[low..<high]))
            default:
                throw Failure("can't slice item of type \(first.goTypeName)")
            }
        },
        "print": { args in .string(GoFormat.sprint(args)) },
        "println": { args in .string(args.map { GoFormat.value($0) }.joined(separator: " ") + "\n") },
        "printf": { args in
            guard case .string(let format)? = args.first else { throw Failure("printf needs a format string") }
            return .string(GoFormat.sprintf(format, Array(args.dropFirst())))
        },
        "eq": { args in
            guard args.count >= 2 else { throw Failure("missing argument for comparison") }
            for other in args.dropFirst() where try compare(args[0], other) == 0 { return .bool(true) }
            return .bool(false)
        },
        "ne": { args in try arity("ne", args, 2); return .bool(try compare(args[0], args[1]) != 0) },
        "lt": { args in try arity("lt", args, 2); return .bool(try order(args[0], args[1]) < 0) },
        "le": { args in try arity("le", args, 2); return .bool(try order(args[0], args[1]) <= 0) },
        "gt": { args in try arity("gt", args, 2); return .bool(try order(args[0], args[1]) > 0) },
        "ge": { args in try arity("ge", args, 2); return .bool(try order(args[0], args[1]) >= 0) },
    ]

    /// Sprig functions, as Helm charts and Istio templates use them.
    public static let sprig: [String: TemplateFunction] = [
        "default": { args in
            guard let fallback = args.first else { throw Failure("wrong number of args for default") }
            guard args.count > 1, args[1].isTruthy else { return fallback }
            return args[1]
        },
        "empty": { args in .bool(!(args.first?.isTruthy ?? false)) },
        "coalesce": { args in args.first { $0.isTruthy } ?? .null },
        "ternary": { args in try arity("ternary", args, 3); return args[2].isTruthy ? args[0] : args[1] },
        "quote": { args in .string(args.filter { !$0.isNil }.map { GoFormat.quote(stringValue($0)) }.joined(separator: " ")) },
        "squote": { args in .string(args.filter { !$0.isNil }.map { "'" + stringValue($0) + "'" }.joined(separator: " ")) },
        "list": { args in .list(args) },
        "append": { args in try push(args) },
        "push": { args in try push(args) },
        "first": { args in try arity("first", args, 1); return list(args[0]).first ?? .null },
        "last": { args in try arity("last", args, 1); return list(args[0]).last ?? .null },
        "has": { args in
            try arity("has", args, 2)
            return .bool(list(args[1]).contains { (try? compare($0, args[0])) == 0 })
        },
        "join": { args in
            try arity("join", args, 2)
            return .string(strings(args[1]).joined(separator: stringValue(args[0])))
        },
        "splitList": { args in
            try arity("splitList", args, 2)
            return .list(split(stringValue(args[1]), by: stringValue(args[0])).map(TemplateValue.string))
        },
        "trunc": { args in
            try arity("trunc", args, 2)
            let count = try int(args[0])
            let bytes = Array(stringValue(args[1]).utf8)
            if count < 0 && bytes.count + count > 0 { return .string(String(decoding: bytes[(bytes.count + count)...], as: UTF8.self)) }
            if count >= 0 && bytes.count > count { return .string(String(decoding: bytes[..<count], as: UTF8.self)) }
            return .string(String(decoding: bytes, as: UTF8.self))
        },
        "trim": { args in try arity("trim", args, 1); return .string(trim(stringValue(args[0]), cutset: " \t\n\r\u{B}\u{C}")) },
        "trimAll": { args in try arity("trimAll", args, 2); return .string(trim(stringValue(args[1]), cutset: stringValue(args[0]))) },
        "trimPrefix": { args in
            try arity("trimPrefix", args, 2)
            let text = stringValue(args[1]), prefix = stringValue(args[0])
            return .string(text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        },
        "trimSuffix": { args in
            try arity("trimSuffix", args, 2)
            let text = stringValue(args[1]), suffix = stringValue(args[0])
            return .string(text.hasSuffix(suffix) ? String(text.dropLast(suffix.count)) : text)
        },
        "upper": { args in try arity("upper", args, 1); return .string(stringValue(args[0]).uppercased()) },
        "lower": { args in try arity("lower", args, 1); return .string(stringValue(args[0]).lowercased()) },
        "replace": { args in
            try arity("replace", args, 3)
            return .string(stringValue(args[2]).replacing(stringValue(args[0]), with: stringValue(args[1])))
        },
        "contains": { args in
            try arity("contains", args, 2)
            let needle = stringValue(args[0])
            return .bool(needle.isEmpty || stringValue(args[1]).contains(needle))
        },
        "hasPrefix": { args in try arity("hasPrefix", args, 2); return .bool(stringValue(args[1]).hasPrefix(stringValue(args[0]))) },
        "hasSuffix": { args in try arity("hasSuffix", args, 2); return .bool(stringValue(args[1]).hasSuffix(stringValue(args[0]))) },
        "indent": { args in
            try arity("indent", args, 2)
            let pad = String(repeating: " ", count: max(0, try int(args[0])))
            return .string(pad + stringValue(args[1]).replacing("\n", with: "\n" + pad))
        },
        "nindent": { args in
            try arity("nindent", args, 2)
            let pad = String(repeating: " ", count: max(0, try int(args[0])))
            return .string("\n" + pad + stringValue(args[1]).replacing("\n", with: "\n" + pad))
        },
        "toString": { args in try arity("toString", args, 1); return .string(stringValue(args[0])) },
        "toJson": { args in try arity("toJson", args, 1); return .string(GoFormat.json(args[0])) },
        "toPrettyJson": { args in try arity("toPrettyJson", args, 1); return .string(GoFormat.json(args[0], indent: 2)) },
        "dict": { args in
            var map = TemplateMap()
            var index = 0
            while index < args.count {
                map[stringValue(args[index])] = index + 1 < args.count ? args[index + 1] : .string("")
                index += 2
            }
            return .map(map)
        },
        "set": { args in
            try arity("set", args, 3)
            guard case .map(var map) = args[0] else { throw Failure("set needs a dict, got \(args[0].goTypeName)") }
            map[stringValue(args[1])] = args[2]
            return .map(map)
        },
        "unset": { args in
            try arity("unset", args, 2)
            guard case .map(var map) = args[0] else { throw Failure("unset needs a dict") }
            map[stringValue(args[1])] = nil
            return .map(map)
        },
        "hasKey": { args in
            try arity("hasKey", args, 2)
            guard case .map(let map) = args[0].data else { return .bool(false) }
            return .bool(map[stringValue(args[1])] != nil)
        },
        "pick": { args in
            guard let first = args.first, case .map(let map) = first.data else { throw Failure("pick needs a dict") }
            var picked = TemplateMap(zero: map.zero)
            for key in args.dropFirst().map(stringValue) { if let value = map[key] { picked[key] = value } }
            return .map(picked)
        },
        "omit": { args in
            guard let first = args.first else { throw Failure("omit needs a dict") }
            guard case .map(var map) = first.data else { return first.isNil ? .map(TemplateMap()) : first }
            for key in args.dropFirst().map(stringValue) { map[key] = nil }
            return .map(map)
        },
        "keys": { args in
            .list(args.flatMap { value -> [TemplateValue] in
                guard case .map(let map) = value.data else { return [] }
                return map.keys.map(TemplateValue.string)
            })
        },
        "int": { args in try arity("int", args, 1); return .int(try int(args[0])) },
        "int64": { args in try arity("int64", args, 1); return .int(try int(args[0])) },
        "atoi": { args in try arity("atoi", args, 1); return .int(Int(stringValue(args[0])) ?? 0) },
        "float64": { args in
            try arity("float64", args, 1)
            switch args[0] {
            case .int(let n): return .float(Double(n))
            case .float: return args[0]
            default: return .float(Double(stringValue(args[0])) ?? 0)
            }
        },
        "add": { args in .int(try args.reduce(0) { $0 + (try int($1)) }) },
        "sub": { args in try arity("sub", args, 2); return .int(try int(args[0]) - int(args[1])) },
        "mul": { args in .int(try args.reduce(1) { $0 * (try int($1)) }) },
        "div": { args in
            try arity("div", args, 2)
            let divisor = try int(args[1])
            guard divisor != 0 else { throw Failure("integer divide by zero") }
            return .int(try int(args[0]) / divisor)
        },
        "mod": { args in
            try arity("mod", args, 2)
            let divisor = try int(args[1])
            guard divisor != 0 else { throw Failure("integer divide by zero") }
            return .int(try int(args[0]) % divisor)
        },
        "max": { args in .int(try args.map(int).max() ?? 0) },
        "min": { args in .int(try args.map(int).min() ?? 0) },
    ]

    /// Istio's injection functions, on top of Sprig's and Go's (Istio's names win, as in Istio).
    public static let istio: [String: TemplateFunction] = [
        "isset": { args in
            try arity("isset", args, 2)
            guard case .map(let map) = args[0].data else { return .bool(false) }
            return .bool(map[stringValue(args[1])] != nil)
        },
        "annotation": { args in
            try arity("annotation", args, 3)
            if case .map(let annotations) = metaField(args[0], "Annotations"), let value = annotations[stringValue(args[1])] {
                return .string(stringValue(value))
            }
            return .string(GoFormat.sprint([args[2]]))
        },
        "valueOrDefault": { args in
            try arity("valueOrDefault", args, 2)
            if args[0].isNil || args[0].stringValue == "" { return args[1] }
            return args[0]
        },
        "excludeInboundPort": { args in
            try arity("excludeInboundPort", args, 2)
            let port = GoFormat.sprint([args[0]]).trimmingSpaces
            let excluded = stringValue(args[1])
            if port.isEmpty || port == "0" { return .string(excluded) }
            var ports: [String] = []
            for item in excluded.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                if item == port { return .string(excluded) }
                let trimmed = item.trimmingSpaces
                if !trimmed.isEmpty { ports.append(trimmed) }
            }
            ports.append(port)
            return .string(ports.joined(separator: ","))
        },
        "includeInboundPorts": { args in try arity("includeInboundPorts", args, 1); return .string(containerPorts(args[0], skipProxy: false)) },
        "applicationPorts": { args in try arity("applicationPorts", args, 1); return .string(containerPorts(args[0], skipProxy: true)) },
        "kubevirtInterfaces": { args in try arity("kubevirtInterfaces", args, 1); return .string(stringValue(args[0])) },
        "excludeInterfaces": { args in try arity("excludeInterfaces", args, 1); return .string(stringValue(args[0])) },
        "toJSON": { args in try arity("toJSON", args, 1); return .string(args[0].isNil ? "{}" : GoFormat.json(args[0])) },
        "toJson": { args in try arity("toJson", args, 1); return .string(args[0].isNil ? "{}" : GoFormat.json(args[0])) },
        "fromJSON": { args in
            try arity("fromJSON", args, 1)
            // Go's json.Unmarshal; on failure Istio's fromJSON gives the string "{}".
            let text = stringValue(args[0])
            let body = text.trimmingSpaces
            let looksLikeJSON = body.first.map { "{[\"-0123456789".contains($0) } ?? false || ["true", "false", "null"].contains(body)
            guard looksLikeJSON, let document = try? YAMLParser.parse(text).first else { return .string("{}") }
            return TemplateValue(jsonNode: document.root)
        },
        "structToJSON": { args in try arity("structToJSON", args, 1); return .string(args[0].isNil ? "{}" : GoFormat.json(args[0])) },
        "protoToJSON": { args in
            try arity("protoToJSON", args, 1)
            if case .object(let object) = args[0], let message = object as? any TemplateProtoMessage { return .string(message.protoJSON) }
            return .string(args[0].isNil ? "{}" : GoFormat.json(args[0]))
        },
        "toYaml": { args in try arity("toYaml", args, 1); return .string(yaml(args[0])) },
        "indent": { args in
            try arity("indent", args, 2)
            let pad = String(repeating: " ", count: max(0, try int(args[0])))
            let lines = stringValue(args[1]).split(separator: "\n", omittingEmptySubsequences: false)
            return .string(lines.enumerated().map { $0.offset == 0 ? String($0.element) : pad + $0.element }.joined(separator: "\n"))
        },
        "directory": { args in
            try arity("directory", args, 1)
            let path = stringValue(args[0])
            guard let slash = path.lastIndex(of: "/") else { return .string("") }
            return .string(String(path[...slash]))
        },
        "toLower": { args in try arity("toLower", args, 1); return .string(stringValue(args[0]).lowercased()) },
        "appendMultusNetwork": { args in
            try arity("appendMultusNetwork", args, 2)
            return .string(appendMultusNetwork(stringValue(args[0]), stringValue(args[1])))
        },
        "env": { args in
            try arity("env", args, 2)
            let value = getenv(stringValue(args[0])).map { String(cString: $0) } ?? ""
            return value.isEmpty ? args[1] : .string(value)
        },
        "strdict": { args in
            var map = TemplateMap(zero: .string(""))
            var index = 0
            while index < args.count {
                map[stringValue(args[index])] = .string(index + 1 < args.count ? stringValue(args[index + 1]) : "")
                index += 2
            }
            return .map(map)
        },
        "mergeMaps": { args in .map(merged(args)) },
        "toJsonMap": { args in .string(GoFormat.json(.map(merged(args)))) },
        "omitNil": { args in try arity("omitNil", args, 1); return withoutNils(args[0]) },
        "formatDuration": { args in
            try arity("formatDuration", args, 1)
            if case .object(let object) = args[0], let duration = object as? any TemplateDuration {
                return .string(GoFormat.duration(seconds: duration.seconds, nanos: duration.nanos))
            }
            return .string(GoFormat.duration(seconds: 0, nanos: 0))
        },
    ]

    /// Istio's injection function map: Go's built-ins, Sprig, and Istio's functions over Sprig's.
    public static let istioInjection: [String: TemplateFunction] = builtins
        .merging(sprig) { builtin, _ in builtin }
        .merging(istio) { _, istio in istio }

    // MARK: Helpers

    private static func arity(_ name: String, _ args: [TemplateValue], _ count: Int) throws {
        guard args.count == count else {
            throw Failure("wrong number of args for \(name): want \(count) got \(args.count)")
        }
    }

    /// Sprig's strval: strings as they are, everything else as `%v`; nil as empty.
    static func stringValue(_ value: TemplateValue) -> String {
        switch value {
        case .string(let text): return text
        case .missing, .null: return ""
        default: return GoFormat.value(value)
        }
    }

    static func int(_ value: TemplateValue) throws -> Int {
        switch value.data {
        case .int(let number): return number
        case .float(let number): return Int(number)
        case .string(let text): return Int(text) ?? 0
        case .bool(let flag): return flag ? 1 : 0
        case .missing, .null: return 0
        default: throw Failure("cannot convert \(value.goTypeName) to int")
        }
    }

    private static func list(_ value: TemplateValue) -> [TemplateValue] {
        if case .list(let items) = value.data { return items }
        return []
    }

    /// Sprig's strslice: list items as strings, nils dropped; a single value as a one-item list.
    private static func strings(_ value: TemplateValue) -> [String] {
        switch value.data {
        case .list(let items): return items.filter { !$0.isNil }.map(stringValue)
        case .missing, .null: return []
        default: return [stringValue(value)]
        }
    }

    /// strings.Split: the pieces between separators (an empty separator splits into characters).
    private static func split(_ text: String, by separator: String) -> [String] {
        guard !separator.isEmpty else { return text.map(String.init) }
        var pieces: [String] = []
        var rest = Substring(text)
        while let range = rest.range(of: separator) {
            pieces.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        pieces.append(String(rest))
        return pieces
    }

    private static func push(_ args: [TemplateValue]) throws -> TemplateValue {
        try arity("append", args, 2)
        switch args[0].data {
        case .list(let items): return .list(items + [args[1]])
        case .missing, .null: return .list([args[1]])
        default: throw Failure("Cannot push on type \(args[0].goTypeName)")
        }
    }

    /// strings.Trim: drops leading and trailing characters found in the cutset.
    private static func trim(_ text: String, cutset: String) -> String {
        let cut = Set(cutset.unicodeScalars)
        var scalars = Substring(text).unicodeScalars[...]
        while let first = scalars.first, cut.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, cut.contains(last) { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    private static func metaField(_ meta: TemplateValue, _ name: String) -> TemplateValue? {
        switch meta {
        case .object(let object): return object.field(name)
        case .map(let map): return map[name] ?? map[name.prefix(1).lowercased() + name.dropFirst()]
        default: return nil
        }
    }

    /// Ports of the containers' TCP ports (UDP and SCTP left out), joined with commas.
    private static func containerPorts(_ containers: TemplateValue, skipProxy: Bool) -> String {
        var ports: [String] = []
        for container in list(containers) {
            if skipProxy, let name = metaField(container, "Name"), stringValue(name) == "istio-proxy" { continue }
            for port in list(metaField(container, "Ports") ?? .null) {
                let proto = stringValue(metaField(port, "Protocol") ?? .null)
                if proto == "UDP" || proto == "SCTP" { continue }
                ports.append(stringValue(metaField(port, "ContainerPort") ?? .null))
            }
        }
        return ports.joined(separator: ",")
    }

    /// Adds Istio's CNI network to a pod's Multus networks, in their flat (`a, ns/b`) or JSON form;
    /// in JSON a `namespace/name` network is written as name and namespace.
    private static func appendMultusNetwork(_ existing: String, _ network: String) -> String {
        if existing.isEmpty { return network }
        if let bracket = existing.lastIndex(of: "]") {
            guard let document = try? YAMLParser.parse(existing).first, let items = document.root.items else { return existing }
            var name = network, namespace: String?
            if let slash = network.firstIndex(of: "/") {
                namespace = String(network[..<slash])
                name = String(network[network.index(after: slash)...])
            }
            if items.contains(where: { $0["name"]?.string == name && (namespace == nil || $0["namespace"]?.string == namespace || $0["namespace"] == nil) }) {
                return existing
            }
            let entry = namespace.map { "{\"name\": \"\(name)\", \"namespace\": \"\($0)\"}" } ?? "{\"name\": \"\(name)\"}"
            return String(existing[..<bracket]) + ", " + entry + String(existing[bracket...])
        }
        for item in existing.split(separator: ",") where String(item).trimmingSpaces == network { return existing }
        return existing + ", " + network
    }

    private static func merged(_ maps: [TemplateValue]) -> TemplateMap {
        var result = TemplateMap(zero: .string(""))
        for value in maps {
            guard case .map(let map) = value.data else { continue }
            for (key, item) in map.entries { result[key] = item }
        }
        return result
    }

    private static func withoutNils(_ value: TemplateValue) -> TemplateValue {
        switch value.data {
        case .map(let map):
            var result = TemplateMap(zero: map.zero)
            for (key, item) in map.entries where !item.isNil { result[key] = withoutNils(item) }
            return .map(result)
        case .list(let items):
            return .list(items.map(withoutNils))
        default:
            return value
        }
    }

    /// sigs.k8s.io/yaml's Marshal: through JSON, so keys come out sorted; with the final newline.
    static func yaml(_ value: TemplateValue) -> String {
        guard let document = try? YAMLParser.parse(GoFormat.json(value)).first else { return "null\n" }
        return YAMLEmitter(keyOrder: .sorted).emit(document.root)
    }

    // MARK: Comparison, as Go's eq/lt do it

    private enum Kind { case bool, number, string, null, other }

    private static func kind(_ value: TemplateValue) -> Kind {
        switch value {
        case .bool: return .bool
        case .int, .float: return .number
        case .string: return .string
        case .missing, .null: return .null
        default: return .other
        }
    }

    /// 0 when equal, non-zero otherwise; an error for values Go cannot compare.
    private static func compare(_ left: TemplateValue, _ right: TemplateValue) throws -> Int {
        let (a, b) = (kind(left), kind(right))
        if a == .null || b == .null { return a == b ? 0 : 1 }
        if a == .other || b == .other { throw Failure("non-comparable type \(a == .other ? left.goTypeName : right.goTypeName)") }
        if a != b { throw Failure("incompatible types for comparison") }
        return try order(left, right)
    }

    private static func order(_ left: TemplateValue, _ right: TemplateValue) throws -> Int {
        switch (left, right) {
        case (.int(let a), .int(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        case (.float(let a), .float(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        case (.string(let a), .string(let b)): return a < b ? -1 : (a > b ? 1 : 0)
        case (.bool(let a), .bool(let b)): return a == b ? 0 : 1
        case (.int, .float), (.float, .int): throw Failure("incompatible types for comparison")
        default: throw Failure("invalid type for comparison")
        }
    }
}

/// A protobuf message that writes its own JSON (proto field names, defaults left out).
public protocol TemplateProtoMessage: TemplateObject {
    var protoJSON: String { get }
}

/// A protobuf Duration.
public protocol TemplateDuration: TemplateObject {
    var seconds: Int { get }
    var nanos: Int { get }
}

extension TemplateValue {
    /// A JSON document as Go's encoding/json decodes it into interface{}: every number a float64.
    public init(jsonNode node: YAMLNode) {
        switch node.content {
        case .scalar(let scalar) where scalar.kind == .int || scalar.kind == .float:
            self = .float(node.double ?? 0)
        case .scalar:
            self = TemplateValue(node: node)
        case .sequence(let items):
            self = .list(items.map(TemplateValue.init(jsonNode:)))
        case .mapping(let pairs):
            var map = TemplateMap()
            for pair in pairs { map[pair.key.scalarText ?? "null"] = TemplateValue(jsonNode: pair.value) }
            self = .map(map)
        }
    }
}

extension GoFormat {
    /// time.Duration.String: `1h2m3s`, `45s`, `1.5s`, `500ms`, `0s`.
    public static func duration(seconds: Int, nanos: Int) -> String {
        let total = seconds * 1_000_000_000 + nanos
        if total == 0 { return "0s" }
        let negative = total < 0
        let magnitude = abs(total)
        var text: String
        if magnitude < 1_000_000_000 {
            if magnitude < 1_000 { text = "\(magnitude)ns" }
            else if magnitude < 1_000_000 { text = decimal(magnitude, 1_000) + "µs" }
            else { text = decimal(magnitude, 1_000_000) + "ms" }
        } else {
            let hours = magnitude / 3_600_000_000_000
            let minutes = (magnitude / 60_000_000_000) % 60
            let secondsPart = magnitude % 60_000_000_000
            text = decimal(secondsPart, 1_000_000_000) + "s"
            if hours > 0 { text = "\(hours)h\(minutes)m" + text } else if minutes > 0 { text = "\(minutes)m" + text }
        }
        return (negative ? "-" : "") + text
    }

    private static func decimal(_ value: Int, _ unit: Int) -> String {
        let whole = value / unit, fraction = value % unit
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: String(unit).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\n" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }

    fileprivate func replacing(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    fileprivate func range(of target: String) -> Range<Substring.Index>? {
        guard !target.isEmpty, count >= target.count else { return nil }
        var start = startIndex
        while start < endIndex {
            if self[start...].hasPrefix(target) { return start..<index(start, offsetBy: target.count) }
            start = index(after: start)
        }
        return nil
    }
}
