import EnvoyConfig
import Manifests
import MeshDoctor

/// `meshctl x diagnose`: names the cause of failing requests (the 503 doctor) from a capture folder, or explains
/// one access-log line.
struct DiagnoseCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "diagnose",
            abstract: "Explain failing requests (503, 504, 404, 403...): the cause, its evidence and the fix",
            discussion: """
            --capture DIR reads a folder in `meshctl x capture`'s layout (config_dump.json, clusters.json, stats.txt,
            access.log, istio.yaml and, when present, symptom.txt with the response the caller saw) and follows each
            failing request hop by hop: listener, route, cluster, endpoints and their health, connection pool and
            outlier state, TLS, the destination's Service, pods, sidecar and policy, then the app's port. It prints
            the most likely cause first with the access-log lines, counters, health flags and object fields that
            support it, and the fix as a command or patch. Cause ids: mtls-mismatch, protocol-mismatch,
            no-endpoints, app-not-listening, target-port-mismatch, no-sidecar, upstream-connection-closed,
            circuit-breaker, outlier-ejected, missing-subset, no-route, route-timeout, fault-injected, authz-denied,
            egress-blocked, rate-limited, http10-refused. No cause is printed when nothing failed. Exit 0 whenever it ran.
            --log LINE explains one access-log line of Istio's default format: each field, every response flag
            and the response code details.
            x diagnose POD (or deploy/NAME) gathers the same evidence live, through the API server: the sidecar's
            admin answers and istio-proxy log, and the mesh's objects; when its sidecar only passed on a 4xx or 5xx,
            the istio-proxy log of the destination pod that answered, whose line for the same x-request-id says what
            that sidecar made of it. --to HOST[:PORT] (or a URL) keeps only the requests to that destination.
            """,
            usage: "meshctl x diagnose (POD | deploy/NAME | --capture DIR | --log LINE) [--to HOST[:PORT]] [-n NS] [-o text|json|yaml]",
            examples: [
                Example("Why do a pod's calls fail? Capture its proxy, then diagnose the capture",
                        "meshctl x capture storefront-v1-7c9d8-x2x4q -n shop -d capture/ && meshctl x diagnose --capture capture/"),
                Example("The same as JSON, for scripts", "meshctl x diagnose --capture capture/ -o json"),
                Example("Live, for one destination", "meshctl x diagnose deploy/storefront -n shop --to payments.billing:8080"),
                Example("Explain one access-log line",
                        #"meshctl x diagnose --log '[2026-11-30T19:44:41.759Z] "GET /v1/stock HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 0 81 0 - "-" "curl/8.5" "5f1c" "inventory:7070" "-" outbound|7070||inventory.shop.svc.cluster.local - 10.0.0.5:7070 10.0.0.9:41874 - default'"#),
            ],
            aliases: ["doctor"],
            flags: [
                FlagSpec("capture", valueName: "DIR", help: "A capture folder (meshctl x capture -d DIR) to diagnose", completion: .directories),
                FlagSpec("log", valueName: "LINE", help: "One access-log line to explain"),
                FlagSpec("to", valueName: "HOST[:PORT]", help: "Only the requests to this destination (a host, host:port or URL)"),
                FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pod", default: "15000"),
                FlagSpec("output", short: "o", help: "Output format: one of text|json|yaml", default: "text", completion: .values(["text", "json", "yaml"])),
            ],
            arguments: [ArgumentSpec("SOURCE", help: "A pod (POD[.NS]) or deploy/NAME to diagnose live", optional: true)])
    }

    let capture: String?
    let logLine: String?
    let source: String?
    let format: String
    let destination: String?
    let adminPort: Int
    let commandPath: String

    init(_ invocation: Invocation) throws {
        capture = invocation.string("capture")
        logLine = invocation.string("log")
        source = invocation.arguments.first
        format = invocation.string("output") ?? "text"
        destination = invocation.string("to")
        adminPort = try invocation.int("proxy-admin-port") ?? 15000
        commandPath = invocation.pathText
    }

    func validate() throws {
        let given = [capture != nil, logLine != nil, source != nil].filter { $0 }.count
        if given == 0 { throw UsageError(problem: "say what to diagnose: --capture DIR, --log LINE or a pod", commandPath: commandPath) }
        if given > 1 { throw UsageError(problem: "--capture, --log and a pod are alternatives: give one", commandPath: commandPath) }
        if destination != nil && logLine != nil { throw UsageError(problem: "--to selects requests of a capture or a pod, not of --log", commandPath: commandPath) }
        if !(1...65535).contains(adminPort) { throw UsageError(problem: "--proxy-admin-port must be a port (1-65535)", commandPath: commandPath) }
    }

    func run(_ context: CommandContext) throws {
        if let logLine { return try explain(logLine, context) }
        var evidence: Evidence
        if let capture {
            evidence = try read(folder: FileSystem.resolve(capture, in: context.environment.workingDirectory))
        } else {
            evidence = try LiveEvidence.gather(context, source: source ?? "", adminPort: adminPort)
        }
        if let destination { evidence.keepRequests(to: destination) }
        let diagnosis = Doctor(evidence).diagnose()
        switch format {
        case "json", "yaml": print(diagnosis.json, context)
        default: context.stdout.write(diagnosis.text)
        }
    }

    func explain(_ line: String, _ context: CommandContext) throws {
        let entry: AccessLogEntry
        do {
            entry = try AccessLogEntry(line: line)
        } catch {
            throw InputDataError("--log: column \(error.column): \(error.problem)\n"
                                 + "The line must be one access-log line in Istio's default format, quoted as one argument: --log '[START] \"GET /path HTTP/1.1\" 503 UF ...'")
        }
        switch format {
        case "json", "yaml":
            let flags = entry.responseFlags.map { code -> JSONValue in
                let flag = ResponseFlag.named(code)
                return .object([("flag", .string(code)), ("name", .string(flag?.longName ?? "")), ("envoy", .string(flag?.envoyMeaning ?? "not in Envoy's list")),
                                ("istio", .string(flag?.istioMeaning ?? ""))])
            }
            let fields = zip(AccessLogEntry.textFields, entry.textValues).map { field, value in
                JSONValue.object([("field", .string(field.name)), ("operator", .string(field.envoyOperator)), ("value", .string(value))])
            }
            let value = JSONValue.object([("fields", .array(fields)), ("flags", .array(flags)),
                                          ("details", .object([("value", .string(entry.responseCodeDetails)),
                                                               ("meaning", .array(ResponseCodeDetails.explain(entry.responseCodeDetails).map { .string($0) }))]))])
            print(value, context)
        default:
            context.stdout.write(LogExplanation.explain(entry))
        }
    }

    func read(folder: String) throws -> Evidence {
        do {
            return try CaptureFolder.read(folder)
        } catch let error as CaptureFolder.MalformedFile {
            throw InputDataError(error.description + "\nThe capture's files must be Envoy's admin answers as `meshctl x capture` saves them.")
        } catch {
            throw CommandFailure(String(describing: error))
        }
    }

    private func print(_ value: JSONValue, _ context: CommandContext) {
        if format == "yaml" { return context.stdout.write(YAMLEmitter(keyOrder: .asParsed).emit(value.yamlNode)) }
        context.stdout.write(JSONEmitter(indent: 2).emit(value.yamlNode) + "\n")
    }
}
