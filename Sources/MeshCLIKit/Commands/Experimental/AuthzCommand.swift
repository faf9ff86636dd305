import EnvoyConfig

/// `meshctl x authz`: authorization views of a sidecar.
struct AuthzCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "authz",
            abstract: "Authorization views of a sidecar: the AuthorizationPolicies its Envoy enforces",
            examples: [Example("The policies a pod's proxy enforces", "meshctl x authz check productpage-v1-6b746f74dc-9stvs.default")],
            subcommands: [AuthzCheckCommand.self])
    }

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        context.stdout.write(HelpRenderer.render(Self.spec, path: ["meshctl", "x", Self.spec.name]))
    }
}

/// `meshctl x authz check POD | -f FILE`: the AuthorizationPolicies behind the RBAC filters of a proxy's listeners.
struct AuthzCheckCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "check",
            abstract: "The AuthorizationPolicies a sidecar enforces: action, policy and number of its rules, from its listeners",
            discussion: """
            Reads the RBAC filters of the proxy's dynamic listeners (HTTP and network), whose policies Istio names
            after the AuthorizationPolicy and rule they come from. CUSTOM policies are the ext-authz shadow rules;
            an RBAC filter without policies shows as _anonymous_match_nothing_.
            """,
            examples: [
                Example("A pod's proxy", "meshctl x authz check productpage-v1-6b746f74dc-9stvs.default"),
                Example("A saved config dump", "meshctl x authz check -f config_dump.json"),
            ],
            flags: ProxyAdminSource.flags,
            arguments: [proxyPodArgument])
    }

    let source: ProxyAdminSource

    init(_ invocation: Invocation) throws {
        source = try ProxyAdminSource(invocation)
    }

    func validate() throws { try source.validate() }

    func run(_ context: CommandContext) throws {
        let dump = try source.configDump("config_dump?mask=dynamic_listeners", context)
        var table = ColumnWriter(padding: 3)
        table.append(["ACTION", "AuthorizationPolicy", "RULES"])
        for row in try source.data({ try AuthorizationSummary.rows(dump) }) { table.append([row.action, row.policy, String(row.rules)]) }
        context.stdout.write(table.render())
    }
}
