/// telemetry.istio.io Telemetry.
enum TelemetrySchemas {
    typealias C = CommonSchemas

    static let providerReference = ObjectType("ProviderRef", ["name": .string(minLength: 1)], required: ["name"])

    /// UPSERT (also when no operation is given) needs a value; REMOVE takes none.
    static let tagOverride = ObjectType("TagOverride", [
        "operation": .enumeration(["UPSERT", "REMOVE"]), "value": .string,
    ], rules: [
        .require("value must be set when operation is UPSERT", at: "value") { tag in
            (tag["operation"]?.scalarText ?? "UPSERT") != "UPSERT" || !(tag["value"]?.scalarText ?? "").isEmpty
        },
        .require("value must not be set when operation is REMOVE", at: "value") { tag in
            tag["operation"]?.scalarText != "REMOVE" || tag["value"] == nil
        },
    ])

    /// A tracing tag from a literal, an environment variable of the proxy, a request header or a formatter: at most one.
    static let customTag = ObjectType("CustomTag", [
        "literal": .object(ObjectType("Literal", ["value": .string(minLength: 1)], required: ["value"])),
        "environment": .object(ObjectType("Environment", ["name": .string(minLength: 1), "defaultValue": .string], required: ["name"])),
        "header": .object(ObjectType("RequestHeader", ["name": .string(minLength: 1), "defaultValue": .string], required: ["name"])),
        "formatter": .object(ObjectType("Formatter", ["value": .string(minLength: 1)], required: ["value"])),
    ], rules: [C.oneOf(["literal", "environment", "header", "formatter"])])

    static let modeMatch = ObjectType("WorkloadModeSelector", ["mode": .enumeration(["CLIENT_AND_SERVER", "CLIENT", "SERVER"])])

    /// Map keys (tag names) must not be empty: an error for custom tags, a warning for metric tag overrides.
    static func namedKeys(_ field: String, _ severity: ValidationProblem.Severity, _ message: String) -> ObjectRule {
        ObjectRule { node, path in
            (node[field]?.pairs ?? []).filter { ($0.key.scalarText ?? "").isEmpty }.map { pair in
                ValidationProblem(severity, path: path + [.key(field), .key("")], location: pair.key.location, message: message)
            }
        }
    }

    /// Only the first tracing entry, and its first provider, are used.
    static let oneTracing = ObjectRule { spec, path in
        let tracing = spec["tracing"]?.items ?? []
        var problems: [ValidationProblem] = []
        if tracing.count > 1 {
            problems.append(ValidationProblem(.warning, path: path + [.key("tracing")], location: spec["tracing"]!.location,
                                              message: "more than one tracing entry is not supported yet"))
        }
        for (index, entry) in tracing.enumerated() where (entry["providers"]?.items ?? []).count > 1 {
            problems.append(ValidationProblem(.warning, path: path + [.key("tracing"), .index(index), .key("providers")],
                                              location: entry["providers"]!.location, message: "more than one tracing provider is not supported yet"))
        }
        return problems
    }

    /// A light syntax check of an access log filter's CEL expression: brackets balance and strings close.
    static let filterExpression = ObjectRule { filter, path in
        guard let node = filter["expression"], let text = node.scalarText else { return [] }
        var open: [Character] = [], quote: Character?, escaped = false
        let pairs: [Character: Character] = [")": "(", "]": "[", "}": "{"]
        for character in text {
            if let current = quote {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == current { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if "([{".contains(character) {
                open.append(character)
            } else if let opening = pairs[character] {
                guard open.popLast() == opening else { open = ["x"]; break }
            }
        }
        guard !text.allSatisfy(\.isWhitespace), open.isEmpty, quote == nil else {
            return [C.problem(node, path + [.key("expression")], "must be a valid CEL expression: \"\(text)\" is empty, or its brackets or quotes do not close")]
        }
        return []
    }

    static let telemetry = SchemaType.object(ObjectType("Telemetry", C.targeting.merging([
        "tracing": .list(.object(ObjectType("Tracing", [
            "match": .object(modeMatch), "providers": .list(.object(providerReference)),
            "randomSamplingPercentage": .number(minimum: 0, maximum: 100), "disableSpanReporting": .bool,
            "customTags": .map(.object(customTag)), "useRequestIdForTraceSampling": .bool, "enableIstioTags": .bool,
            "disableContextPropagation": .bool,
        ], rules: [namedKeys("customTags", .error, "a custom tag needs a name")]))),
        "metrics": .list(.object(ObjectType("Metrics", [
            "providers": .list(.object(providerReference)),
            "overrides": .list(.object(ObjectType("MetricsOverrides", [
                "match": .object(ObjectType("MetricSelector", [
                    "metric": .enumeration(["ALL_METRICS", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE",
                                            "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES",
                                            "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES"]),
                    "customMetric": .string(minLength: 1), "mode": .enumeration(["CLIENT_AND_SERVER", "CLIENT", "SERVER"]),
                ], rules: [C.oneOf(["metric", "customMetric"])])),
                "disabled": .bool, "tagOverrides": .map(.object(tagOverride)),
            ], rules: [namedKeys("tagOverrides", .warning, "a tag override without a name changes nothing")]))),
            "reportingInterval": .duration(minimumSeconds: 0.001),
        ]))),
        "accessLogging": .list(.object(ObjectType("AccessLogging", [
            "match": .object(modeMatch), "providers": .list(.object(providerReference)), "disabled": .bool,
            "filter": .object(ObjectType("Filter", ["expression": .string], rules: [filterExpression])),
        ]))),
    ]) { a, _ in a }, rules: [C.oneTargeting, oneTracing]))
}
