/// telemetry.istio.io Telemetry and extensions.istio.io WasmPlugin.
enum TelemetrySchemas {
    typealias C = CommonSchemas

    static let providerReference = ObjectType("ProviderRef", ["name": .string(minLength: 1)], required: ["name"])

    static let tagOverride = ObjectType("TagOverride", [
        "operation": .enumeration(["UPSERT", "REMOVE"]), "value": .string,
    ], rules: [
        .require("value must be set when operation is UPSERT", at: "value") { tag in
            (tag["operation"]?.scalarText ?? "UPSERT") != "UPSERT" || tag["value"] != nil
        },
        .require("value must not be set when operation is REMOVE", at: "value") { tag in
            tag["operation"]?.scalarText != "REMOVE" || tag["value"] == nil
        },
    ])

    /// A tracing tag from a literal, an environment variable of the proxy, or a request header: exactly one.
    static let customTag = ObjectType("CustomTag", [
        "literal": .object(ObjectType("Literal", ["value": .string(minLength: 1)], required: ["value"])),
        "environment": .object(ObjectType("Environment", ["name": .string(minLength: 1), "defaultValue": .string], required: ["name"])),
        "header": .object(ObjectType("RequestHeader", ["name": .string(minLength: 1), "defaultValue": .string], required: ["name"])),
    ], rules: [
        .require("a custom tag sets exactly one of literal, environment or header") { tag in
            ["literal", "environment", "header"].filter { tag[$0] != nil }.count == 1
        },
    ])

    static let modeMatch = ObjectType("WorkloadModeSelector", ["mode": .enumeration(["CLIENT_AND_SERVER", "CLIENT", "SERVER"])])

    static let telemetry = SchemaType.object(ObjectType("Telemetry", C.targeting.merging([
        "tracing": .list(.object(ObjectType("Tracing", [
            "match": .object(modeMatch), "providers": .list(.object(providerReference)),
            "randomSamplingPercentage": .number(minimum: 0, maximum: 100), "disableSpanReporting": .bool,
            "customTags": .map(.object(customTag)), "useRequestIdForTraceSampling": .bool, "enableIstioTags": .bool,
        ]))),
        "metrics": .list(.object(ObjectType("Metrics", [
            "providers": .list(.object(providerReference)),
            "overrides": .list(.object(ObjectType("MetricsOverrides", [
                "match": .object(ObjectType("MetricSelector", [
                    "metric": .enumeration(["ALL_METRICS", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE",
                                            "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES",
                                            "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES"]),
                    "customMetric": .string(minLength: 1), "mode": .enumeration(["CLIENT_AND_SERVER", "CLIENT", "SERVER"]),
                ])),
                "disabled": .bool, "tagOverrides": .map(.object(tagOverride)),
            ]))),
            "reportingInterval": .duration,
        ]))),
        "accessLogging": .list(.object(ObjectType("AccessLogging", [
            "match": .object(modeMatch), "providers": .list(.object(providerReference)), "disabled": .bool,
            "filter": .object(ObjectType("Filter", ["expression": .string])),
        ]))),
    ]) { a, _ in a }, rules: [C.oneTargeting]))

    static let wasmPlugin = SchemaType.object(ObjectType("WasmPlugin", C.targeting.merging([
        "url": .string(minLength: 1),
        "sha256": .string(pattern: "^(|[a-f0-9]{64})$"),
        "imagePullPolicy": .enumeration(["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]),
        "imagePullSecret": .string(minLength: 1, maxLength: 253),
        "pluginConfig": .any,
        "pluginName": .string(minLength: 1, maxLength: 256),
        "phase": .enumeration(["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]),
        "priority": .integer,
        "failStrategy": .enumeration(["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]),
        "vmConfig": .object(ObjectType("VmConfig", [
            "env": .list(.object(ObjectType("EnvVar", [
                "name": .string(minLength: 1, maxLength: 256), "valueFrom": .enumeration(["INLINE", "HOST"]), "value": .string(maxLength: 2048),
            ], required: ["name"], rules: [
                .require("value may only be set when valueFrom is INLINE", at: "value") { env in
                    (env["valueFrom"]?.scalarText ?? "INLINE") == "INLINE" || env["value"] == nil
                },
            ])), maxItems: 256),
        ], rules: [
            ObjectRule { config, path in
                C.repeats(in: config["env"]?.items ?? []) { $0["name"]?.scalarText }.map { repeat_ in
                    C.problem(repeat_.item, path + [.key("env"), .index(repeat_.index)], "Duplicate value: env name \"\(repeat_.key)\"")
                }
            },
        ])),
        "match": .list(.object(ObjectType("TrafficSelector", [
            "mode": .enumeration(["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"]),
            "ports": .list(.object(ObjectType("PortSelector", ["number": .integer], required: ["number"], rules: [C.portRule("number")]))),
        ]))),
        "type": .enumeration(["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]),
    ]) { a, _ in a }, required: ["url"], rules: [
        C.oneTargeting,
        .require("url must have schema one of [http, https, file, oci]", at: "url") { spec in
            guard let url = spec["url"]?.scalarText, !url.isEmpty else { return true }
            if !url.contains("://") { return !url.contains("#") && !url.contains("%") && !url.contains("$") }
            return ["http://", "https://", "file://", "oci://"].contains { url.hasPrefix($0) }
        },
    ]))
}
