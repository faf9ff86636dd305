#if canImport(Glibc)
import Glibc
#endif

/// The listener filters' readers of a connection's first bytes: a PROXY protocol header, a TLS ClientHello
/// (`tls_inspector`) and an HTTP request line or HTTP/2 preface (`http_inspector`). Each looks at bytes without
/// consuming them (the PROXY header aside) and says whether it needs more.

/// A PROXY protocol header (v1 text or v2 binary): the client's and the original destination's addresses.
enum ProxyProtocolHeader: Equatable {
    /// The header named these addresses (`ip:port`); `length` bytes belong to the header.
    case addresses(source: String, destination: String, length: Int)
    /// A header without addresses (v1 `UNKNOWN`, v2 `LOCAL`): the connection's own addresses stay.
    case local(length: Int)
    case needMore
    case invalid(String)

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    static func parse(_ bytes: [UInt8]) -> ProxyProtocolHeader {
        if bytes.isEmpty { return .needMore }
        if bytes[0] == v2Signature[0] { return parseV2(bytes) }
        let v1 = Array("PROXY ".utf8)
        guard bytes.starts(with: v1.prefix(bytes.count)) else { return .invalid("the connection does not start with a PROXY protocol header") }
        // A v1 line is at most 107 bytes including CRLF.
        guard let end = bytes.firstIndex(of: 0x0A) else { return bytes.count > 107 ? .invalid("PROXY v1 line longer than 107 bytes") : .needMore }
        guard end > 0, bytes[end - 1] == 0x0D else { return .invalid("PROXY v1 line does not end with CRLF") }
        let words = String(decoding: bytes[..<(end - 1)], as: UTF8.self).split(separator: " ").map(String.init)
        if words.count >= 2, words[1] == "UNKNOWN" { return .local(length: end + 1) }
        // The addresses must be of the family the line names, the ports plain decimal numbers.
        let addressLength = words.count > 1 && words[1] == "TCP6" ? 16 : 4
        guard words.count == 6, words[1] == "TCP4" || words[1] == "TCP6",
              CIDRRange.bytes(words[2])?.count == addressLength, CIDRRange.bytes(words[3])?.count == addressLength,
              words[4].allSatisfy(\.isASCIIDigit), words[5].allSatisfy(\.isASCIIDigit),
              let sourcePort = Int(words[4]), let destinationPort = Int(words[5]),
              (0...65535).contains(sourcePort), (0...65535).contains(destinationPort) else {
            return .invalid("malformed PROXY v1 line")
        }
        return .addresses(source: join(words[2], sourcePort), destination: join(words[3], destinationPort), length: end + 1)
    }

    private static func parseV2(_ bytes: [UInt8]) -> ProxyProtocolHeader {
        guard bytes.count >= 16 else { return bytes.starts(with: v2Signature.prefix(bytes.count)) ? .needMore : .invalid("not a PROXY protocol header") }
        guard bytes.starts(with: v2Signature) else { return .invalid("not a PROXY protocol header") }
        guard bytes[12] >> 4 == 2 else { return .invalid("PROXY protocol version \(bytes[12] >> 4) is not 2") }
        let length = 16 + (Int(bytes[14]) << 8 | Int(bytes[15]))
        guard bytes.count >= length else { return .needMore }
        let command = bytes[12] & 0x0F, family = bytes[13]
        guard command == 1 else { return command == 0 ? .local(length: length) : .invalid("unknown PROXY v2 command \(command)") }
        func port(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        switch family {
        case 0x11 where length >= 16 + 12:  // TCP over IPv4
            let source = bytes[16..<20].map(String.init).joined(separator: ".")
            let destination = bytes[20..<24].map(String.init).joined(separator: ".")
            return .addresses(source: join(source, port(24)), destination: join(destination, port(26)), length: length)
        case 0x21 where length >= 16 + 36:  // TCP over IPv6
            return .addresses(source: join(ipv6(bytes[16..<32]), port(48)), destination: join(ipv6(bytes[32..<48]), port(50)), length: length)
        case 0x00:
            return .local(length: length)
        default:
            return .invalid("PROXY v2 address family \(family) is not TCP over IPv4 or IPv6")
        }
    }

    private static func ipv6(_ bytes: ArraySlice<UInt8>) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
        return String(cString: text)
    }

    private static func join(_ host: String, _ port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What `tls_inspector` learns from a ClientHello.
enum ClientHelloInspection: Equatable {
    case needMore
    /// The bytes are not a TLS handshake: the transport protocol is `raw_buffer`.
    case notTLS
    case hello(serverName: String?, applicationProtocols: [String])

    /// The most of a ClientHello the inspector waits for (Envoy's default is 64 KiB).
    static let maximumSize = 64 * 1024

    static func inspect(_ bytes: [UInt8]) -> ClientHelloInspection {
        // Records: type 22 (handshake), version 3.x, a length; the ClientHello may span several.
        var handshake: [UInt8] = []
        var index = 0
        while true {
            guard bytes.count >= index + 5 else { return index == 0 && !bytes.isEmpty && bytes[0] != 22 ? .notTLS : .needMore }
            guard bytes[index] == 22, bytes[index + 1] == 3 else { return .notTLS }
            let length = Int(bytes[index + 3]) << 8 | Int(bytes[index + 4])
            guard bytes.count >= index + 5 + length else { return index + 5 + length > maximumSize ? .notTLS : .needMore }
            handshake += bytes[(index + 5)..<(index + 5 + length)]
            index += 5 + length
            if handshake.count >= 4 {
                guard handshake[0] == 1 else { return .notTLS }
                let size = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                if handshake.count >= 4 + size { return parseHello(Array(handshake[4..<(4 + size)])) }
                if size > maximumSize { return .notTLS }
            }
        }
    }

    private static func parseHello(_ hello: [UInt8]) -> ClientHelloInspection {
        var reader = ByteReader(hello)
        guard reader.skip(2 + 32),  // version, random
              let sessionLength = reader.uint8(), reader.skip(Int(sessionLength)),
              let suitesLength = reader.uint16(), reader.skip(suitesLength),
              let compressionLength = reader.uint8(), reader.skip(Int(compressionLength)) else { return .notTLS }
        guard let extensionsLength = reader.uint16(), var extensions = reader.take(extensionsLength).map(ByteReader.init) else {
            return .hello(serverName: nil, applicationProtocols: [])
        }
        var serverName: String?, protocols: [String] = []
        while let type = extensions.uint16(), let length = extensions.uint16(), let body = extensions.take(length) {
            var data = ByteReader(body)
            switch type {
            case 0:  // server_name: a list of (type, name); type 0 is a host name
                _ = data.uint16()
                while let nameType = data.uint8(), let nameLength = data.uint16(), let name = data.take(nameLength) {
                    if nameType == 0 { serverName = String(decoding: name, as: UTF8.self) }
                }
            case 16:  // application_layer_protocol_negotiation
                _ = data.uint16()
                while let nameLength = data.uint8(), let name = data.take(Int(nameLength)) { protocols.append(String(decoding: name, as: UTF8.self)) }
            default: break
            }
        }
        return .hello(serverName: serverName, applicationProtocols: protocols)
    }
}

/// What `http_inspector` learns from a plaintext connection's first bytes.
enum HTTPInspection: Equatable {
    case needMore
    /// Not HTTP (or not yet recognisable within the inspector's limit).
    case unknown
    /// `http/1.1`, `http/1.0` or `h2c`.
    case detected(String)

    static let h2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func inspect(_ bytes: [UInt8]) -> HTTPInspection {
        if bytes.starts(with: h2Preface.prefix(min(bytes.count, h2Preface.count))) {
            return bytes.count >= h2Preface.count ? .detected("h2c") : .needMore
        }
        // METHOD SP target SP HTTP/1.x CRLF
        var index = 0
        while index < bytes.count, (65...90).contains(bytes[index]) || bytes[index] == UInt8(ascii: "-") { index += 1 }
        if index == bytes.count { return index < 32 ? .needMore : .unknown }
        guard index > 0, bytes[index] == UInt8(ascii: " ") else { return .unknown }
        guard let end = bytes[index...].firstIndex(of: UInt8(ascii: "\r")) else { return bytes.count > 8 * 1024 ? .unknown : .needMore }
        let line = bytes[..<end]
        if line.count >= 9, line.suffix(9).elementsEqual(" HTTP/1.1".utf8) { return .detected("http/1.1") }
        if line.count >= 9, line.suffix(9).elementsEqual(" HTTP/1.0".utf8) { return .detected("http/1.0") }
        return .unknown
    }
}

/// Reads big-endian fields from bytes, nil past the end.
private struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func uint8() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16() -> Int? {
        guard index + 2 <= bytes.count else { return nil }
        defer { index += 2 }
        return Int(bytes[index]) << 8 | Int(bytes[index + 1])
    }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, index + count <= bytes.count else { return nil }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }

    mutating func skip(_ count: Int) -> Bool { take(count) != nil }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
