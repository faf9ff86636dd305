import Foundation
import XCTest

/// meshctl opens libcurl only when a command talks to an API server (KubeClient's CurlLibrary) and SQLite only when
/// local mode opens its store (MeshControlPlane's SQLiteLibrary): the binary needs neither, commands without a cluster
/// never open them, and one that cannot be opened is an error naming the package to install.
final class LibrariesOnDemandTests: XCTestCase {
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

    /// The libraries the dynamic loader maps for meshctl (ldd: NEEDED entries and theirs) include neither.
    func testTheBinaryNeedsNeitherLibcurlNorSQLite() throws {
        try requireBinary()
        let ldd = try runProcess(URL(fileURLWithPath: "/usr/bin/ldd"), [meshctl.path])
        XCTAssertEqual(ldd.status, 0, ldd.stderr)
        // ldd listed the libraries at all: libc is always among them.
        XCTAssertTrue(ldd.stdout.contains("libc.so"), ldd.stdout)
        XCTAssertFalse(ldd.stdout.contains("libcurl"), ldd.stdout)
        XCTAssertFalse(ldd.stdout.contains("libsqlite3"), ldd.stdout)
    }

    /// Commands that need no cluster (nor local mode) never ask the dynamic loader for libcurl or SQLite, and work without them.
    func testACommandWithoutAClusterOpensNeitherLibrary() throws {
        try requireBinary()
        let manifest = try temporaryFile("vs.yaml", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          http: [{route: [{destination: {host: reviews}}]}]
        """)
        for arguments in [["validate", "-f", manifest], ["version", "--remote=false"]] {
            // LD_DEBUG=libs logs every library the loader looks up: the start's own, then any dlopen.
            let traced = try runProcess(meshctl, arguments, environment: ["PATH": "/usr/bin:/bin", "LD_DEBUG": "libs"])
            XCTAssertEqual(traced.status, 0, traced.stderr)
            XCTAssertTrue(traced.stderr.contains("libc.so"), "LD_DEBUG logged nothing: \(traced.stderr.prefix(500))")
            XCTAssertFalse(traced.stderr.contains("libcurl"), "\(arguments): \(traced.stderr)")
            XCTAssertFalse(traced.stderr.contains("libsqlite3"), "\(arguments): \(traced.stderr)")
            // And with neither library to open, the same command works.
            let without = try runProcess(meshctl, arguments, environment: ["PATH": "/usr/bin:/bin", "MESHCTL_LIBCURL": "/nonexistent/libcurl.so.4",
                                                                           "MESHCTL_LIBSQLITE": "/nonexistent/libsqlite3.so.0"])
            XCTAssertEqual(without.status, 0, without.stderr)
            XCTAssertEqual(without.stdout, traced.stdout, "\(arguments)")
            XCTAssertEqual(without.stderr, "", "\(arguments)")
        }
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

    /// Local mode with no SQLite to open: exit 1 and the package to install, no crash, nothing left running.
    func testAMissingSQLiteIsAnErrorNamingThePackage() throws {
        try requireBinary()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-nosqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: home) }
        let environment = ["PATH": "/usr/bin:/bin", "HOME": home.path, "KUBECONFIG": home.appendingPathComponent("config").path,
                           "MESHCTL_LIBSQLITE": "/nonexistent/libsqlite3.so.0"]
        let up = try runProcess(meshctl, ["local", "up", "--foreground", "--ingress=false", "--state-dir", home.appendingPathComponent("state").path],
                                environment: environment)
        XCTAssertEqual(up.status, 1, up.stderr)
        XCTAssertEqual(up.stderr, "error: meshctl keeps local mode's objects in SQLite, which could not be loaded "
                       + "(/nonexistent/libsqlite3.so.0: cannot open shared object file: No such file or directory); "
                       + "install it with: apt-get install libsqlite3-0\n")
    }
}
