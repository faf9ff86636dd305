import Foundation
import XCTest
@testable import KubeClient
#if canImport(Glibc)
import Glibc
#endif

final class CurlTests: XCTestCase {
    func testLinkedLibcurlReportsItsVersion() {
        let parts = CurlLibrary.version.split(separator: ".")
        XCTAssertGreaterThanOrEqual(parts.count, 2, CurlLibrary.version)
        XCTAssertNotNil(Int(parts[0]))
    }

    /// Failures are told apart by libcurl's result code, not its wording.
    func testFailuresAreClassifiedByResultCode() throws {
        let closesAtOnce = try ScriptedSocketServer(answers: [[]])
        defer { closesAtOnce.stop() }
        XCTAssertThrowsError(try CurlClient().perform(HTTPClientRequest(url: closesAtOnce.url))) {
            XCTAssertEqual(($0 as? TransportError)?.failure, .connectionLost, "\($0)")
        }

        let refused = try ScriptedSocketServer(answers: [])
        let refusedURL = refused.url
        refused.stop()
        XCTAssertThrowsError(try CurlClient().perform(HTTPClientRequest(url: refusedURL))) {
            XCTAssertEqual(($0 as? TransportError)?.failure, .cannotConnect, "\($0)")
        }
    }

    /// A stream that the server cuts off is a failure, not an answer; one the receiver stops keeps its real status.
    func testStreamsEndedByTheServerFailAndStreamsStoppedByTheReceiverDoNot() throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        let cut = try ScriptedSocketServer(answers: [Array((head + "5\r\n{\"a\":\r\n").utf8)])
        defer { cut.stop() }
        XCTAssertThrowsError(try CurlClient().performStreaming(HTTPClientRequest(url: cut.url)) { _ in true }) {
            XCTAssertEqual(($0 as? TransportError)?.failure, .connectionLost, "\($0)")
        }

        let accepted = try ScriptedSocketServer(answers: [Array(("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n" + "3\r\nabc\r\n").utf8)],
                                                keepOpen: true)
        defer { accepted.stop() }
        var pieces: [[UInt8]] = []
        let response = try CurlClient().performStreaming(HTTPClientRequest(url: accepted.url)) { piece in
            pieces.append(piece)
            return false
        }
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(pieces, [Array("abc".utf8)])
    }
}

/// A TCP server on 127.0.0.1 that answers each connection with the next scripted bytes, after reading the request
/// head, then closes it (or, with `keepOpen`, leaves it open until `stop`).
final class ScriptedSocketServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var kept: [Int32] = []

    var url: String { "http://127.0.0.1:\(port)/" }

    init(answers: [[UInt8]], keepOpen: Bool = false) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listener = self.listener
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound, listen(listener, 8) == 0 else { throw TransportError(reason: "cannot listen: errno \(errno)") }
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in
            for answer in answers {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                var buffer = [UInt8](repeating: 0, count: 4096), received: [UInt8] = []
                while !received.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                    let count = read(connection, &buffer, buffer.count)
                    if count <= 0 { break }
                    received += buffer[0..<count]
                }
                _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                if keepOpen {
                    lock.lock(); kept.append(connection); lock.unlock()
                } else {
                    close(connection)
                }
            }
        }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        lock.lock(); kept.forEach { _ = close($0) }; kept = []; lock.unlock()
    }
}
