/// HPACK's static table (RFC 7541 Appendix A): entries 1 to 61, shared by every connection.
enum StaticTable {
    static let entries: [(name: String, value: String)] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ]

    static var count: Int { entries.count }

    /// The first index with this name, and the index with this name and value if there is one (1-based).
    static func find(name: String, value: String) -> (nameIndex: Int?, fullIndex: Int?) {
        guard let candidates = byName[name] else { return (nil, nil) }
        for index in candidates where entries[index - 1].value == value { return (candidates[0], index) }
        return (candidates[0], nil)
    }

    /// Indices (1-based) of each name, in table order.
    private static let byName: [String: [Int]] = {
        var result: [String: [Int]] = [:]
        for (offset, entry) in entries.enumerated() { result[entry.name, default: []].append(offset + 1) }
        return result
    }()
}
