/// One header field of an HTTP/2 header list, with how HPACK may store it.
public struct HeaderField: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String
    public var indexing: Indexing

    /// Whether the encoder may add a field to the dynamic table (RFC 7541 section 6.2).
    public enum Indexing: Sendable, Equatable {
        /// Added to the dynamic table when not already there (the default).
        case indexable
        /// Sent as a literal, left out of the table.
        case notIndexed
        /// Sent as a literal that every intermediary must also send as a literal (secrets such as
        /// `authorization` or short cookies, so compression cannot reveal them).
        case neverIndexed
    }

    public init(name: String, value: String, indexing: Indexing = .indexable) {
        self.name = name
        self.value = value
        self.indexing = indexing
    }

    public var description: String { "\(name): \(value)" }
}

/// Why a header block could not be decoded. Every case is a COMPRESSION_ERROR for the connection, except
/// `headerListTooLarge`, which concerns the one stream.
public enum HPACKError: Error, Equatable, Sendable, CustomStringConvertible {
    case indexZero
    case indexOutOfRange(Int)
    case integerOverflow
    case truncated
    case tableSizeUpdateTooLarge(requested: Int, limit: Int)
    case tableSizeUpdateNotAtStart
    case huffmanEOS
    case huffmanPaddingTooLong
    case huffmanPaddingNotEOS
    case headerListTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .indexZero: return "HPACK index 0 is not a valid index"
        case .indexOutOfRange(let index): return "HPACK index \(index) is past the static and dynamic tables"
        case .integerOverflow: return "HPACK integer too large"
        case .truncated: return "HPACK block ends inside a representation"
        case .tableSizeUpdateTooLarge(let requested, let limit): return "HPACK table size update to \(requested) exceeds the limit \(limit)"
        case .tableSizeUpdateNotAtStart: return "HPACK table size update after the start of the header block"
        case .huffmanEOS: return "Huffman-coded string contains EOS"
        case .huffmanPaddingTooLong: return "Huffman padding longer than 7 bits"
        case .huffmanPaddingNotEOS: return "Huffman padding is not the start of EOS"
        case .headerListTooLarge(let limit): return "header list larger than \(limit) bytes"
        }
    }
}
