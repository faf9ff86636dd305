import Foundation
import XCTest
@testable import MeshNet
@testable import MeshTLS

/// The top of a test client's stack: hands plaintext and the close to closures.
final class CallbackHandler: ChannelHandler {
    private let onRead: (ByteBuffer) -> Void
    private let onInactive: () -> Void

    init(onRead: @escaping (ByteBuffer) -> Void, onInactive: @escaping () -> Void) {
        self.onRead = onRead
        self.onInactive = onInactive
    }

    func channelRead(context: ChannelContext, data: ByteBuffer) { onRead(data) }
    func channelInactive(context: ChannelContext) { onInactive() }
}

/// One `Connection: close` GET over `Channel.connect` with TLS, and what came of it.
struct TLSExchange {
    var reply = ""
    /// What the client's TLS handler said once the reply arrived.
    var alpn: String?
    var serverIdentity: SPIFFEIdentity?
    /// The connection's close reason (a TLS failure's text).
    var failure: String?

    static func run(port: Int, loop: EventLoop, client: TLSClientContext, serverName: String?, peerNames: [SubjectAltNameMatcher] = [],
                    path: String = "/hello") throws -> TLSExchange {
        let done = XCTestExpectation(description: "exchange")
        let lock = NSLock()
        var received: [UInt8] = [], result = TLSExchange()
        var channel: Channel?
        Channel.connect(host: "127.0.0.1", port: port, loop: loop, tls: client, serverName: serverName, peerNames: peerNames, handlers: {
            [CallbackHandler(onRead: { bytes in
                lock.lock(); defer { lock.unlock() }
                received += bytes.readableArray
                result.alpn = channel?.tls?.negotiatedProtocol
                result.serverIdentity = channel?.tls?.peerIdentity
            }, onInactive: {
                lock.lock(); result.failure = channel?.connection.closeReason?.description; lock.unlock()
                done.fulfill()
            })]
        }) { connected in
            guard case .success(let opened) = connected else { done.fulfill(); return }
            lock.lock(); channel = opened; lock.unlock()
            opened.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        }
        XCTAssertEqual(XCTWaiter.wait(for: [done], timeout: 10), .completed, "the exchange ended")
        lock.lock(); defer { lock.unlock() }
        result.reply = String(decoding: received, as: UTF8.self)
        return result
    }
}
