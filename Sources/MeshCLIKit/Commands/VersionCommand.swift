import KubeClient
import Manifests

/// `meshctl version`: what this build of meshctl is.
struct VersionCommand: MeshCommand {
    static let clientVersion = "0.1.0"

    static var spec: CommandSpec {
        CommandSpec(
            name: "version",
            abstract: "Print the meshctl version and what it was built with",
            discussion: """
            Prints meshctl's version, the git commit it was built from, the Swift version that compiled it
            and the versions of the C libraries it uses (libyaml, libcurl). When a cluster is configured
            (kubeconfig or in-cluster), also its Kubernetes version and the Istio control plane's version
            (istiod's image tag, or the injector's configured tag). When the cluster cannot be read (no or a
            broken kubeconfig, an unknown context, refused credentials, no answer) it says why and exits 1;
            --remote=false prints the client's version only, without a cluster.
            """,
            examples: [
                Example("Print the version", "meshctl version"),
                Example("Print only the version number", "meshctl version --short"),
                Example("Print the version as JSON", "meshctl version -o json"),
                Example("Only this binary, without asking the cluster", "meshctl version --remote=false"),
            ],
            flags: [
                FlagSpec("short", short: "s", kind: .bool, help: "Print only the client's version number"),
                FlagSpec("remote", kind: .bool, help: "Also ask the cluster for its Kubernetes and Istio versions", default: "true"),
                OutputFormat.flag([.yaml, .json]),
            ])
    }

    let short: Bool
    let remote: Bool
    let format: OutputFormat?

    init(_ invocation: Invocation) throws {
        short = invocation.bool("short")
        remote = invocation.string("remote").map { $0 != "false" } ?? true
        format = invocation.string("output").flatMap(OutputFormat.init(rawValue:))
    }

    func validate() throws {
        if short && format != nil {
            throw UsageError(problem: "--short and --output cannot be used together", commandPath: "meshctl version")
        }
    }

    func run(_ context: CommandContext) throws {
        let info = BuildInfo.current
        if short {
            context.stdout.write(info.version + "\n")
            return
        }
        // The cluster's versions were asked for (the default): any reason they cannot be read is a failure that
        // names it, after the client's version is printed.
        var server: ServerVersions?
        var failure: Error?
        if remote {
            do {
                let access = try ClusterConnection.access(context)
                server = try ServerVersions.read(try ClusterConnection.client(context, timeoutSeconds: 10), access)
            } catch {
                failure = error
            }
        }
        // Only the documents show libcurl's version: the text form does not open libcurl for it.
        func document() -> YAMLNode {
            var document = info.document
            if let server { document["serverVersion"] = server.document }
            return document
        }
        switch format {
        case .json:
            context.stdout.write(JSONEmitter(indent: 2).emit(document()) + "\n")
        case .yaml:
            context.stdout.write(YAMLEmitter().emit(document()))
        default:
            context.stdout.write("client version: \(info.version) (commit \(info.commit), Swift \(info.swiftVersion), \(info.platform))\n")
            if let server {
                context.stdout.write("kubernetes:     \(server.kubernetes) (\(server.address), context \(server.context))\n")
                context.stdout.write("istio:          \(server.istio ?? "not installed") \(server.istioSource.map { "(\($0))" } ?? "")\n")
            }
        }
        if let failure {
            throw CommandFailure("cannot read the cluster's versions: \(ErrorReporter.message(for: failure))\n"
                                 + "(`meshctl version --remote=false` prints this client's version without asking a cluster)")
        }
    }
}

/// What the cluster runs: Kubernetes and the Istio control plane.
struct ServerVersions {
    var kubernetes: String
    var address: String
    var context: String
    var istio: String?
    var istioSource: String?

    static func read(_ client: KubernetesClient, _ access: ClusterAccess) throws -> ServerVersions {
        try ClusterConnection.call {
            let version = try client.get("/version")
            var result = ServerVersions(kubernetes: version["gitVersion"]?.string ?? "unknown", address: access.server, context: access.contextName)
            // istiod's image tag is the control plane's version; without istiod, the tag the injector is set to inject.
            // Only "not there" means not installed: any other failure (401, 403, a lost connection) is reported.
            let pods = try client.list("/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod")
            if let image = pods.lazy.compactMap({ $0["spec"]?["containers"]?.array?.first?["image"]?.string }).first,
               let tag = image.split(separator: ":").last, image.contains(":") {
                result.istio = String(tag)
                result.istioSource = "istiod image \(image)"
            } else if let injector = try ClusterConnection.notFoundAsNil({ try client.get("/api/v1/namespaces/istio-system/configmaps/istio-sidecar-injector") }),
                      let values = injector["data"]?["values"]?.string.flatMap({ try? JSONValue.parse($0) }),
                      let tag = values["global"]?["tag"]?.string {
                result.istio = tag
                let local = injector["data"]?["config"]?.string?.contains("meshctl's local control plane") == true
                result.istioSource = local ? "meshctl local mode's built-in defaults; no istiod running" : "the sidecar injector's values; no istiod pod found"
            }
            return result
        }
    }

    var document: YAMLNode {
        .mapping([("kubernetes", .string(kubernetes)), ("server", .string(address)), ("context", .string(context)),
                  ("istio", istio.map { .string($0) } ?? .null), ("istioSource", istioSource.map { .string($0) } ?? .null)])
    }
}
