import Foundation
@testable import MeshCLIKit
import MeshTestSupport
import XCTest

final class ProxyCommandTests: XCTestCase {
    private func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-proxy-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testABadBootstrapExits65WithPositionAndFieldPath() throws {
        let path = try write("static_resources:\n  clusters:\n  - name: c\n    wait_for_warm_on_init: true\n")
        let run = runMeshctl(["proxy", "-c", path])
        XCTAssertEqual(run.exitCode, .dataError)
        XCTAssertEqual(run.stderr, "\(path):4:5: error: static_resources.clusters[0].wait_for_warm_on_init: field is not supported by meshctl's proxy (remove it, or run this configuration in Envoy)\n")
        let missing = runMeshctl(["proxy", "-c", "/nonexistent/envoy.yaml"])
        XCTAssertEqual(missing.exitCode, .dataError)
        XCTAssertTrue(missing.stderr.contains("cannot read the file"), missing.stderr)
    }

    func testUsageErrors() {
        XCTAssertEqual(runMeshctl(["proxy"]).exitCode, .usage)
        XCTAssertEqual(runMeshctl(["proxy", "-c", "x.yaml", "--concurrency", "0"]).exitCode, .usage)
        XCTAssertEqual(runMeshctl(["proxy", "-c", "x.yaml", "--log-level", "loud"]).exitCode, .usage)
    }

    func testValidateModeSummarisesTheConfiguration() throws {
        let path = try write("""
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
        static_resources:
          clusters: [{name: c, load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]}}]
        """)
        let run = runMeshctl(["proxy", "-c", path, "--mode", "validate"])
        XCTAssertEqual(run.exitCode, .success, run.stderr)
        XCTAssertEqual(run.stdout, "\(path): OK: 0 listeners, 1 clusters, 0 RDS route configurations, 0 SDS secrets\n")
    }

    /// The real binary serves a bootstrap, answers through its listener and stops on /quitquitquit: in `meshctl-proxy`
    /// when that was built beside meshctl (meshctl execs it), and in meshctl's own process when told to.
    func testTheBinaryServesUntilQuitquitquit() throws {
        let lean = TestPaths.meshctlBinary.deletingLastPathComponent().appendingPathComponent("meshctl-proxy")
        let leanBuilt = FileManager.default.isExecutableFile(atPath: lean.path)
        XCTAssertEqual(try serveAndQuit(environment: [:]), leanBuilt ? "meshctl-proxy" : "meshctl")
        XCTAssertEqual(try serveAndQuit(environment: ["MESHCTL_PROXY_IN_PROCESS": "1"]), "meshctl")
    }

    /// What `meshctl-proxy` does not serve itself it hands back to meshctl: the errors and exit codes stay meshctl's.
    func testTheBinaryReportsBadBootstrapsAndFlagsAsMeshctl() throws {
        let path = try write("static_resources:\n  clusters:\n  - name: c\n    wait_for_warm_on_init: true\n")
        let bad = try runProcess(TestPaths.meshctlBinary, ["proxy", "-c", path])
        XCTAssertEqual(bad.status, 65)
        XCTAssertTrue(bad.stderr.hasSuffix("\(path):4:5: error: static_resources.clusters[0].wait_for_warm_on_init: field is not supported by meshctl's proxy (remove it, or run this configuration in Envoy)\n"), bad.stderr)
        let usage = try runProcess(TestPaths.meshctlBinary, ["proxy", "-c", path, "--log-level", "loud"])
        XCTAssertEqual(usage.status, 64, usage.stderr)
        let validate = try runProcess(TestPaths.meshctlBinary, ["proxy", "-c", path, "--mode", "validate"])
        XCTAssertEqual(validate.status, 65, validate.stderr)
    }

    /// Runs `meshctl proxy -c` on a direct_response listener, gets its 200, quits it; the file the process ran as.
    private func serveAndQuit(environment: [String: String]) throws -> String {
        let (process, admin, listener) = try startHelloProxy(environment: environment)
        defer { if process.isRunning { process.terminate() } }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.processIdentifier)/exe")) ?? ""
        XCTAssertEqual(try Self.curl(["-s", "http://127.0.0.1:\(listener)/"]), "hello")
        XCTAssertEqual(try Self.curl(["-s", "-X", "POST", "http://127.0.0.1:\(admin)/quitquitquit"]), "OK\n")
        XCTAssertTrue(eventually { !process.isRunning })
        XCTAssertEqual(process.terminationStatus, 0)
        return URL(fileURLWithPath: executable).lastPathComponent
    }

    /// 10,000 clients that connect and say nothing: the proxy (its own process, as in use) holds them, still answers
    /// a request among them, and once they close it holds no more descriptors than before them.
    func testTenThousandIdleClientsAreHeldAndLetGo() throws {
        // The test holds 10,000 sockets and the proxy (which inherits the limit) as many.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        var original = limit
        defer { setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original) }
        if limit.rlim_cur < 10_200 {
            limit.rlim_cur = min(limit.rlim_max, 20_000)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        guard limit.rlim_cur >= 10_200 else {
            throw XCTSkip("the descriptor limit is \(limit.rlim_cur) (hard \(limit.rlim_max)): 10,000 idle clients did not run")
        }
        let (process, admin, listener) = try startHelloProxy(environment: [:])
        defer { if process.isRunning { process.terminate() } }
        let pid = process.processIdentifier
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1 }
        XCTAssertEqual(try Self.curl(["-s", "http://127.0.0.1:\(listener)/"]), "hello")
        let before = descriptors()
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        for _ in 0..<10_000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return XCTFail("the test ran out of descriptors after \(clients.count) clients: \(String(cString: strerror(errno)))") }
            // A connect the proxy never takes fails after 5 s instead of hanging the test.
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = loopbackAddress(port: listener)
            let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            clients.append(fd)
            guard connected == 0 else { return XCTFail("client \(clients.count) could not connect: \(String(cString: strerror(errno)))") }
        }
        XCTAssertTrue(eventually(timeout: 30) { descriptors() >= before + 10_000 }, "the proxy holds \(descriptors()) descriptors, \(before) before the clients")
        XCTAssertEqual(try Self.curl(["-s", "http://127.0.0.1:\(listener)/"]), "hello", "a request among 10,000 idle clients")
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        print("meshctl proxy with 10,000 idle clients: " + (status.split(separator: "\n").first { $0.hasPrefix("VmRSS") }.map(String.init) ?? "VmRSS unknown"))
        for fd in clients { close(fd) }
        clients = []
        XCTAssertTrue(eventually(timeout: 30) { descriptors() <= before }, "the proxy holds \(descriptors()) descriptors after the clients left, \(before) before")
        XCTAssertEqual(try Self.curl(["-s", "-X", "POST", "http://127.0.0.1:\(admin)/quitquitquit"]), "OK\n")
    }

    /// `meshctl proxy -c` on a direct_response listener answering "hello", ready: the process, admin and listener ports.
    private func startHelloProxy(environment: [String: String]) throws -> (Process, admin: Int, listener: Int) {
        let admin = Self.freePort(), listener = Self.freePort()
        let path = try write("""
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(admin)}}}
        static_resources:
          listeners:
          - name: l
            address: {socket_address: {address: 127.0.0.1, port_value: \(listener)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: l
                  route_config:
                    virtual_hosts:
                    - {name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: hello}}}]}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
        """)
        let process = Process()
        process.executableURL = TestPaths.meshctlBinary
        process.arguments = ["proxy", "-c", path, "--log-level", "warning"]
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "MESHCTL_PROXY_IN_PROCESS" }.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        XCTAssertTrue(eventually { (try? Self.curl(["-s", "http://127.0.0.1:\(admin)/ready"])) == "LIVE\n" })
        return (process, admin, listener)
    }

    static func curl(_ arguments: [String]) throws -> String {
        try runProcess(URL(fileURLWithPath: "/usr/bin/curl"), arguments + ["--max-time", "5"]).stdout
    }

    static func freePort() -> Int { freeLocalPort() }
}
