import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// A fault abort with `grpc_status` (a VirtualService's `fault.abort.grpcStatus`), answered as Envoy 1.40 does:
/// 200 with `grpc-status` and `grpc-message` and no body for a gRPC request, 200 `fault filter abort` otherwise.
final class GRPCFaultAbortTests: XCTestCase {
    func testGRPCAbortsAnswerWithTheStatus() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let (proxy, port) = try OneRouteProxy.start(to: upstream, filter: "fault", config: "envoy.extensions.filters.http.fault.v3.HTTPFault", perRoute: """
            envoy.filters.http.fault:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: {grpc_status: 14, percentage: {numerator: 100}}
            """)
        defer { proxy.stop() }
        let grpc = try TestClient.get(port: port, path: "/pkg.Service/Call", host: "app", headers: [("content-type", "application/grpc")], method: "POST")
        XCTAssertEqual(grpc.status, 200)
        XCTAssertEqual(grpc.headers.map(\.name).prefix(3), ["content-type", "grpc-status", "grpc-message"])
        XCTAssertEqual(grpc.header("content-type"), "application/grpc")
        XCTAssertEqual(grpc.header("grpc-status"), "14")
        XCTAssertEqual(grpc.header("grpc-message"), "fault filter abort")
        XCTAssertEqual(grpc.body, "")
        let plain = try TestClient.get(port: port, path: "/", host: "app")
        XCTAssertEqual(plain.status, 200)
        XCTAssertEqual(plain.body, "fault filter abort")
        XCTAssertTrue(upstream.requests.isEmpty)
        XCTAssertEqual(proxy.stats.value("http.one_route.fault.aborts_injected"), 2)
    }
}
