import Manifests
#if canImport(Glibc)
import Glibc
#endif

/// How to reach one cluster as one user: what a kubeconfig context comes to.
public struct ClusterAccess: Sendable {
    public var contextName: String
    public var server: String
    /// The context's namespace, else `default`.
    public var namespace: String
    /// PEM text of the authorities to trust; nil means the system's.
    public var certificateAuthority: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    public var tlsServerName: String?
    public var proxyURL: String?
    public var credentials: Credentials
    /// Where it came from, for messages: the kubeconfig file, or "in-cluster configuration".
    public var source: String

    public init(contextName: String, server: String, namespace: String = "default", certificateAuthority: [UInt8]? = nil,
                insecureSkipTLSVerify: Bool = false, tlsServerName: String? = nil, proxyURL: String? = nil, credentials: Credentials,
                source: String) {
        self.contextName = contextName
        self.server = server
        self.namespace = namespace
        self.certificateAuthority = certificateAuthority
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.tlsServerName = tlsServerName
        self.proxyURL = proxyURL
        self.credentials = credentials
        self.source = source
    }

    public enum Credentials: Sendable {
        case none
        case token(String)
        /// Re-read on each request, so a rotated token is picked up.
        case tokenFile(String)
        case clientCertificate(certificate: [UInt8], key: [UInt8])
        case basic(username: String, password: String)
        case exec(ExecPlugin)
    }
}

/// A kubeconfig `exec` credential plugin (client.authentication.k8s.io v1 or v1beta1).
public struct ExecPlugin: Sendable, Hashable {
    public var command: String
    public var arguments: [String]
    public var environment: [String: String]
    public var apiVersion: String
    public var installHint: String?
}

/// A kubeconfig that cannot be used, with the file and line when the problem is in one.
public struct KubeconfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// True when no cluster is configured at all (no kubeconfig file and no in-cluster service account), as
    /// opposed to one that is configured wrongly.
    public let nothingConfigured: Bool
    public init(_ description: String, nothingConfigured: Bool = false) {
        self.description = description
        self.nothingConfigured = nothingConfigured
    }
}

/// Reads kubeconfig files as kubectl does: the KUBECONFIG list merged (the first file that sets a name or the
/// current context wins), `--kubeconfig` instead when given, ~/.kube/config by default, and the in-cluster
/// service account when there is no file at all.
public enum Kubeconfig {
    public struct Options: Sendable {
        public var kubeconfig: String?
        public var context: String?
        public var namespace: String?
        public var variables: [String: String]
        /// Reads a file's text, nil when it does not exist (tests pass their own).
        public var readFile: @Sendable (String) -> String?

        public init(kubeconfig: String? = nil, context: String? = nil, namespace: String? = nil, variables: [String: String],
                    readFile: @escaping @Sendable (String) -> String? = Kubeconfig.readFile) {
            self.kubeconfig = kubeconfig
            self.context = context
            self.namespace = namespace
            self.variables = variables
            self.readFile = readFile
        }
    }

    /// The files to merge, in order.
    public static func files(_ options: Options) -> [String] {
        if let explicit = options.kubeconfig { return [explicit] }
        if let list = options.variables["KUBECONFIG"], !list.isEmpty { return list.split(separator: ":").map(String.init).filter { !$0.isEmpty } }
        return [(options.variables["HOME"] ?? "/root") + "/.kube/config"]
    }

    /// The names of the contexts in the merged kubeconfig files, sorted (for completion); unreadable files are skipped.
    public static func contextNames(_ options: Options) -> [String] {
        var names: Set<String> = []
        for file in files(options) {
            guard let text = options.readFile(file), let root = try? YAMLParser.parse(text, file: file).first?.root else { continue }
            for entry in root["contexts"]?.items ?? [] { if let name = entry["name"]?.scalarText { names.insert(name) } }
        }
        return names.sorted()
    }

    public static func resolve(_ options: Options) throws -> ClusterAccess {
        var clusters: [String: (YAMLNode, String)] = [:], users: [String: (YAMLNode, String)] = [:], contexts: [String: YAMLNode] = [:]
        var current: String?
        var found: [String] = []
        for file in files(options) {
            guard let text = options.readFile(file) else {
                if options.kubeconfig != nil { throw KubeconfigError("cannot read the kubeconfig \(file): no such file") }
                continue
            }
            found.append(file)
            let root: YAMLNode
            do {
                guard let parsed = try YAMLParser.parse(text, file: file).first?.root else { continue }
                root = parsed
            } catch {
                throw KubeconfigError("the kubeconfig \(error) (fix the file, or point --kubeconfig at another)")
            }
            let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
            for entry in root["clusters"]?.items ?? [] {
                if let name = entry["name"]?.scalarText, clusters[name] == nil, let cluster = entry["cluster"] { clusters[name] = (cluster, directory) }
            }
            for entry in root["users"]?.items ?? [] {
                if let name = entry["name"]?.scalarText, users[name] == nil, let user = entry["user"] { users[name] = (user, directory) }
            }
            for entry in root["contexts"]?.items ?? [] {
                if let name = entry["name"]?.scalarText, contexts[name] == nil, let context = entry["context"] { contexts[name] = context }
            }
            if current == nil, let name = root["current-context"]?.scalarText, !name.isEmpty { current = name }
        }
        if found.isEmpty, let inCluster = try inClusterAccess(options) { return inCluster }
        let shown = found.isEmpty ? files(options).joined(separator: ", ") : found.joined(separator: ", ")
        guard let contextName = options.context ?? current else {
            if found.isEmpty {
                throw KubeconfigError("no kubeconfig: \(shown) does not exist; set KUBECONFIG or --kubeconfig, or run `meshctl local up` for a local control plane",
                                      nothingConfigured: true)
            }
            throw KubeconfigError("no current context in \(shown); pass --context NAME (one of: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let context = contexts[contextName] else {
            throw KubeconfigError("context \"\(contextName)\" is not in \(shown) (it has: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        let clusterName = context["cluster"]?.scalarText ?? ""
        guard let (cluster, clusterDirectory) = clusters[clusterName] else {
            throw KubeconfigError("context \"\(contextName)\" names cluster \"\(clusterName)\", which \(shown) does not define")
        }
        guard let server = cluster["server"]?.scalarText, !server.isEmpty else {
            throw KubeconfigError("cluster \"\(clusterName)\" in \(shown) has no server")
        }
        var access = ClusterAccess(contextName: contextName, server: server.hasSuffix("/") ? String(server.dropLast()) : server,
                                   namespace: options.namespace ?? context["namespace"]?.scalarText ?? "default",
                                   certificateAuthority: nil, insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"]?.bool ?? false,
                                   tlsServerName: cluster["tls-server-name"]?.scalarText, proxyURL: cluster["proxy-url"]?.scalarText,
                                   credentials: .none, source: shown)
        access.certificateAuthority = try bytes(data: cluster["certificate-authority-data"], file: cluster["certificate-authority"],
                                                directory: clusterDirectory, what: "certificate-authority", options: options)
        if let userName = context["user"]?.scalarText, let (user, userDirectory) = users[userName] {
            access.credentials = try credentials(user, name: userName, directory: userDirectory, options: options)
        }
        return access
    }

    private static func credentials(_ user: YAMLNode, name: String, directory: String, options: Options) throws -> ClusterAccess.Credentials {
        if user["auth-provider"] != nil {
            let provider = user["auth-provider"]?["name"]?.scalarText ?? "?"
            throw KubeconfigError("user \"\(name)\" uses the \(provider) auth-provider, which meshctl does not support (kubectl dropped it too); "
                                  + "use an exec credential plugin (e.g. gke-gcloud-auth-plugin, kubelogin) instead")
        }
        if let exec = user["exec"] {
            guard let command = exec["command"]?.scalarText else { throw KubeconfigError("user \"\(name)\": exec has no command") }
            var environment: [String: String] = [:]
            for item in exec["env"]?.items ?? [] {
                if let key = item["name"]?.scalarText { environment[key] = item["value"]?.scalarText ?? "" }
            }
            return .exec(ExecPlugin(command: command, arguments: (exec["args"]?.items ?? []).compactMap(\.scalarText), environment: environment,
                                    apiVersion: exec["apiVersion"]?.scalarText ?? "client.authentication.k8s.io/v1",
                                    installHint: exec["installHint"]?.scalarText))
        }
        if let token = user["token"]?.scalarText, !token.isEmpty { return .token(token) }
        if let file = user["tokenFile"]?.scalarText, !file.isEmpty { return .tokenFile(path(file, in: directory)) }
        if let certificate = try bytes(data: user["client-certificate-data"], file: user["client-certificate"], directory: directory,
                                       what: "client-certificate", options: options) {
            guard let key = try bytes(data: user["client-key-data"], file: user["client-key"], directory: directory, what: "client-key", options: options) else {
                throw KubeconfigError("user \"\(name)\" has a client certificate but no client-key")
            }
            return .clientCertificate(certificate: certificate, key: key)
        }
        if let username = user["username"]?.scalarText {
            return .basic(username: username, password: user["password"]?.scalarText ?? "")
        }
        return .none
    }

    private static func bytes(data: YAMLNode?, file: YAMLNode?, directory: String, what: String, options: Options) throws -> [UInt8]? {
        if let text = data?.scalarText, !text.isEmpty {
            guard let decoded = Base64.decode(text) else { throw KubeconfigError("\(what)-data is not base64") }
            return decoded
        }
        if let name = file?.scalarText, !name.isEmpty {
            let full = path(name, in: directory)
            guard let text = options.readFile(full) else { throw KubeconfigError("cannot read \(what) file \(full)") }
            return Array(text.utf8)
        }
        return nil
    }

    private static func path(_ name: String, in directory: String) -> String {
        name.hasPrefix("/") ? name : "\(directory)/\(name)"
    }

    static let serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The pod's own service account, as client libraries use it inside a cluster.
    private static func inClusterAccess(_ options: Options) throws -> ClusterAccess? {
        guard let host = options.variables["KUBERNETES_SERVICE_HOST"], let port = options.variables["KUBERNETES_SERVICE_PORT"],
              options.readFile("\(serviceAccount)/token") != nil else { return nil }
        let hostText = host.contains(":") ? "[\(host)]" : host
        let namespace = options.readFile("\(serviceAccount)/namespace").map { $0.trimmed } ?? "default"
        return ClusterAccess(contextName: "in-cluster", server: "https://\(hostText):\(port)", namespace: options.namespace ?? namespace,
                             certificateAuthority: options.readFile("\(serviceAccount)/ca.crt").map { Array($0.utf8) },
                             insecureSkipTLSVerify: false, tlsServerName: nil, proxyURL: nil,
                             credentials: .tokenFile("\(serviceAccount)/token"), source: "in-cluster configuration")
    }

    /// A file's text, nil when it cannot be read.
    @Sendable public static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
