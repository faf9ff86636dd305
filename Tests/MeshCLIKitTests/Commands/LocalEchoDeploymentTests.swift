import Foundation
import MeshTestSupport
import XCTest

/// Issue 16's end to end: a Deployment of the built-in echo app applied with the real kubectl runs as local processes,
/// `meshctl local curl` reaches its Service by name and spreads over the pods, scaling changes who answers, the pods'
/// own calls resolve Service names, and deleting the Deployment stops the processes.
final class LocalEchoDeploymentTests: XCTestCase {
    func testAnEchoDeploymentRunsAndItsServiceAnswersByName() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") else { throw XCTSkip("no kubectl at /usr/bin/kubectl on this machine") }
        let home = try LocalModeHome("echo-deploy")
        defer { home.finish() }
        let up = try home.meshctl(["local", "up", "--state-dir", home.state])
        XCTAssertEqual(up.status, 0, up.stderr)
        func kubectlRun(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
            try home.kubectl(arguments, stdin: stdin)
        }
        func curl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try home.meshctl(["local", "curl", "--state-dir", home.state] + arguments)
        }
        let manifest = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: hello, namespace: default}
            spec:
              replicas: 2
              selector: {matchLabels: {app: hello}}
              template:
                metadata: {labels: {app: hello, version: v1}}
                spec:
                  containers:
                  - name: echo
                    image: meshctl/echo:latest
                    ports: [{name: http, containerPort: 8080}]
                    readinessProbe: {httpGet: {path: /status/200, port: http}, periodSeconds: 1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: hello, namespace: default}
            spec:
              selector: {app: hello}
              ports: [{name: http, port: 80, targetPort: http}]

            """
        let applied = try kubectlRun(["apply", "-f", "-"], stdin: manifest)
        XCTAssertEqual(applied.status, 0, applied.stderr)
        let rollout = try kubectlRun(["rollout", "status", "deployment/hello", "--timeout=90s"])
        XCTAssertEqual(rollout.status, 0, rollout.stdout + rollout.stderr)

        let pods = try kubectlRun(["get", "pods", "-l", "app=hello", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{\"\\n\"}{end}"])
        let rows = pods.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows.count, 2, pods.stdout + pods.stderr)
        XCTAssertTrue(rows.allSatisfy { $0.count == 2 && $0[0].hasPrefix("hello-") && $0[1].hasPrefix("127.") }, pods.stdout)

        // Through the Service's cluster IP by name, spread over both pods.
        XCTAssertTrue(try eventually(timeout: 30) { try curl(["http://hello/"]).status == 0 }, "the Service answers")
        var answered = Set<String>()
        for _ in 0..<6 {
            let result = try curl(["http://hello.default.svc.cluster.local/where"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("version=v1\n"), result.stdout)
            answered.formUnion(result.stdout.split(separator: "\n").filter { $0.hasPrefix("pod=") }.map(String.init))
        }
        XCTAssertEqual(answered, Set(rows.map { "pod=\($0[0])" }), "round robin over the ready pods")

        // A pod's own call resolves the Service name from the environment the kubelet gave it.
        let call = try curl(["http://hello/call?url=http://hello.default/inner"])
        XCTAssertEqual(call.status, 0, call.stderr)
        XCTAssertTrue(call.stdout.contains("GET /inner HTTP/1.1"), call.stdout)

        // kubectl logs shows the echo app's request lines.
        let logs = try kubectlRun(["logs", "deployment/hello"])
        XCTAssertEqual(logs.status, 0, logs.stderr)
        XCTAssertTrue(logs.stdout.contains("GET /"), logs.stdout)

        // Scaling changes the endpoints behind the Service.
        XCTAssertEqual(try kubectlRun(["scale", "deployment/hello", "--replicas=1"]).status, 0)
        XCTAssertTrue(try eventually(timeout: 60) {
            let endpoints = try kubectlRun(["get", "endpoints", "hello", "-o", "jsonpath={.subsets[*].addresses[*].ip}"])
            return endpoints.stdout.split(separator: " ").count == 1
        }, "one endpoint after scaling to 1")

        // Deleting the Deployment stops its processes: the Service then refuses.
        XCTAssertEqual(try kubectlRun(["delete", "deployment", "hello"]).status, 0)
        XCTAssertTrue(try eventually(timeout: 60) { try curl(["http://hello/"]).status == 1 }, "no pod answers once deleted")
        for row in rows {
            XCTAssertTrue(eventually(timeout: 30) { !Self.processRunning(withEnvironment: "POD_NAME=\(row[0])") }, "\(row[0]) stopped")
        }
    }

    /// Whether a process of this user has `entry` in its environment (how a pod's process is recognised).
    private static func processRunning(withEnvironment entry: String) -> Bool {
        let needle = Array(entry.utf8)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(name) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
            if data.split(separator: 0).contains(where: { Array($0) == needle }) { return true }
        }
        return false
    }
}
