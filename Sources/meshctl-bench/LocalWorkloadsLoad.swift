import Foundation
import KubeClient
import Manifests
#if canImport(Glibc)
import Glibc
#endif

/// Local mode running pods (`meshctl local serve` in its own process): how fast 100 pods of one Deployment start
/// and become ready, and the memory each pod's process takes. Pods that run `sleep` (local mode's own cost:
/// controllers, kubelet, status writes), `meshctl/exec` pods running python's HTTP server with a readiness probe,
/// and echo pods (`meshctl/echo`, issue 16's rows) when this meshctl has the echo app (`meshctl x echo`).
enum LocalWorkloadsLoad {
    static let pods = 100

    static func run(meshctl: String, workdir: String) throws -> [Row] {
        let sleeper = #"{"name":"sleep","image":"meshctl/exec","command":["sleep","3600"]}"#
        let python = #"{"name":"web","image":"meshctl/exec","command":["python3","-m","http.server","--bind","$(POD_IP)","$(PORT)"],"ports":[{"containerPort":8080}],"readinessProbe":{"tcpSocket":{"port":8080},"periodSeconds":1}}"#
        let echo = #"{"name":"echo","image":"meshctl/echo","ports":[{"containerPort":8080}],"readinessProbe":{"tcpSocket":{"port":8080},"periodSeconds":1}}"#
        var rows = try run(meshctl: meshctl, workdir: workdir, container: sleeper, kind: "meshctl/exec pods running sleep")
        rows += try run(meshctl: meshctl, workdir: workdir, container: python, kind: "meshctl/exec pods (python3 -m http.server)")
        if hasEcho(meshctl) {
            rows += try run(meshctl: meshctl, workdir: workdir, container: echo, kind: "meshctl/echo pods")
        } else {
            rows.append(Row(benchmark: "local mode: meshctl/echo pods", result: "-", reference: "-", note: "this meshctl has no echo app (meshctl x echo)"))
        }
        return rows
    }

    static func run(meshctl: String, workdir: String, container: String, kind: String) throws -> [Row] {
        let state = URL(fileURLWithPath: workdir).appendingPathComponent("pods-\(getpid())")
        try? FileManager.default.removeItem(at: state)
        defer { try? FileManager.default.removeItem(at: state) }
        let (server, url) = try LocalAPILoad.startServer(meshctl: meshctl, state: state)
        defer { server.terminate(); server.waitUntilExit() }
        let token = try String(contentsOf: state.appendingPathComponent("token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = try CurlClient(certificateAuthorities: Array(try Data(contentsOf: state.appendingPathComponent("ca.crt"))))
        let headers = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]

        let deployment = #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"load"},"spec":{"replicas":\#(pods),"#
            + #""strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"100%"}},"selector":{"matchLabels":{"app":"load"}},"#
            + #""template":{"metadata":{"labels":{"app":"load"}},"spec":{"containers":[\#(container)]}}}}"#
        var ready = 0
        let startTime = try seconds {
            _ = try client.perform(HTTPClientRequest(method: "POST", url: url + "/apis/apps/v1/namespaces/default/deployments", headers: headers,
                                                     body: Array(deployment.utf8)))
            let limit = Date().addingTimeInterval(300)
            while ready < pods && Date() < limit {
                let answer = try client.perform(HTTPClientRequest(url: url + "/apis/apps/v1/namespaces/default/deployments/load", headers: headers))
                ready = (try? JSONValue.parse(answer.body))?["status"]?["readyReplicas"]?.int ?? 0
                if ready < pods { usleep(50_000) }
            }
        }
        // Each pod's processes (found by the marker local mode puts in their environment), their resident memory.
        let marker = "MESHCTL_LOCAL_STATE=\(state.standardizedFileURL.path)"
        var total = 0.0, processes = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
                  environ.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == marker }) else { continue }
            total += LocalAPILoad.residentMB(pid)
            processes += 1
        }
        return [
            Row(benchmark: "local mode: start \(pods) \(kind), apply to all ready", result: String(format: "%.1f pods/s", Double(ready) / startTime),
                reference: String(format: "%d ready in %.1f s", ready, startTime), note: "maxSurge 100%; ready: running, and its probe (if any) passed"),
            Row(benchmark: "local mode: RSS per pod process (\(kind))", result: String(format: "%.1f MB", processes == 0 ? .nan : total / Double(processes)),
                reference: String(format: "%.0f MB for %d processes", total, processes), note: "the server's own RSS: \(String(format: "%.0f MB", LocalAPILoad.residentMB(server.processIdentifier)))"),
        ]
    }

    /// Whether this meshctl runs the echo app (`meshctl x echo` exists).
    static func hasEcho(_ meshctl: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: meshctl)
        process.arguments = ["x", "echo", "--help"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
