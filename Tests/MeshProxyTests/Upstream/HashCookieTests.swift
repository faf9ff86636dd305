import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// RING_HASH and MAGLEV on a cookie with a `ttl`: a request without the cookie gets one made for it (Set-Cookie on
/// the answer) and later requests that carry it stick to one host; checked against Envoy 1.40.
final class HashCookieTests: XCTestCase {
    private func bootstrap(directory: URL, upstreams: [SampleUpstream], lbPolicy: String) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreams[0].port)
        bootstrap.routes = [
            "{name: session, match: {prefix: /session}, route: {cluster: sticky, hash_policy: [{cookie: {name: visit, ttl: 0s}}]}}",
            "{name: sticky, match: {prefix: /}, route: {cluster: sticky, hash_policy: [{cookie: {name: lb, path: /, ttl: 3600s, attributes: [{name: SameSite, value: Lax}, {name: Secure}]}}]}}",
        ]
        let endpoints = upstreams.map { "{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \($0.port)}}}}" }.joined(separator: ", ")
        bootstrap.extraClusters = ["{name: sticky, connect_timeout: 1s, lb_policy: \(lbPolicy), load_assignment: {cluster_name: sticky, endpoints: [{lb_endpoints: [\(endpoints)]}]}}"]
        return bootstrap
    }

    /// The Set-Cookie of a first request (its value replaced by VALUE), and the upstreams that answered five more
    /// requests carrying the cookie, for each cookie route.
    private func run(port: Int) throws -> [String] {
        var results: [String] = []
        for path in ["/a", "/session"] {
            let first = try TestClient.get(port: port, path: path, host: "app")
            guard let setCookie = first.header("set-cookie") else { results.append("\(path): no set-cookie"); continue }
            let value = try XCTUnwrap(setCookie.split(separator: "\"").dropFirst().first.map(String.init), setCookie)
            XCTAssertEqual(value.count, 16, "a 64-bit value in hex: \(setCookie)")
            let name = String(setCookie.prefix { $0 != "=" })
            var answered: Set<String> = []
            for _ in 0..<5 {
                let next = try TestClient.get(port: port, path: path, host: "app", headers: [("cookie", "other=1; \(name)=\"\(value)\"")])
                XCTAssertNil(next.header("set-cookie"), "a request with the cookie gets no new one")
                answered.insert(next.header("x-upstream") ?? "?")
            }
            results.append("\(path): \(setCookie.replacingOccurrences(of: value, with: "VALUE")) hosts=\(answered.count)")
        }
        return results
    }

    func testTTLCookiesAreMadeSetAndStickAsInEnvoy() throws {
        let upstreams = try (0..<3).map { try SampleUpstream(name: "u\($0)") }
        defer { upstreams.forEach { $0.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-cookie-\(UUID().uuidString)")
        for side in ["envoy", "meshctl"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(side), withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: directory) }

        for lbPolicy in ["RING_HASH", "MAGLEV"] {
            let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreams: upstreams, lbPolicy: lbPolicy)
            let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try proxyBootstrap.write()), concurrency: 1,
                                        log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
            proxy.start()
            let proxyResults = try run(port: proxyBootstrap.httpPort)
            proxy.stop()
            XCTAssertEqual(proxyResults, ["/a: lb=\"VALUE\"; Max-Age=3600; Path=/; SameSite=Lax; Secure; HttpOnly hosts=1",
                                          "/session: visit=\"VALUE\"; HttpOnly hosts=1"], lbPolicy)

            let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreams: upstreams, lbPolicy: lbPolicy)
            let envoy = try RunningEnvoy(bootstrap: try envoyBootstrap.write(), adminPort: envoyBootstrap.adminPort, test: "the hash cookie differential test")
            let envoyResults = try run(port: envoyBootstrap.httpPort)
            envoy.stop()
            XCTAssertEqual(proxyResults, envoyResults, "\(lbPolicy): meshctl's proxy and Envoy 1.40")
        }
        print("envoy hash cookie differential: RING_HASH and MAGLEV with ttl cookies compared with Envoy 1.40")
    }
}
