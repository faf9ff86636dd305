import MeshNet

/// How an HTTP/1.1 message body is delimited, and the reading of it from a byte buffer, part by part: the parts are
/// slices of what was read (no copy, no whole-body buffer).
struct HTTP1BodyDecoder {
    enum Framing {
        /// No body at all (a GET request, a 204, the answer to a HEAD).
        case none
        case length(Int)
        case chunked
        /// Everything until the peer closes (a response with neither length nor chunking).
        case untilClose
    }

    enum Step: Equatable {
        case body(ByteBuffer)
        case end
        case needMore
    }

    private enum State {
        case length(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    /// Longest chunk-size or trailer line accepted.
    static let maxLineBytes = 4096

    private var state: State

    init(_ framing: Framing) {
        switch framing {
        case .none: state = .done
        case .length(let length): state = length == 0 ? .done : .length(remaining: length)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    /// Whether the whole body has been read.
    var isDone: Bool { if case .done = state { return true } else { return false } }

    /// The next part of the body from `buffer` (consumed from it), `.end` once it is complete, or `.needMore`.
    mutating func next(from buffer: inout ByteBuffer) throws(HTTP1CodecError) -> Step {
        while true {
            switch state {
            case .done:
                return .end
            case .length(let remaining), .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return .needMore }
                let take = min(remaining, buffer.readableBytes)
                let part = buffer.readSlice(length: take)!
                if case .length = state {
                    state = remaining == take ? .done : .length(remaining: remaining - take)
                } else {
                    state = remaining == take ? .chunkDataEnd : .chunkData(remaining: remaining - take)
                }
                return .body(part)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return .needMore }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkDataEnd:
                // Refused as soon as a wrong byte shows, not when two have come.
                let available = min(2, buffer.readableBytes)
                guard buffer.slice(length: available)?.readableArray == Array([13, 10].prefix(available)) else {
                    throw HTTP1CodecError("a chunk's data does not end with CRLF")
                }
                guard available == 2 else { return .needMore }
                buffer.moveReaderIndex(forwardBy: 2)
                state = .chunkSize
            case .chunkSize:
                guard let line = try Self.line(from: &buffer, what: "chunk size") else { return .needMore }
                let sizeText = line.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
                let digits = String(decoding: sizeText, as: UTF8.self).trimmingCharacters(in: " \t")
                guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy(\.isHexDigit), let size = Int(digits, radix: 16) else {
                    throw HTTP1CodecError("bad chunk size \(String(decoding: line, as: UTF8.self))")
                }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .trailers:
                // Trailer fields are read and dropped; the empty line ends the message.
                guard let line = try Self.line(from: &buffer, what: "trailer") else { return .needMore }
                if line.isEmpty { state = .done }
            }
        }
    }

    /// The peer closed: the end of a body that runs until close; a body cut short is an error.
    mutating func finishAtClose() throws(HTTP1CodecError) -> Step {
        switch state {
        case .done: return .end
        case .untilClose: state = .done; return .end
        default: throw HTTP1CodecError("the connection closed in the middle of a message body")
        }
    }

    /// One CRLF-terminated line (without its CRLF), consumed; nil until it is complete.
    private static func line(from buffer: inout ByteBuffer, what: String) throws(HTTP1CodecError) -> [UInt8]? {
        guard let lineFeed = buffer.firstIndex(of: 10) else {
            if buffer.readableBytes > maxLineBytes { throw HTTP1CodecError("\(what) line longer than \(maxLineBytes) bytes") }
            return nil
        }
        guard lineFeed > 0, buffer.slice(from: lineFeed - 1, length: 1)?.readableArray == [13] else {
            throw HTTP1CodecError("a \(what) line ends with a bare LF: HTTP/1.1 lines end with CRLF")
        }
        let line = buffer.readBytes(length: lineFeed - 1)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// A message the codec cannot read: what is wrong with it. The connection cannot be used after it.
public struct HTTP1CodecError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
