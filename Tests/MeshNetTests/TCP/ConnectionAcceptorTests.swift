import Foundation
import XCTest
import MeshTestSupport
@testable import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// The accepting half HTTPServer and HTTP2Server share: connections spread over the loops, each set up on its own.
final class ConnectionAcceptorTests: XCTestCase {
    private func accept(_ acceptance: ConnectionAcceptor.Acceptance, connections: Int) throws -> [Int] {
        let loops = try (0..<2).map { try EventLoop(name: "acceptor-\($0)") }
        for loop in loops { loop.start() }
        defer { for loop in loops { loop.stop() } }
        let acceptor = try ConnectionAcceptor(host: "127.0.0.1", port: 0, loops: loops, acceptance: acceptance)
        defer { acceptor.stop() }
        let onItsLoop = Counter()
        acceptor.start { tcp in
            if tcp.loop.inLoop { onItsLoop.add() }
            try? tcp.start()
            tcp.send(Array("hi".utf8))
            tcp.closeWhenDrained()
        }
        for _ in 0..<connections {
            let fd = try LoopbackSocket.connect(port: acceptor.port)
            defer { close(fd) }
            var reply = [UInt8](repeating: 0, count: 2)
            XCTAssertEqual(recv(fd, &reply, 2, Int32(MSG_WAITALL)), 2)
            XCTAssertEqual(reply, Array("hi".utf8))
        }
        XCTAssertTrue(eventually { onItsLoop.value == connections }, "every connection set up on its own loop: \(onItsLoop.value)")
        return acceptor.connectionsPerLoop
    }

    func testOneListenerHandsConnectionsToTheLoopsInTurn() throws {
        XCTAssertEqual(try accept(.oneListener, connections: 4), [2, 2])
    }

    func testAListenerPerLoopAcceptsOnEveryLoop() throws {
        let perLoop = try accept(.listenerPerLoop, connections: 32)
        XCTAssertEqual(perLoop.reduce(0, +), 32)
        XCTAssertTrue(perLoop.allSatisfy { $0 > 0 }, "the kernel spreads connections over both listeners: \(perLoop)")
    }
}
