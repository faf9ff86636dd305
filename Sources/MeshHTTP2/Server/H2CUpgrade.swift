import Foundation
import MeshNet
import MeshHTTP1

/// Reads the HTTP/1.1 request that opens an h2c upgrade (RFC 7540 section 3.2): `Upgrade: h2c`, `Connection:
/// Upgrade, HTTP2-Settings` and one `HTTP2-Settings` header (the client's SETTINGS payload, base64url).
struct H2CUpgrade {
    private var parser = HTTP1Parser()
    /// Every byte read, to hand what follows the request to HTTP/2 (the parser keeps the tail, not its bytes).
    private var received: [UInt8] = []

    enum Outcome {
        case needMore
        /// Answer with this status and close.
        case refuse(status: Int, reason: String)
        /// Switch: the request (stream 1), its HTTP/2 header list, the client's settings, and bytes after it.
        case upgrade(HTTPRequest, [HeaderField], [HTTP2Setting], rest: ByteBuffer)
    }

    mutating func read(_ bytes: ByteBuffer, maxBodyBytes: Int) -> Outcome {
        bytes.withUnsafeReadableBytes { received.append(contentsOf: $0) }
        guard received.count <= 64 * 1024 + maxBodyBytes else { return .refuse(status: 400, reason: "upgrade request too large") }
        parser.feed(bytes)
        switch parser.next() {
        case .needMore, .continueExpected:
            return .needMore
        case .reject(let status, let reason):
            return .refuse(status: status, reason: reason)
        case .request(let box):
            let request = box.request
            let rest = ByteBuffer(bytes: received.suffix(parser.buffered))
            return Self.upgrade(request, rest: rest)
        }
    }

    private static func upgrade(_ request: HTTPRequest, rest: ByteBuffer) -> Outcome {
        func tokens(_ name: String) -> [String] {
            request.headers.filter { $0.name.lowercased() == name }.flatMap { $0.value.lowercased().split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard tokens("upgrade").contains("h2c") else {
            return .refuse(status: 426, reason: "this server speaks HTTP/2 only: use h2c with prior knowledge or Upgrade: h2c")
        }
        let connection = tokens("connection")
        let settingsHeaders = request.headers.filter { $0.name.lowercased() == "http2-settings" }
        guard connection.contains("upgrade"), connection.contains("http2-settings"), settingsHeaders.count == 1 else {
            return .refuse(status: 400, reason: "an h2c upgrade needs Connection: Upgrade, HTTP2-Settings and one HTTP2-Settings header")
        }
        guard let settings = decodeSettings(settingsHeaders[0].value) else {
            return .refuse(status: 400, reason: "HTTP2-Settings is not a valid base64url SETTINGS payload")
        }
        var fields = [HeaderField(name: ":method", value: request.method), HeaderField(name: ":scheme", value: "http"),
                      HeaderField(name: ":path", value: request.target)]
        if let host = request.header("host") { fields.append(HeaderField(name: ":authority", value: host)) }
        for (name, value) in request.headers {
            let lowered = HTTP2HeaderNames.lowercased(name)
            if lowered == "host" || lowered == "http2-settings" || HTTP2HeaderNames.isConnectionSpecific(lowered) { continue }
            fields.append(HeaderField(name: lowered, value: value))
        }
        return .upgrade(request, fields, settings, rest: rest)
    }

    /// The SETTINGS payload of an HTTP2-Settings header; nil when it is not base64url or not valid settings.
    static func decodeSettings(_ text: String) -> [HTTP2Setting]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), data.count % 6 == 0 else { return nil }
        let bytes = [UInt8](data)
        var settings: [HTTP2Setting] = []
        for offset in stride(from: 0, to: bytes.count, by: 6) {
            let id = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let value = bytes[(offset + 2)..<(offset + 6)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let setting = HTTP2Setting(HTTP2Setting.Identifier(rawValue: id), value)
            guard (try? HTTP2FrameDecoder.validate(setting)) != nil else { return nil }
            settings.append(setting)
        }
        return settings
    }
}
