import ConfigValues
import Foundation
import LocalPods
import MeshNet
import MeshHTTP1
import MeshTestSupport
import XCTest
@testable import MeshSidecar

/// The agent on 15020 over real sockets: application probes against the app's own address, and readiness from the
/// proxy's admin stats.
final class SidecarAgentTests: XCTestCase {
    func testReadinessNeedsALiveServerAndConfigurationFromThePilot() {
        XCTAssertEqual(SidecarAgent.readinessProblem(stats: "server.state: 1\n"), "server is not yet live (server.state 1)")
        XCTAssertTrue(SidecarAgent.readinessProblem(stats: "server.state: 0\ncluster_manager.cds.update_success: 1\n")?
            .contains("lds updates: 0 successful") == true)
        XCTAssertNil(SidecarAgent.readinessProblem(stats: "server.state: 0\ncluster_manager.cds.update_success: 1\nlistener_manager.lds.update_success: 2\n"))
    }

    /// /app-health/... runs the rewritten probe against 127.11.x.y; /healthz/ready is 503 while no proxy answers.
    func testAppProbesReachTheApplicationAddress() throws {
        let podIP = "127.10.\(Int.random(in: 100...250)).\(Int.random(in: 2...254))"
        let application = SidecarAddresses.application(podIP: podIP)!
        let loop = try EventLoop(name: "app")
        loop.start()
        defer { loop.stop() }
        let app = try HTTPServer(host: application, port: 0, loops: [loop], tls: nil) { request, responder in
            responder.respond(HTTPResponse(status: request.path == "/ready" ? 200 : 503, contentType: "text/plain", text: "app\n"))
        }
        app.start()
        defer { app.stop() }
        let probers = #"{"/app-health/web/readyz":{"httpGet":{"path":"/ready","port":\#(app.port)}},"/app-health/web/livez":{"httpGet":{"path":"/broken","port":\#(app.port)}},"#
            + #""/app-health/web/startupz":{"tcpSocket":{"port":\#(app.port)}},"/app-health/other/readyz":{"tcpSocket":{"port":\#(freeLocalPort())}}}"#
        let settings = try SidecarSettings(arguments: ["proxy", "sidecar"], environment: [
            "POD_NAME": "web-0", "POD_NAMESPACE": "shop", "INSTANCE_IP": podIP, "MESHCTL_PILOT": "127.0.0.1:1", "ISTIO_KUBE_APP_PROBERS": probers])
        let agent = try SidecarAgent(settings: settings, port: 0)
        agent.start()
        defer { agent.stop() }
        func status(_ path: String) throws -> Int {
            try HTTPCall.performWaiting(HTTPCall.Request(url: try CallURL("http://\(podIP):\(agent.port)\(path)")), address: podIP, timeout: 10).get().head.status
        }
        XCTAssertEqual(try status("/app-health/web/readyz"), 200)
        XCTAssertEqual(try status("/app-health/web/livez"), 500)
        XCTAssertEqual(try status("/app-health/web/startupz"), 200)
        XCTAssertEqual(try status("/app-health/other/readyz"), 500)
        XCTAssertEqual(try status("/app-health/nobody/readyz"), 404)
        XCTAssertEqual(try status("/healthz/ready"), 503, "no proxy answers on the admin port")
    }
}
