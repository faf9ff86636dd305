import EnvoyConfig
import KubeClient
import Manifests

/// `meshctl remote-clusters`: the remote clusters each istiod reads (multicluster), and whether it is synced with each.
struct RemoteClustersCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "remote-clusters",
            abstract: "The remote clusters each istiod is connected to, with the secret each came from and its sync status",
            discussion: """
            Asks every running istiod pod (label app=istiod in the Istio namespace; --revision for one revision) for
            its /debug/clusterz on port 15014, through the API server's pod proxy: a row per remote cluster with the
            remote secret it was read from, its sync status, the istiod and that istiod's revision (istio.io/rev).
            """,
            examples: [
                Example("Every istiod's remote clusters", "meshctl remote-clusters"),
                Example("Those of one revision", "meshctl remote-clusters --revision canary"),
            ],
            flags: [FlagSpec("revision", short: "r", help: "Only the istiod pods of this revision (label istio.io/rev)")])
    }

    let revision: String?

    init(_ invocation: Invocation) throws {
        revision = invocation.string("revision")
    }

    func run(_ context: CommandContext) throws {
        let client = try ClusterConnection.client(context)
        let istioNamespace = context.global.istioNamespace
        let istiods = try ProxyStatusCommand.runningIstiods(client, istioNamespace: istioNamespace, revision: revision)
        var answers: [String: String] = [:], revisions: [String: String] = [:]
        for istiod in istiods {
            let body = try ProxyAdminSource.adminGet(client, pod: istiod.name, namespace: istioNamespace, port: 15014, path: "debug/clusterz", checked: true)
            answers[istiod.name] = String(decoding: body, as: UTF8.self)
            revisions[istiod.name] = istiod.revision
        }
        let table: String
        do { table = try RemoteClustersTable.render(answers: answers, revisions: revisions) } catch { throw CommandFailure(error.description) }
        context.stdout.write(table)
    }
}

/// `remote-clusters`' table in istioctl's columns: NAME SECRET STATUS ISTIOD REVISION, istiods in name order.
public enum RemoteClustersTable {
    /// `answers`: each istiod's /debug/clusterz body; `revisions`: each istiod's revision label, if it has one.
    public static func render(answers: [String: String], revisions: [String: String]) throws(EnvoyDataError) -> String {
        var table = ColumnWriter(padding: 5)
        table.append(["NAME", "SECRET", "STATUS", "ISTIOD", "REVISION"])
        for (istiod, text) in answers.sorted(by: { $0.key < $1.key }) {
            for cluster in try RemoteClusterStatus.read(text, istiod: istiod) {
                table.append([cluster.id, cluster.secretName, cluster.syncStatus, istiod, revisions[istiod] ?? ""])
            }
        }
        return table.render()
    }
}
