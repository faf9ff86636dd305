/// extensions.istio.io: WasmPlugin and TrafficExtension.
enum ExtensionSchemas {
    typealias C = CommonSchemas

    /// A Wasm module's settings, shared by WasmPlugin's spec and TrafficExtension's `wasm`.
    static let wasmFields: [String: SchemaType] = [
        "url": .string(minLength: 1),
        "sha256": .string(pattern: "^(|[a-f0-9]{64})$"),
        "imagePullPolicy": .enumeration(["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]),
        "imagePullSecret": .string(minLength: 1, maxLength: 253),
        "pluginConfig": .any,
        "pluginName": .string(minLength: 1, maxLength: 256),
        "failStrategy": .enumeration(["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]),
        "vmConfig": .object(vmConfig),
        "type": .enumeration(["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]),
        "verificationKey": .string,
    ]

    static let vmConfig = ObjectType("VmConfig", [
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
    ])

    static let urlScheme = ObjectRule.require("url must have schema one of [http, https, file, oci]", at: "url") { spec in
        guard let url = spec["url"]?.scalarText, !url.isEmpty else { return true }
        if !url.contains("://") { return !url.contains("#") && !url.contains("%") && !url.contains("$") }
        return ["http://", "https://", "file://", "oci://"].contains { url.hasPrefix($0) }
    }

    static let trafficSelector = ObjectType("TrafficSelector", [
        "mode": .enumeration(["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"]),
        "ports": .list(.object(ObjectType("PortSelector", ["number": .integer], required: ["number"], rules: [C.portRule("number")]))),
    ])

    static let wasmPlugin = SchemaType.object(ObjectType("WasmPlugin", C.targeting.merging(wasmFields) { a, _ in a }.merging([
        "phase": .enumeration(["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]),
        "priority": .integer(minimum: Int(Int32.min), maximum: Int(Int32.max)),
        "match": .list(.object(trafficSelector)),
    ]) { a, _ in a }, required: ["url"], rules: [C.oneTargeting, urlScheme]))

    /// A Lua or Wasm filter for the workloads a selector or targetRefs pick (no single targetRef).
    static let trafficExtension = SchemaType.object(ObjectType("TrafficExtension", [
        "selector": .object(C.policySelector),
        "targetRefs": .list(.object(C.policyTargetReference), maxItems: 16),
        "phase": .enumeration(["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"]),
        "priority": .integer(minimum: Int(Int32.min), maximum: Int(Int32.max)),
        "match": .list(.object(trafficSelector)),
        "lua": .object(ObjectType("LuaConfig", ["inlineCode": .string(minLength: 1, maxLength: 65536)], required: ["inlineCode"])),
        "wasm": .object(ObjectType("WasmConfig", wasmFields, required: ["url"], rules: [urlScheme])),
    ], rules: [
        C.oneTargeting,
        .require("exactly one of wasm or lua must be set") { spec in (spec["wasm"] == nil) != (spec["lua"] == nil) },
    ]))
}
