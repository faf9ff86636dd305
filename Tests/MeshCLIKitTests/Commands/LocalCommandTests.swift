import Foundation
import MeshTestSupport
import XCTest
import MeshNet
@testable import MeshCLIKit

/// `meshctl local` as a user runs it: the real binary in the background, the real kubectl against it.
final class LocalCommandTests: XCTestCase {
    func testUpStatusIdempotentUpAndDownPurge() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") else { throw XCTSkip("no kubectl at /usr/bin/kubectl on this machine") }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let kubeconfig = home.appendingPathComponent("config")
        try """
            apiVersion: v1
            kind: Config
            clusters: [{name: prod, cluster: {server: "https://prod.example.com"}}]
            users: [{name: prod, user: {token: keep-me}}]
            contexts: [{name: prod, context: {cluster: prod, user: prod}}]
            current-context: prod

            """.write(to: kubeconfig, atomically: true, encoding: .utf8)
        let environment = ["HOME": home.path, "KUBECONFIG": kubeconfig.path, "PATH": "/usr/bin:/bin"]
        let state = home.appendingPathComponent("state").path
        defer { _ = try? runProcess(binary, ["local", "down", "--state-dir", state], environment: environment) }

        // Without the ingress gateway, so the objects counted below are the start-up ones alone.
        let up = try runProcess(binary, ["local", "up", "--state-dir", state, "--ingress=false"], environment: environment)
        XCTAssertEqual(up.status, 0, up.stderr)
        XCTAssertFalse(up.stdout.contains("ingress:"), up.stdout)
        XCTAssertTrue(up.stdout.hasPrefix("local control plane up at https://127.0.0.1:"), up.stdout)
        let config = try String(contentsOf: kubeconfig, encoding: .utf8)
        XCTAssertTrue(config.contains("current-context: meshctl-local") && config.contains("keep-me"), config)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: kubeconfig.path)[.posixPermissions] as? Int, 0o600)
        for secret in ["token", "ca.key", "server.key", "store.db"] {
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: "\(state)/\(secret)")[.posixPermissions] as? Int, 0o600, secret)
        }

        let namespaces = try runProcess(URL(fileURLWithPath: "/usr/bin/kubectl"), ["get", "ns", "-L", "istio-injection", "--cache-dir", home.appendingPathComponent("cache").path],
                                        environment: environment)
        XCTAssertEqual(namespaces.status, 0, namespaces.stderr)
        XCTAssertTrue(namespaces.stdout.contains("istio-system"), namespaces.stdout)

        // Clients that speak plain HTTP to the TLS port and then reset must not take the server down.
        let port = try XCTUnwrap(Int(up.stdout.split(separator: ":")[2].prefix { $0.isNumber }))
        let server = try XCTUnwrap(Int32(String(contentsOfFile: "\(state)/meshctl-local.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let openBefore = openFileDescriptorCount(pid: server)
        for _ in 0..<20 { resetAfterJunk(port: port) }

        // `local up` asks the server whether it is ready, after the junk connections in the accept queue.
        let again = try runProcess(binary, ["local", "up", "--state-dir", state], environment: environment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("local control plane already up at"), again.stdout)
        XCTAssertTrue(eventually { openFileDescriptorCount(pid: server) <= openBefore }, "the server closed the 20 reset connections")

        let status = try runProcess(binary, ["local", "status", "--state-dir", state, "-o", "json"], environment: environment)
        XCTAssertEqual(status.status, 0, status.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["state"] as? String, "up")
        XCTAssertEqual(document["objects"] as? Int, 12, "4 namespaces, 2 ConfigMaps, the istiod Service with its Endpoints and EndpointSlice, the injector webhook, the node "
                       + "and the istiod pod that stands for the pilot")
        XCTAssertTrue((document["pilot"] as? String)?.hasPrefix("127.0.0.1:") == true, "\(document)")
        XCTAssertTrue(document["ingress"] is NSNull, "no gateway with --ingress=false: \(document)")

        // What the API acknowledged survives kill -9.
        let kubectl = URL(fileURLWithPath: "/usr/bin/kubectl")
        let cache = ["--cache-dir", home.appendingPathComponent("cache").path]
        let created = try runProcess(kubectl, ["apply", "-f", "-"] + cache, environment: environment,
                                     stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: durable, namespace: default}\ndata: {a: b}\n")
        XCTAssertEqual(created.status, 0, created.stderr)
        let pid = server
        kill(pid, SIGKILL)
        XCTAssertTrue(eventually { kill(pid, 0) != 0 }, "the killed server is gone")
        let restarted = try runProcess(binary, ["local", "up", "--state-dir", state, "--ingress=false"], environment: environment)
        XCTAssertEqual(restarted.status, 0, restarted.stderr)
        XCTAssertTrue(restarted.stdout.hasPrefix("local control plane up at"), restarted.stdout)
        let kept = try runProcess(kubectl, ["get", "configmap", "durable", "-o", "jsonpath={.data.a}"] + cache, environment: environment)
        XCTAssertEqual(kept.stdout, "b", kept.stderr)

        let down = try runProcess(binary, ["local", "down", "--purge", "--state-dir", state], environment: environment)
        XCTAssertEqual(down.status, 0, down.stderr)
        XCTAssertTrue(down.stdout.hasPrefix("local control plane stopped"), down.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state))
        let after = try String(contentsOf: kubeconfig, encoding: .utf8)
        XCTAssertFalse(after.contains("meshctl-local"), after)
        XCTAssertTrue(after.contains("keep-me"), after)
    }

    /// Connects, sends bytes that are not TLS, and closes with a reset.
    private func resetAfterJunk(port: Int) {
        guard let fd = try? LoopbackSocket.connect(port: port) else { return }
        defer { close(fd) }
        _ = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var linger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
    }
}

/// Local mode's pods are processes of the background server: `local down` stops them all, `local up` brings them
/// back, and a server killed with SIGKILL leaves none behind once `local down` has run.
final class LocalWorkloadProcessTests: XCTestCase {
    /// The processes that carry the pod marker of `state`.
    func podProcesses(_ state: String) -> [Int32] {
        let needle = "MESHCTL_LOCAL_STATE=\(URL(fileURLWithPath: state).standardizedFileURL.path)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { return nil }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == needle } ? pid : nil
        }
    }

    func testDownLeavesNothingRunningAndUpBringsThePodsBack() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") else { throw XCTSkip("no kubectl at /usr/bin/kubectl on this machine") }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-pods-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let environment = ["HOME": home.path, "KUBECONFIG": home.appendingPathComponent("config").path, "PATH": "/usr/bin:/bin"]
        let state = home.appendingPathComponent("state").path
        defer { _ = try? runProcess(binary, ["local", "down", "--state-dir", state], environment: environment) }
        let kubectl = URL(fileURLWithPath: "/usr/bin/kubectl")
        let cache = ["--cache-dir", home.appendingPathComponent("cache").path]

        // No ingress gateway: the pod processes counted below are the sleepers' alone.
        XCTAssertEqual(try runProcess(binary, ["local", "up", "--state-dir", state, "--ingress=false"], environment: environment).status, 0)
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: sleeper, namespace: default}
            spec:
              replicas: 2
              selector: {matchLabels: {app: sleeper}}
              template:
                metadata: {labels: {app: sleeper}}
                spec:
                  containers: [{name: main, image: meshctl/exec, command: [sh, -c, "sleep 600 & wait"]}]

            """
        XCTAssertEqual(try runProcess(kubectl, ["apply", "-f", "-"] + cache, environment: environment, stdin: deployment).status, 0)
        let rollout = try runProcess(kubectl, ["rollout", "status", "deployment/sleeper", "--timeout=60s"] + cache, environment: environment)
        XCTAssertEqual(rollout.status, 0, rollout.stdout + rollout.stderr)
        // Each pod: sh and its sleep.
        XCTAssertTrue(eventually(timeout: 10) { self.podProcesses(state).count == 4 }, "\(podProcesses(state))")

        let down = try runProcess(binary, ["local", "down", "--state-dir", state], environment: environment)
        XCTAssertEqual(down.status, 0, down.stderr)
        XCTAssertEqual(podProcesses(state), [], "no pod process outlives local down")

        XCTAssertEqual(try runProcess(binary, ["local", "up", "--state-dir", state, "--ingress=false"], environment: environment).status, 0)
        let again = try runProcess(kubectl, ["rollout", "status", "deployment/sleeper", "--timeout=60s"] + cache, environment: environment)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(eventually(timeout: 10) { self.podProcesses(state).count == 4 }, "the pods run again after local up")

        // A server killed outright cannot stop its pods: local down finds and ends them.
        let server = try XCTUnwrap(Int32(String(contentsOfFile: "\(state)/meshctl-local.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(server, SIGKILL)
        XCTAssertTrue(eventually { kill(server, 0) != 0 })
        XCTAssertEqual(podProcesses(state).count, 4)
        let cleanup = try runProcess(binary, ["local", "down", "--state-dir", state], environment: environment)
        XCTAssertEqual(cleanup.status, 0, cleanup.stderr)
        XCTAssertTrue(eventually(timeout: 5) { self.podProcesses(state).isEmpty }, "\(podProcesses(state))")
    }
}

/// `local up --foreground`: serves in the terminal's process until Ctrl-C or SIGTERM, then stops cleanly.
final class LocalForegroundTests: XCTestCase {
    func testForegroundServesUntilSIGTERM() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-fg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let state = home.appendingPathComponent("state").path
        let process = Process()
        process.executableURL = binary
        process.arguments = ["local", "up", "--foreground", "--state-dir", state]
        process.environment = ["HOME": home.path, "KUBECONFIG": home.appendingPathComponent("config").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer { if process.isRunning { process.interrupt() } }
        XCTAssertTrue(eventually(timeout: 15) { FileManager.default.fileExists(atPath: "\(state)/endpoint") }, "the server wrote its endpoint")
        let status = try runProcess(binary, ["local", "status", "--state-dir", state], environment: ["HOME": home.path])
        XCTAssertTrue(status.stdout.hasPrefix("local control plane: up"), status.stdout + status.stderr)
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("local control plane up at https://127.0.0.1:") && text.contains("stopping (signal 15)"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(state)/meshctl-local.pid"), "the pid file goes with the server")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(state)/store.db"), "the state stays")
    }
}

/// Several state directories: each its own context, each found by `local status`, none overwriting another.
final class LocalStateDirectoryTests: XCTestCase {
    func testTwoStateDirectoriesKeepTheirOwnContexts() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-two-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let kubeconfig = home.appendingPathComponent("config")
        let environment = ["HOME": home.path, "KUBECONFIG": kubeconfig.path]
        let other = home.appendingPathComponent("team-b").path
        defer {
            _ = try? runProcess(binary, ["local", "down"], environment: environment)
            _ = try? runProcess(binary, ["local", "down", "--state-dir", other], environment: environment)
        }

        let first = try runProcess(binary, ["local", "up"], environment: environment)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("context \"meshctl-local\" is current"), first.stdout)
        let second = try runProcess(binary, ["local", "up", "--state-dir", other], environment: environment)
        XCTAssertEqual(second.status, 0, second.stderr)
        let contextName = "meshctl-local-team-b-" + LocalMode.shortHash(URL(fileURLWithPath: other).standardizedFileURL.path)
        XCTAssertTrue(second.stdout.contains("context \"\(contextName)\" is current"), second.stdout)
        let config = try String(contentsOf: kubeconfig, encoding: .utf8)
        XCTAssertTrue(config.contains("name: meshctl-local\n") && config.contains("name: \(contextName)\n"), "both contexts stay: \(config)")

        let status = try runProcess(binary, ["local", "status"], environment: environment)
        XCTAssertTrue(status.stdout.hasPrefix("local control plane: up"), status.stdout)
        XCTAssertTrue(status.stdout.contains("also running: https://127.0.0.1:") && status.stdout.contains(other), status.stdout)

        let down = try runProcess(binary, ["local", "down"], environment: environment)
        XCTAssertTrue(down.stdout.contains("context \"meshctl-local\" is kept for the next `meshctl local up`"), down.stdout)
        let afterDown = try runProcess(binary, ["local", "status", "-o", "json"], environment: environment)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(afterDown.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["state"] as? String, "down")
        XCTAssertEqual((document["othersRunning"] as? [[String: Any]])?.first?["context"] as? String, contextName,
                       "the default one is down, and the other one is still found")

        // Purging the default one removes its context only: meshctl-local is a prefix of the other's name.
        let purged = try runProcess(binary, ["local", "down", "--purge"], environment: environment)
        XCTAssertTrue(purged.stdout.contains("removed the meshctl-local context"), purged.stdout)
        let again = try runProcess(binary, ["local", "down", "--purge"], environment: environment)
        XCTAssertFalse(again.stdout.contains("removed the"), "nothing left to remove: \(again.stdout)")
        XCTAssertTrue(try String(contentsOf: kubeconfig, encoding: .utf8).contains("name: \(contextName)\n"))
    }

    func testAnIngressPortInUseFailsTheStart() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        let home = try LocalModeHome("ingress-taken")
        defer { home.finish() }
        // Something else listens on the port asked for.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        XCTAssertEqual(withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }, 0)
        XCTAssertEqual(listen(fd, 1), 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let taken = Int(UInt16(bigEndian: address.sin_port))

        let up = try home.meshctl(["local", "up", "--state-dir", home.state, "--ingress-port", String(taken)])
        XCTAssertEqual(up.status, 1, up.stdout)
        XCTAssertTrue(up.stderr.contains("--ingress-port \(taken): 127.0.0.1:\(taken) is in use on this machine; give a free port, or 0 for any free one"),
                      up.stderr)
    }

    func testStateDirectoryProblemsAreNamed() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let environment = ["HOME": home.path, "KUBECONFIG": home.appendingPathComponent("config").path]

        let file = home.appendingPathComponent("a-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let onFile = try runProcess(binary, ["local", "up", "--state-dir", file.path], environment: environment)
        XCTAssertEqual(onFile.status, 1)
        XCTAssertEqual(onFile.stderr, "error: the state directory \(file.path) is a file, not a directory: pass --state-dir a directory (it is made when missing)\n")

        let state = home.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try String(repeating: "not a database ", count: 400).write(to: state.appendingPathComponent("store.db"), atomically: true, encoding: .utf8)
        let corrupt = try runProcess(binary, ["local", "up", "--foreground", "--state-dir", state.path], environment: environment)
        XCTAssertEqual(corrupt.status, 1)
        XCTAssertTrue(corrupt.stderr.hasPrefix("error: cannot open the local store \(state.path)/store.db: "), corrupt.stderr)

        // The log of earlier runs stays when the server starts again.
        try FileManager.default.removeItem(at: state.appendingPathComponent("store.db"))
        try "an earlier run\n".write(to: state.appendingPathComponent("meshctl-local.log"), atomically: true, encoding: .utf8)
        defer { _ = try? runProcess(binary, ["local", "down", "--state-dir", state.path], environment: environment) }
        let up = try runProcess(binary, ["local", "up", "--state-dir", state.path], environment: environment)
        XCTAssertEqual(up.status, 0, up.stderr)
        let log = try String(contentsOf: state.appendingPathComponent("meshctl-local.log"), encoding: .utf8)
        XCTAssertTrue(log.hasPrefix("an earlier run\n") && log.contains("serving the Kubernetes API"), log)
    }
}
