import Foundation
import XCTest
@testable import KubeClient

final class KubeconfigTests: XCTestCase {
    private func options(_ files: [String: String], variables: [String: String], context: String? = nil) -> Kubeconfig.Options {
        Kubeconfig.Options(context: context, variables: variables, readFile: { files[$0] })
    }

    let first = """
        clusters:
        - name: prod
          cluster: {server: "https://prod.example.com/", certificate-authority: ca.pem}
        users:
        - name: alice
          user: {tokenFile: token.txt}
        contexts:
        - name: prod
          context: {cluster: prod, user: alice, namespace: shop}
        current-context: prod
        """
    let second = """
        clusters:
        - name: prod
          cluster: {server: "https://ignored.example.com"}
        - name: dev
          cluster: {server: "https://dev.example.com", insecure-skip-tls-verify: true}
        users:
        - name: bob
          user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
        - name: carol
          user: {auth-provider: {name: gcp}}
        contexts:
        - name: dev
          context: {cluster: dev, user: bob}
        - name: old
          context: {cluster: dev, user: carol}
        current-context: dev
        """

    func testMergesTheKubeconfigListFirstFileWins() throws {
        let files = ["/a/config": first, "/b/config": second, "/a/ca.pem": "PEM", "/a/token.txt": "tok\n"]
        let access = try Kubeconfig.resolve(options(files, variables: ["KUBECONFIG": "/a/config:/b/config"]))
        XCTAssertEqual(access.contextName, "prod")
        XCTAssertEqual(access.server, "https://prod.example.com")
        XCTAssertEqual(access.namespace, "shop")
        XCTAssertEqual(access.certificateAuthority, Array("PEM".utf8), "relative paths are read beside their kubeconfig")
        guard case .tokenFile("/a/token.txt") = access.credentials else { return XCTFail("\(access.credentials)") }

        let dev = try Kubeconfig.resolve(options(files, variables: ["KUBECONFIG": "/a/config:/b/config"], context: "dev"))
        XCTAssertTrue(dev.insecureSkipTLSVerify)
        XCTAssertEqual(dev.namespace, "default")
        guard case .clientCertificate(Array("CERT".utf8), Array("KEY".utf8)) = dev.credentials else { return XCTFail("\(dev.credentials)") }
    }

    func testProblemsNameWhatToFix() {
        let files = ["/b/config": second, "/bad/config": "clusters: [\n  - name: x\n    bad: : :\n"]
        XCTAssertThrowsError(try Kubeconfig.resolve(options(files, variables: ["KUBECONFIG": "/b/config"], context: "old"))) {
            XCTAssertTrue("\($0)".contains("gcp auth-provider") && "\($0)".contains("exec credential plugin"), "\($0)")
        }
        XCTAssertThrowsError(try Kubeconfig.resolve(options(files, variables: ["KUBECONFIG": "/b/config"], context: "nope"))) {
            XCTAssertEqual("\($0)", "context \"nope\" is not in /b/config (it has: dev, old)")
        }
        XCTAssertThrowsError(try Kubeconfig.resolve(options(files, variables: ["KUBECONFIG": "/bad/config"]))) {
            XCTAssertTrue("\($0)".contains("/bad/config:2:3: YAML syntax error"), "a malformed file is named with its line: \($0)")
        }
        XCTAssertThrowsError(try Kubeconfig.resolve(options([:], variables: ["HOME": "/h"]))) {
            XCTAssertTrue("\($0)".contains("/h/.kube/config does not exist") && "\($0)".contains("meshctl local up"), "\($0)")
        }
    }

    func testInClusterServiceAccount() throws {
        let account = Kubeconfig.serviceAccount
        let files = ["\(account)/token": "sa-token", "\(account)/namespace": "mesh\n", "\(account)/ca.crt": "CA"]
        let access = try Kubeconfig.resolve(options(files, variables: ["HOME": "/h", "KUBERNETES_SERVICE_HOST": "10.0.0.1",
                                                                        "KUBERNETES_SERVICE_PORT": "443"]))
        XCTAssertEqual(access.server, "https://10.0.0.1:443")
        XCTAssertEqual(access.namespace, "mesh")
        XCTAssertEqual(access.source, "in-cluster configuration")
    }

    func testExecPluginRunsOnceUntilItsCredentialExpires() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("plugin.sh")
        let counter = directory.appendingPathComponent("count")
        try """
            #!/bin/sh
            echo run >> "\(counter.path)"
            [ "$FAIL" = 1 ] && { echo "login required: run the-cloud login" >&2; exit 3; }
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin-%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}' "$SUFFIX"
            """.write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        let plugin = ExecPlugin(command: script.path, arguments: [], environment: ["SUFFIX": "x"], apiVersion: "client.authentication.k8s.io/v1",
                                installHint: nil)
        let credentials = ExecCredentials()
        XCTAssertEqual(try credentials.credential(for: plugin, server: "https://s", variables: ["PATH": "/usr/bin:/bin"]).token, "from-plugin-x")
        XCTAssertEqual(try credentials.credential(for: plugin, server: "https://s", variables: ["PATH": "/usr/bin:/bin"]).token, "from-plugin-x")
        XCTAssertEqual(try String(contentsOf: counter, encoding: .utf8).split(separator: "\n").count, 1, "cached until it expires")

        var failing = plugin
        failing.environment["FAIL"] = "1"
        failing.installHint = "Install the-cloud CLI."
        XCTAssertThrowsError(try credentials.credential(for: failing, server: "https://s", variables: ["PATH": "/usr/bin:/bin"])) {
            XCTAssertTrue("\($0)".contains("exit 3") && "\($0)".contains("login required") && "\($0)".contains("Install the-cloud CLI."), "\($0)")
        }
    }

    func testRetryAfterCannotStallOrCrash() {
        XCTAssertEqual(KubernetesClient.retryDelay("2", attempt: 1), 2)
        XCTAssertEqual(KubernetesClient.retryDelay("3600", attempt: 1), 10)
        for hostile in ["-1", "nan", "inf", "-inf", "1e400", "soon", ""] {
            XCTAssertEqual(KubernetesClient.retryDelay(hostile, attempt: 2), 2, hostile)
        }
        XCTAssertEqual(KubernetesClient.retryDelay(nil, attempt: 1), 1)
    }

    func testLogsMaskCredentialsAndSecretData() {
        XCTAssertEqual(KubernetesClient.masked("Authorization", "Bearer abc.def"), "Bearer <masked>")
        XCTAssertEqual(KubernetesClient.masked("Accept", "application/json"), "application/json")
        let body = KubernetesClient.maskedBody(Array(#"{"kind":"Secret","data":{"tls.key":"c2VjcmV0"},"metadata":{"name":"s"}}"#.utf8))
        XCTAssertEqual(body, #"{"kind":"Secret","data":"<masked>","metadata":{"name":"s"}}"#)
        XCTAssertTrue(KubernetesClient.maskedBody(Array(#"{"status":{"token":"abc"}}"#.utf8)).contains("<masked>"))

        // kubectl's client-side apply keeps the applied Secret, data included, in an annotation.
        let applied = #"{\"apiVersion\":\"v1\",\"data\":{\"password\":\"aHVudGVyMg==\"},\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\"}}"#
        let annotated = KubernetesClient.maskedBody(Array(#"""
            {"kind":"Secret","data":{"password":"aHVudGVyMg=="},"metadata":{"name":"db",
             "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"\#(applied)","team":"pay"}}}
            """#.utf8))
        XCTAssertFalse(annotated.contains("aHVudGVyMg=="), annotated)
        XCTAssertTrue(annotated.contains(#""team":"pay""#), annotated)
        XCTAssertTrue(annotated.contains("last-applied-configuration"), annotated)
        // The API's lists leave kind out of their items.
        let list = KubernetesClient.maskedBody(Array(#"{"kind":"SecretList","items":[{"metadata":{"name":"a"},"data":{"k":"c2VjcmV0"}}]}"#.utf8))
        XCTAssertFalse(list.contains("c2VjcmV0"), list)
        let configMaps = KubernetesClient.maskedBody(Array(#"{"kind":"ConfigMapList","items":[{"metadata":{"name":"a"},"data":{"k":"v"}}]}"#.utf8))
        XCTAssertTrue(configMaps.contains(#""k":"v""#), configMaps)
    }
}
