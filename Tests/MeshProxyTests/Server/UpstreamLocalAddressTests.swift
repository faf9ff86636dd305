import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// `%UPSTREAM_LOCAL_ADDRESS%`: the proxy's own end of the upstream connection, the same for requests that share a
/// pooled connection; compared in shape with Envoy 1.40 (the port is the kernel's choice on each side).
final class UpstreamLocalAddressTests: XCTestCase {
    /// The log's lines with the upstream's local port replaced by `PORT` once checked to be a real ephemeral port.
    private func lines(_ bootstrap: PolicyBootstrap, upstreamPort: Int) throws -> [String] {
        for path in ["/one", "/two"] { XCTAssertEqual(try TestClient.get(port: bootstrap.httpPort, path: path, host: "app").status, 200) }
        var text = ""
        XCTAssertTrue(eventually { text = (try? String(contentsOf: bootstrap.accessLog, encoding: .utf8)) ?? ""; return text.split(separator: "\n").count == 2 })
        var ports = Set<String>()
        let shaped = text.split(separator: "\n").map { line -> String in
            let words = line.split(separator: " ").map(String.init)
            guard words.count == 3, words[2].hasPrefix("127.0.0.1:"), let port = Int(words[2].dropFirst(10)), port > 0, port != upstreamPort else { return line + " (unexpected)" }
            ports.insert(words[2])
            return "\(words[0]) \(words[1]) 127.0.0.1:PORT"
        }
        XCTAssertEqual(ports.count, 1, "both requests went over one pooled connection: \(text)")
        return shaped
    }

    func testTheUpstreamConnectionsLocalAddressIsLoggedAsEnvoyLogsIt() throws {
        let app = try SampleUpstream(name: "app")
        defer { app.stop() }
        let directory = try DifferentialRun.scratch("upstream-local")
        defer { try? FileManager.default.removeItem(at: directory) }
        func bootstrap(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: app.port)
            bootstrap.logFormat = "%REQ(:PATH)% %UPSTREAM_HOST% %UPSTREAM_LOCAL_ADDRESS%"
            return bootstrap
        }
        let expected = ["/one 127.0.0.1:\(app.port) 127.0.0.1:PORT", "/two 127.0.0.1:\(app.port) 127.0.0.1:PORT"]
        let meshSide = bootstrap("meshctl")
        XCTAssertEqual(try DifferentialRun.inMeshctl(meshSide, statNames: []) { _ in try lines(meshSide, upstreamPort: app.port) }, expected)
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the Envoy half did not run")
        }
        let envoySide = bootstrap("envoy")
        XCTAssertEqual(try DifferentialRun.inEnvoy(envoy, envoySide, statNames: []) { _ in try lines(envoySide, upstreamPort: app.port) }, expected)
    }
}
