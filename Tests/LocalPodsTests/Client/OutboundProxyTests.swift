import Foundation
import MeshNet
import MeshTestSupport
import XCTest
@testable import LocalPods

/// A client in a pod with a sidecar (`MESHCTL_OUTBOUND_PROXY`) connects to the sidecar and names the real
/// destination in a PROXY protocol v1 line; connections to the pod's own address skip it.
final class OutboundProxyTests: XCTestCase {
    /// A stand-in for the sidecar's outbound listener: records the first line of each connection (after its head came whole) and answers 200
    /// with that line as the body.
    private final class RecordingListener: @unchecked Sendable {
        let loop: EventLoop
        let listener: TCPListener
        private let lock = NSLock()
        private var connections: [TCPConnection] = []
        private(set) var lines: [String] = []

        init(host: String) throws {
            loop = try EventLoop(name: "recording-sidecar")
            listener = try TCPListener(host: host, port: 0, loop: loop)
            loop.start()
            listener.start { [self] fd in
                let connection = TCPConnection(fd: fd, loop: loop)
                var received: [UInt8] = []
                connection.onData = { [self] bytes in
                    bytes.withUnsafeReadableBytes { received.append(contentsOf: $0) }
                    // The whole request head first (it ends the first blank line), then the first line is recorded and answered.
                    guard String(decoding: received, as: UTF8.self).contains("\r\n\r\n"), let end = received.firstIndex(of: 13) else { return }
                    let line = String(decoding: received[..<end], as: UTF8.self)
                    lock.lock(); lines.append(line); lock.unlock()
                    connection.onData = { _ in }
                    let body = line
                    connection.send(Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8))
                    connection.finishWhenDrained()
                }
                try? connection.start()
                lock.lock(); connections.append(connection); lock.unlock()
            }
        }

        var recorded: [String] { lock.lock(); defer { lock.unlock() }; return lines }

        func stop() {
            listener.close()
            loop.stop()
        }
    }

    func testTheEnvironmentNamesTheSidecar() {
        let proxy = OutboundProxy(environment: ["MESHCTL_OUTBOUND_PROXY": "127.10.0.7:15001", "POD_IP": "127.11.0.7"])
        XCTAssertEqual(proxy, OutboundProxy(host: "127.10.0.7", port: 15001, ownAddress: "127.11.0.7"))
        XCTAssertEqual(proxy?.captures("127.96.0.12"), true)
        XCTAssertEqual(proxy?.captures("127.11.0.7"), false, "the pod's own address stays inside the pod")
        XCTAssertNil(OutboundProxy(environment: [:]))
        XCTAssertNil(OutboundProxy(environment: ["MESHCTL_OUTBOUND_PROXY": "example.com:15001"]), "only loopback addresses")
        XCTAssertNil(OutboundProxy(environment: ["MESHCTL_OUTBOUND_PROXY": "127.10.0.7"]), "a port is needed")
        XCTAssertEqual(String(decoding: OutboundProxy.header(source: "127.11.0.7:40312", destination: "127.96.0.12", port: 8080), as: UTF8.self),
                       "PROXY TCP4 127.11.0.7 127.96.0.12 40312 8080\r\n")
    }

    /// The request goes to the sidecar from the pod's address, after a PROXY line naming the Service's address and port.
    func testACallGoesThroughTheSidecarWithAProxyLine() throws {
        let sidecarAddress = freshLoopbackAddress(), appAddress = freshLoopbackAddress()
        let sidecar = try RecordingListener(host: sidecarAddress)
        defer { sidecar.stop() }
        let proxy = OutboundProxy(host: sidecarAddress, port: sidecar.listener.port, ownAddress: appAddress)
        let result = HTTPCall.performWaiting(HTTPCall.Request(url: try CallURL("http://backend:9080/who")), address: "127.96.0.12", source: appAddress,
                                             through: proxy, timeout: 10)
        let body = String(decoding: try result.get().body, as: UTF8.self)
        let parts = body.split(separator: " ").map(String.init)
        XCTAssertEqual(parts.count, 6, body)
        XCTAssertEqual(Array(parts.prefix(4)), ["PROXY", "TCP4", appAddress, "127.96.0.12"], body)
        XCTAssertNotNil(Int(parts[4]), "the source port")
        XCTAssertEqual(parts[5], "9080")
        XCTAssertEqual(sidecar.recorded.count, 1)
    }

    /// A call to the pod's own address does not pass the sidecar.
    func testACallToThePodsOwnAddressSkipsTheSidecar() throws {
        let sidecarAddress = freshLoopbackAddress(), appAddress = freshLoopbackAddress()
        let sidecar = try RecordingListener(host: sidecarAddress)
        defer { sidecar.stop() }
        let app = try RecordingListener(host: appAddress)
        defer { app.stop() }
        let proxy = OutboundProxy(host: sidecarAddress, port: sidecar.listener.port, ownAddress: appAddress)
        let result = HTTPCall.performWaiting(HTTPCall.Request(url: try CallURL("http://\(appAddress):\(app.listener.port)/")), address: appAddress,
                                             through: proxy, timeout: 10)
        XCTAssertEqual(String(decoding: try result.get().body, as: UTF8.self), "GET / HTTP/1.1")
        XCTAssertEqual(sidecar.recorded, [])
    }

    /// A sidecar that is not there: the failure names it and the destination.
    func testAMissingSidecarIsNamed() throws {
        let sidecarAddress = freshLoopbackAddress()
        let proxy = OutboundProxy(host: sidecarAddress, port: freeLocalPort())
        let result = HTTPCall.performWaiting(HTTPCall.Request(url: try CallURL("http://backend:9080/")), address: "127.96.0.12", through: proxy, timeout: 10)
        guard case .failure(let failure) = result else { return XCTFail("expected a failure") }
        XCTAssertTrue(failure.description.contains("the sidecar at \(sidecarAddress)") && failure.description.contains("127.96.0.12:9080"), failure.description)
    }
}

final class SidecarAddressesTests: XCTestCase {
    func testTheApplicationAddressKeepsThePodsLastTwoOctets() {
        XCTAssertEqual(SidecarAddresses.application(podIP: "127.10.3.200"), "127.11.3.200")
        XCTAssertNil(SidecarAddresses.application(podIP: "127.0.0.1"))
        XCTAssertNil(SidecarAddresses.application(podIP: "127.10.3"))
        XCTAssertEqual(SidecarAddresses.outboundProxy(podIP: "127.10.3.200"), OutboundProxy(host: "127.10.3.200", port: 15001, ownAddress: "127.11.3.200"))
    }
}
