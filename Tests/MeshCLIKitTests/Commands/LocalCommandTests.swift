import Foundation
import XCTest
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

        let up = try runProcess(binary, ["local", "up", "--state-dir", state], environment: environment)
        XCTAssertEqual(up.status, 0, up.stderr)
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

        let again = try runProcess(binary, ["local", "up", "--state-dir", state], environment: environment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("local control plane already up at"), again.stdout)

        let status = try runProcess(binary, ["local", "status", "--state-dir", state, "-o", "json"], environment: environment)
        XCTAssertEqual(status.status, 0, status.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["state"] as? String, "up")
        XCTAssertEqual(document["objects"] as? Int, 7, "4 namespaces, 2 ConfigMaps and the injector webhook")

        let down = try runProcess(binary, ["local", "down", "--purge", "--state-dir", state], environment: environment)
        XCTAssertEqual(down.status, 0, down.stderr)
        XCTAssertTrue(down.stdout.hasPrefix("local control plane stopped"), down.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state))
        let after = try String(contentsOf: kubeconfig, encoding: .utf8)
        XCTAssertFalse(after.contains("meshctl-local"), after)
        XCTAssertTrue(after.contains("keep-me"), after)
    }
}
