import Foundation
import KubeClient
import Manifests
@testable import MeshControlPlane
import MeshTestSupport
import XCTest
@testable import MeshCLIKit

/// `meshctl local curl` and the echo app as processes, against `meshctl local up` and the real kubectl.
final class LocalCurlCommandTests: XCTestCase {
    func testCurlReachesAServiceByNameAndSpreadsOverItsPods() throws {
        let binary = TestPaths.meshctlBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("meshctl was not built at \(binary.path)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") else { throw XCTSkip("no kubectl at /usr/bin/kubectl on this machine") }
        let home = try LocalModeHome("curl")
        defer { home.finish() }
        let state = home.state
        let up = try home.meshctl(["local", "up", "--state-dir", state])
        XCTAssertEqual(up.status, 0, up.stderr)

        let base = freshLoopbackAddress().split(separator: ".").prefix(3).joined(separator: ".")
        let port = Int.random(in: 20_000...40_000)
        let pods = [try EchoProcess(name: "echo-v1-a", address: "\(base).1", port: port, environment: ["POD_VERSION": "v1"]),
                    try EchoProcess(name: "echo-v1-b", address: "\(base).2", port: port, environment: ["POD_VERSION": "v1"])]
        defer { pods.forEach { $0.stop() } }
        // Services without a selector, so their Endpoints are this test's to write, as a controller would.
        let manifest = """
            apiVersion: v1
            kind: Service
            metadata: {name: echo, namespace: default}
            spec: {ports: [{name: http, port: 8080, targetPort: http}]}
            ---
            apiVersion: v1
            kind: Endpoints
            metadata: {name: echo, namespace: default}
            subsets: [{addresses: [{ip: "\(base).1"}, {ip: "\(base).2"}], ports: [{name: http, port: \(port)}]}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: idle, namespace: default}
            spec: {ports: [{port: 8081}]}

            """
        let applied = try home.kubectl(["apply", "-f", "-"], stdin: manifest)
        XCTAssertEqual(applied.status, 0, applied.stderr)

        func curl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try home.meshctl(["local", "curl", "--state-dir", state] + arguments)
        }
        XCTAssertTrue(try eventually(timeout: 15) { try curl(["http://echo:8080/"]).status == 0 }, "the Service answers once forwarded")
        var answered: [String] = []
        for _ in 0..<4 {
            let result = try curl(["echo.default.svc.cluster.local:8080/hello"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("request=GET /hello HTTP/1.1\n") && result.stdout.contains("version=v1\n"), result.stdout)
            answered += result.stdout.split(separator: "\n").filter { $0.hasPrefix("pod=") }.map(String.init)
        }
        XCTAssertEqual(Set(answered), ["pod=echo-v1-a", "pod=echo-v1-b"], "spread over both pods")

        let verbose = try curl(["-v", "-H", "X-Probe: 1", "http://echo.default:8080/headers"])
        XCTAssertEqual(verbose.status, 0, verbose.stderr)
        XCTAssertTrue(verbose.stderr.contains("> X-Probe: 1\n") && verbose.stderr.contains("< HTTP/1.1 200 OK\n"), verbose.stderr)
        XCTAssertTrue(verbose.stdout.contains("X-Probe: 1\n") && !verbose.stdout.contains("< HTTP"), "the body alone on stdout: \(verbose.stdout)")

        let posted = try curl(["-d", "a=1", "http://echo:8080/form"])
        XCTAssertTrue(posted.stdout.contains("request=POST /form HTTP/1.1") && posted.stdout.contains("header=Content-Length: 3"), posted.stdout)
        XCTAssertEqual(try curl(["http://echo:8080/status/503"]).status, 0, "any HTTP answer is a success without --fail")
        let failed = try curl(["--fail", "http://echo:8080/status/503"])
        XCTAssertEqual(failed.status, 22)
        XCTAssertTrue(failed.stderr.contains("returned error: 503") && failed.stdout.isEmpty, failed.stderr)

        let unknown = try curl(["http://nothere:8080/"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no Service nothere in namespace default"), unknown.stderr)
        XCTAssertEqual(try curl(["-n", "istio-system", "http://echo:8080/"]).status, 1, "short names are the namespace's")
        XCTAssertEqual(try curl(["-n", "istio-system", "http://echo.default:8080/"]).status, 0)
        let refused = try curl(["http://idle:8081/"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("Connection refused"), "no ready endpoint: \(refused.stderr)")
        let outside = try curl(["http://api.example.invalid/"])
        XCTAssertEqual(outside.status, 1, outside.stderr)
        let usage = try curl(["https://echo:8080/"])
        XCTAssertEqual(usage.status, 64, usage.stderr)
        XCTAssertTrue(pods.allSatisfy { $0.output.contains("\"GET /hello HTTP/1.1\" 200 ") }, "each pod logged its requests")
    }

    /// --from sends from a pod's address, found in the store by pod name or Deployment; this control plane runs only
    /// its service proxy, so the pods are as written here.
    func testFromAPodOrDeploymentSendsFromItsAddress() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-from-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let plane = try LocalControlPlane(stateDirectory: directory, port: 0)
        try plane.serviceProxy.start()
        defer { plane.serviceProxy.stop() }
        let base = freshLoopbackAddress().split(separator: ".").prefix(3).joined(separator: ".")
        let port = Int.random(in: 20_000...40_000)
        let echo = try EchoProcess(name: "web-0", address: "\(base).1", port: port)
        defer { echo.stop() }
        let store = plane.api.store
        func put(_ resource: String, _ name: String, _ json: String) throws {
            _ = try store.create(resource, namespace: "default", name: name) { _ in try! JSONValue.parse(json) }
        }
        try put("services", "web", #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"\#(base).200","ports":[{"port":\#(port)}]}}"#)
        try put("endpoints", "web", #"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web","namespace":"default"},"subsets":[{"addresses":[{"ip":"\#(base).1"}],"ports":[{"port":\#(port)}]}]}"#)
        try put("pods", "sleep-1", #"{"metadata":{"name":"sleep-1","namespace":"default","labels":{"app":"sleep"}},"status":{"phase":"Running","podIP":"\#(base).9","conditions":[{"type":"Ready","status":"True"}]}}"#)
        try put("pods", "pending", #"{"metadata":{"name":"pending","namespace":"default"},"status":{"phase":"Pending"}}"#)
        try put("deployments.apps", "sleep", #"{"metadata":{"name":"sleep","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":"sleep"}}}}"#)
        XCTAssertTrue(eventually { (try? String(contentsOf: plane.paths.names, encoding: .utf8))?.contains("web.default.svc.cluster.local") == true })
        // The names file can list the Service before its endpoints are read and its cluster IP forwards.
        XCTAssertTrue(eventually { runMeshctl(["local", "curl", "--state-dir", directory.path, "http://web:\(port)/"]).exitCode == .success },
                      "the Service's cluster IP forwards to the pod")

        for from in ["sleep-1", "pod/sleep-1", "deploy/sleep"] {
            let run = runMeshctl(["local", "curl", "--state-dir", directory.path, "--from", from, "http://web:\(port)/"])
            XCTAssertEqual(run.exitCode, .success, run.stderr)
            XCTAssertTrue(run.stdout.contains("client=\(base).9:") && run.stdout.contains("pod=web-0"), "\(from): \(run.stdout)")
        }
        let pending = runMeshctl(["local", "curl", "--state-dir", directory.path, "--from", "pending", "http://web:\(port)/"])
        XCTAssertEqual(pending.exitCode, .failure)
        XCTAssertTrue(pending.stderr.contains("pod default/pending has no IP address yet (phase Pending)"), pending.stderr)
        let missing = runMeshctl(["local", "curl", "--state-dir", directory.path, "--from", "deploy/nope", "http://web:\(port)/"])
        XCTAssertTrue(missing.exitCode == .failure && missing.stderr.contains("deployment nope not found in namespace default"), missing.stderr)
        let down = runMeshctl(["local", "curl", "--state-dir", directory.appendingPathComponent("none").path, "http://web/"])
        XCTAssertTrue(down.exitCode == .failure && down.stderr.contains("meshctl local up"), down.stderr)
    }
}

/// `meshctl x echo` as a process: it stops on SIGTERM only after answering what it was answering.
final class EchoCommandTests: XCTestCase {
    func testSIGTERMFinishesTheRequestUnderWayAndExitsZero() throws {
        let address = freshLoopbackAddress(), port = Int.random(in: 20_000...40_000)
        let echo = try EchoProcess(name: "drain", address: address, port: port)
        let client = try LoopbackClient(address: address, port: port)
        try client.send("GET /delay/700ms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(eventually { serverHasReadEverything(server: address, port: port, clientPort: client.localPort) }, "the echo read the request")
        kill(echo.process.processIdentifier, SIGTERM)
        XCTAssertTrue(eventually { (try? LoopbackClient(address: address, port: port)) == nil }, "no new connections after SIGTERM")
        let answer = client.readUntilClosed(timeout: 10)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK") && answer.contains("pod=drain"), answer)
        echo.process.waitUntilExit()
        XCTAssertEqual(echo.process.terminationStatus, 0)
        XCTAssertTrue(echo.output.contains("echo: stopped (signal 15)"), echo.output)
    }

    func testSettingsThatCannotBeUsedAreRefusedAtStartSayingWhy() throws {
        let result = try runProcess(TestPaths.meshctlBinary, ["x", "echo"], environment: ["ECHO_PROTOCOL": "grpc", "ECHO_TLS": "true", "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(result.status, 65)
        XCTAssertTrue(result.stderr.contains("ECHO_TLS=true") && result.stderr.contains("cleartext only"), result.stderr)
        let bad = try runProcess(TestPaths.meshctlBinary, ["x", "echo"], environment: ["ECHO_ERROR_RATE": "lots", "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(bad.status, 65)
        XCTAssertTrue(bad.stderr.contains("ECHO_ERROR_RATE=lots"), bad.stderr)
    }
}
