import Foundation
import XCTest

/// meshctl opens libcurl only when a command talks to an API server (KubeClient's CurlLibrary): the binary does not
/// need it, commands without a cluster never open it, and a libcurl that cannot be opened is an error naming the
/// package to install.
final class LibcurlOnDemandTests: XCTestCase {
    private var meshctl: URL { TestPaths.meshctlBinary }

    private func requireBinary() throws {
        guard FileManager.default.isExecutableFile(atPath: meshctl.path) else {
            XCTFail("meshctl was not built at \(meshctl.path)")
            throw XCTSkip("no meshctl binary")
        }
    }

    private func temporaryFile(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-\(UUID().uuidString)-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// The libraries the dynamic loader maps for meshctl (ldd: NEEDED entries and theirs) include no libcurl.
    func testTheBinaryDoesNotNeedLibcurl() throws {
        try requireBinary()
        let ldd = try runProcess(URL(fileURLWithPath: "/usr/bin/ldd"), [meshctl.path])
        XCTAssertEqual(ldd.status, 0, ldd.stderr)
        // ldd listed the libraries at all: libc is always among them.
        XCTAssertTrue(ldd.stdout.contains("libc.so"), ldd.stdout)
        XCTAssertFalse(ldd.stdout.contains("libcurl"), ldd.stdout)
    }

    /// A command that needs no cluster works with no libcurl to open, and the dynamic loader is never asked for one.
    func testACommandWithoutAClusterNeverOpensLibcurl() throws {
        try requireBinary()
        let manifest = try temporaryFile("vs.yaml", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          http: [{route: [{destination: {host: reviews}}]}]
        """)
        let environment = ["PATH": "/usr/bin:/bin", "MESHCTL_LIBCURL": "/nonexistent/libcurl.so.4", "LD_DEBUG": "libs"]
        let validate = try runProcess(meshctl, ["validate", "-f", manifest], environment: environment)
        XCTAssertEqual(validate.status, 0, validate.stderr)
        XCTAssertTrue(validate.stdout.contains("is valid"), validate.stdout)
        // LD_DEBUG=libs logs every library the loader looks up: the start's own, then any dlopen.
        XCTAssertTrue(validate.stderr.contains("libc.so"), "LD_DEBUG logged nothing: \(validate.stderr.prefix(500))")
        XCTAssertFalse(validate.stderr.contains("libcurl"), validate.stderr)
        let version = try runProcess(meshctl, ["version", "--remote=false"], environment: environment)
        XCTAssertEqual(version.status, 0, version.stderr)
        XCTAssertTrue(version.stdout.hasPrefix("client version: "), version.stdout)
        XCTAssertFalse(version.stderr.contains("libcurl"), version.stderr)
    }

    /// A command that talks to a cluster, with no libcurl to open: exit 1 and the package to install, no crash; the
    /// version document says libcurl is not installed.
    func testAMissingLibcurlIsAnErrorNamingThePackage() throws {
        try requireBinary()
        let kubeconfig = try temporaryFile("kubeconfig", """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: {token: t}}]
        contexts: [{name: x, context: {cluster: c, user: u}}]
        current-context: x
        """)
        let environment = ["PATH": "/usr/bin:/bin", "MESHCTL_LIBCURL": "/nonexistent/libcurl.so.4"]
        let status = try runProcess(meshctl, ["--kubeconfig", kubeconfig, "proxy-status"], environment: environment)
        XCTAssertEqual(status.status, 1, status.stderr)
        XCTAssertEqual(status.stderr, "error: meshctl talks to API servers through libcurl, which could not be loaded "
                       + "(/nonexistent/libcurl.so.4: cannot open shared object file: No such file or directory); install it "
                       + "with: apt-get install libcurl4 (the package is libcurl4t64 on Ubuntu 24.04 and later)\n")
        // A file that is there but is not libcurl.
        let notCurl = try runProcess(meshctl, ["--kubeconfig", kubeconfig, "proxy-status"],
                                     environment: environment.merging(["MESHCTL_LIBCURL": "libc.so.6"]) { $1 })
        XCTAssertEqual(notCurl.status, 1, notCurl.stderr)
        XCTAssertTrue(notCurl.stderr.contains("(libc.so.6 is not libcurl: it has no function curl_"), notCurl.stderr)
        let version = try runProcess(meshctl, ["version", "--remote=false", "-o", "json"], environment: environment)
        XCTAssertEqual(version.status, 0, version.stderr)
        XCTAssertTrue(version.stdout.contains("\"libcurl\": \"not installed\""), version.stdout)
    }
}
