import Foundation
@testable import MeshControlPlane
import MeshHTTP1
import MeshNet
import MeshHTTP1
import MeshPilot
import MeshTestSupport
import XCTest

/// Local mode's pilot fetching a RequestAuthentication's jwksUri: plain HTTP over a real socket to a loopback
/// server named through the names file, and the refusals (HTTPS, addresses off the loopback, error statuses).
final class LocalJWKSFetchTests: XCTestCase {
    private var loop: EventLoop!
    private var server: HTTPServer!
    private var folder: URL!
    static let keys = #"{"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]}"#

    override func setUpWithError() throws {
        loop = try EventLoop(name: "jwks-server")
        loop.start()
        server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil) { request, responder in
            let found = request.target == "/keys"
            responder.respond(HTTPResponse(status: found ? 200 : 404, headers: [("content-type", "application/json")], body: Array((found ? Self.keys : "no").utf8)))
        }
        server.start()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-fetch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "jwks.auth.svc.cluster.local 127.0.0.1\n".write(to: folder.appendingPathComponent("names"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        server?.stop()
        loop?.stop()
        try? FileManager.default.removeItem(at: folder)
    }

    func testTheKeysOfAServiceOnTheLoopbackAreFetchedAndTheRestRefusedWithAReason() throws {
        let fetch = LocalJWKSFetch.fetcher(namesFile: folder.appendingPathComponent("names"))
        let port = server.port
        XCTAssertEqual(try fetch("http://jwks.auth.svc.cluster.local:\(port)/keys", 5).get(), Array(Self.keys.utf8))
        func failure(_ url: String) -> String {
            if case .failure(let failure) = fetch(url, 5) { return failure.description }
            return "(fetched)"
        }
        XCTAssertEqual(failure("http://127.0.0.1:\(port)/missing"), "status 404")
        XCTAssertTrue(failure("https://issuer.example/keys").contains("the scheme https is not supported"), failure("https://issuer.example/keys"))
        XCTAssertTrue(failure("http://10.1.2.3/keys").contains("outside 127.0.0.0/8"), failure("http://10.1.2.3/keys"))
        // Through the pilot's resolver: nothing at first, the keys once fetched, and a push asked for.
        let resolver = JWKSResolver(fetch: fetch)
        let pushes = PushCount()
        resolver.onChange = { pushes.add() }
        let uri = "http://jwks.auth.svc.cluster.local:\(port)/keys"
        XCTAssertNil(resolver.keys(uri: uri, issuer: "", timeout: 5))
        XCTAssertTrue(eventually(timeout: 15) { resolver.keys(uri: uri, issuer: "", timeout: 5) == Self.keys })
        XCTAssertEqual(pushes.value, 1)
    }
}

private final class PushCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
