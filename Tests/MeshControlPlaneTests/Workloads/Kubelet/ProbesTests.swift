import Foundation
import Manifests
import XCTest
@testable import MeshControlPlane

final class ProbesTests: XCTestCase {
    /// timeoutSeconds is the user's number; one of a month or more used to trap converting milliseconds to Int32.
    func testLargeTimeoutSecondsDoesNotTrap() throws {
        XCTAssertEqual(Probe.pollMilliseconds(1), 1000)
        XCTAssertEqual(Probe.pollMilliseconds(3_000_000), Int32.max)
        XCTAssertEqual(Probe.pollMilliseconds(Double(Int64.max)), Int32.max)
        XCTAssertEqual(Probe.pollMilliseconds(-1), 0)

        let container = try JSONValue.parse(#"{"name":"app","ports":[{"name":"http","containerPort":8080}]}"#)
        let probe = try XCTUnwrap(Probe(try JSONValue.parse(#"{"tcpSocket":{"port":"http"},"timeoutSeconds":3000000}"#), container: container))
        XCTAssertEqual(probe.timeout, 3_000_000)

        // A real listener, so that connect reaches poll(2) with the probe's whole timeout.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(listener, 4), 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))

        switch Probe.connect(host: "127.0.0.1", port: port, timeout: probe.timeout) {
        case .success(let fd): close(fd)
        case .failure(let reason): XCTFail("connect failed: \(reason)")
        }
    }
}
