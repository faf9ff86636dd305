import EnvoyConfig
import KubeClient

/// `meshctl proxy-config rootca-compare`: whether two pods' sidecars trust a common root CA.
struct ProxyConfigRootCACompareCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "rootca-compare",
            abstract: "Compare the ROOTCA of two pods' sidecars: mTLS between them works only with a common root",
            examples: [
                Example("Can these two pods reach each other over mTLS?", "meshctl proxy-config rootca-compare productpage-v1-6b746f74dc-9stvs.default reviews-v1-545db77b95-ps4cb.default"),
            ],
            aliases: ["rc"],
            flags: [FlagSpec("proxy-admin-port", valueName: "int", help: "The Envoy admin port of the pods", default: "15000")],
            arguments: [ArgumentSpec("POD[.NAMESPACE]", help: "The first pod"), ArgumentSpec("POD[.NAMESPACE]", help: "The second pod")])
    }

    let pods: [ProxyAdminSource]

    init(_ invocation: Invocation) throws {
        let port = try invocation.int("proxy-admin-port") ?? 15000
        pods = invocation.arguments.map { ProxyAdminSource(file: nil, pod: $0, adminPort: port, commandPath: invocation.pathText) }
    }

    func validate() throws {
        for pod in pods { try pod.validate() }
    }

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        var roots: [(name: String, pem: String)] = []
        for pod in pods {
            let (name, namespace) = pod.podAndNamespace(client)
            let dump = try pod.configDump("config_dump?mask=dynamic_active_secrets,dynamic_warming_secrets", context)
            let secret = try pod.data { try dump.secrets() }.first { $0.name == "ROOTCA" }
            guard let pem = secret?.certificates.first?.pem else {
                throw CommandFailure("pod \(name).\(namespace) holds no ROOTCA secret: its proxy has not received its certificates from istiod yet "
                                     + "(meshctl proxy-config secret \(name).\(namespace))")
            }
            roots.append(("\(name).\(namespace)", pem))
        }
        let shared = try pods[0].data { try CertificateFacts.shareACertificate(roots[0].pem, roots[1].pem) }
        guard shared else {
            throw CommandFailure("[\(roots[0].name)] and [\(roots[1].name)] have no ROOTCA certificate in common: mTLS between them fails "
                                 + "(they were issued by different CAs; give both meshes the same root or trust bundle)")
        }
        context.stdout.write("[\(roots[0].name)] and [\(roots[1].name)] have an identical ROOTCA: mTLS between them can be verified\n")
    }
}
