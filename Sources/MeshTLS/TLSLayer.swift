import MeshNet

/// TLS as one layer of a connection's stack, whatever wires the stack: ciphertext from below becomes plaintext passed
/// up, plaintext from above becomes ciphertext passed down. It keeps plaintext written before the handshake has
/// completed and sends it once it has, and hands the engine's output down after every step, so the engine holds no
/// records between calls and the transport's write queue (and its watermarks) sees every byte waiting.
///
/// `TLSHandler` is this layer as a channel's bottom handler, its callbacks pointed at the handler's context: `start`
/// when the channel is active, `receive` for each read, `send` for each write, `close` to end.
public final class TLSLayer {
    public let engine: TLSEngine
    private var held: [ByteBuffer] = []
    private var announced = false
    /// Called once, when the handshake completes (ALPN's choice, the peer's identity and resumption are known then).
    public var onHandshake: (TLSEngine) -> Void = { _ in }
    /// Plaintext bytes a read produces at most per buffer passed up.
    private let readSize = 16 * 1024
    private var sawFirstByte = false
    /// A server's first bytes were a plain HTTP request, not a TLS record. The stack should then send
    /// `plainHTTPAnswer` as it is (unencrypted) and close, as Go's servers (kube-apiserver) answer, rather than a
    /// TLS alert the client cannot read.
    public private(set) var receivedPlainHTTP = false
    public static let plainHTTPAnswer = ByteBuffer(string: "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")

    public init(engine: TLSEngine) { self.engine = engine }

    /// Starts the handshake: a client's hello goes down (a server waits for one).
    public func start(down: (ByteBuffer) -> Void) throws(TLSError) {
        try advance(down: down)
    }

    /// Ciphertext from below; plaintext goes up, and what the engine answers (handshake messages, alerts) goes down.
    /// Returns false once the peer's close_notify has arrived.
    @discardableResult
    public func receive(_ ciphertext: ByteBuffer, up: (ByteBuffer) -> Void, down: (ByteBuffer) -> Void) throws(TLSError) -> Bool {
        if !sawFirstByte, ciphertext.readableBytes > 0 {
            sawFirstByte = true
            // A TLS record starts with its type (0x16 for a handshake); an HTTP request with a method's capital letter.
            if engine.isServer, let first = ciphertext.withUnsafeReadableBytes({ $0.first }), (65...90).contains(first) {
                receivedPlainHTTP = true
                throw TLSError(operation: "handshake", reasons: ["the client sent plain HTTP to a TLS port"], verifyResult: nil, peerNameProblem: nil)
            }
        }
        engine.receive(ciphertext)
        return try pump(up: up, down: down)
    }

    /// The transport's peer will send nothing more: ends reading with `false` after a close_notify, or fails with
    /// "unexpected eof while reading" when the peer stopped without one.
    @discardableResult
    public func receiveEndOfInput(up: (ByteBuffer) -> Void, down: (ByteBuffer) -> Void) throws(TLSError) -> Bool {
        engine.receiveEndOfInput()
        return try pump(up: up, down: down)
    }

    /// Plaintext from above: encrypted and passed down now, or kept until the handshake completes.
    public func send(_ plaintext: ByteBuffer, down: (ByteBuffer) -> Void) throws(TLSError) {
        guard engine.isHandshakeComplete else { held.append(plaintext); return }
        try engine.write(plaintext)
        passOutput(down)
    }

    /// Sends close_notify (after anything held, if the handshake completed).
    public func close(down: (ByteBuffer) -> Void) {
        engine.close()
        passOutput(down)
    }

    /// Drives the handshake, reads all the plaintext there is, and passes every output down.
    private func pump(up: (ByteBuffer) -> Void, down: (ByteBuffer) -> Void) throws(TLSError) -> Bool {
        try advance(down: down)
        guard engine.isHandshakeComplete else { return true }
        while true {
            var buffer = ByteBuffer(capacity: readSize)
            let result: TLSEngine.ReadResult
            do throws(TLSError) {
                result = try buffer.withUnsafeMutableWritableBytes { space in Result { () throws(TLSError) in try engine.read(into: space) } }.get()
            } catch {
                passOutput(down)  // the alert that tells the peer why
                throw error
            }
            switch result {
            case .bytes(let count):
                buffer.moveWriterIndex(forwardBy: count)
                up(buffer)
            case .needsInput:
                passOutput(down)  // TLS 1.3 key updates and the like
                return true
            case .closed:
                passOutput(down)
                return false
            }
        }
    }

    /// The handshake as far as it goes; once complete, what was held goes out.
    private func advance(down: (ByteBuffer) -> Void) throws(TLSError) {
        if !engine.isHandshakeComplete {
            do throws(TLSError) {
                _ = try engine.handshake()
            } catch {
                passOutput(down)
                throw error
            }
        }
        if engine.isHandshakeComplete && !announced {
            announced = true
            onHandshake(engine)
            let waiting = held
            held = []
            for plaintext in waiting { try engine.write(plaintext) }
        }
        passOutput(down)
    }

    private func passOutput(_ down: (ByteBuffer) -> Void) {
        guard engine.pendingOutputBytes > 0 else { return }
        var output = ByteBuffer(capacity: engine.pendingOutputBytes)
        engine.takeOutput(appendingTo: &output)
        down(output)
    }
}
