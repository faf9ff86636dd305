import XCTest
@testable import MeshNet
@testable import MeshTLS

/// A client engine and a server engine wired back to back in memory: what one sends, the other receives.
struct TLSEnginePair {
    let client: TLSEngine
    let server: TLSEngine

    /// What the handshake came to on each side.
    struct Outcome {
        var client: TLSError?
        var server: TLSError?
    }

    init(client: TLSEngine, server: TLSEngine) {
        self.client = client
        self.server = server
    }

    init(client context: TLSClientContext, serverName: String? = nil, verifyHost: String? = nil, peerNames: [SubjectAltNameMatcher] = [],
         server serverContext: TLSServerContext) throws {
        self.init(client: try TLSEngine(client: context, serverName: serverName, verifyHost: verifyHost, peerNames: peerNames),
                  server: try TLSEngine(server: serverContext))
    }

    /// Moves all of `from`'s waiting ciphertext to `to`; returns how many bytes moved.
    @discardableResult
    static func move(from: TLSEngine, to: TLSEngine, limit: Int = .max) -> Int {
        var moved = 0
        withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { scratch in
            while moved < limit {
                let count = from.takeOutput(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(scratch.count, limit - moved)]))
                guard count > 0 else { break }
                to.receive(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                moved += count
            }
        }
        return moved
    }

    /// Runs both handshakes until each side has completed or failed and nothing is in flight. A failing side's alert
    /// still reaches the other side.
    func handshake() -> Outcome {
        var outcome = Outcome()
        for _ in 0..<20 {
            if outcome.client == nil { do { _ = try client.handshake() } catch { outcome.client = error } }
            Self.move(from: client, to: server)
            if outcome.server == nil { do { _ = try server.handshake() } catch { outcome.server = error } }
            Self.move(from: server, to: client)
            let clientSettled = client.isHandshakeComplete || outcome.client != nil
            let serverSettled = server.isHandshakeComplete || outcome.server != nil
            if clientSettled && serverSettled && client.pendingOutputBytes == 0 && server.pendingOutputBytes == 0 { break }
        }
        return outcome
    }

    /// Reads what `engine` has buffered (tickets and alerts included) until it needs input; the data read, or the
    /// error the read raised.
    static func drain(_ engine: TLSEngine) -> Result<[UInt8], TLSError> {
        var data: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = scratch.withUnsafeMutableBytes { buffer in Result { () throws(TLSError) in try engine.read(into: buffer) } }
            switch result {
            case .success(.bytes(let count)): data += scratch[0..<count]
            case .success(.needsInput), .success(.closed): return .success(data)
            case .failure(let error): return .failure(error)
            }
        }
    }

    /// Sends `text` from one side and reads it on the other.
    func send(_ text: String, from sender: TLSEngine) throws -> String {
        let receiver = sender === client ? server : client
        try Array(text.utf8).withUnsafeBytes { bytes in try sender.write(bytes) }
        Self.move(from: sender, to: receiver)
        return String(decoding: try Self.drain(receiver).get(), as: UTF8.self)
    }
}
