@testable import MeshHTTP2

/// RFC 7541 Appendix C, as data: each sequence is header blocks sent in order on one connection, with the header
/// list each carries and the dynamic table (newest first) and its size after it.
struct HPACKVector {
    let name: String
    let hex: String
    let headers: [(String, String)]
    let table: [(String, String)]
    let tableSize: Int
    var indexing: HeaderField.Indexing = .indexable
}

struct HPACKVectorSequence {
    let name: String
    /// Whether the example Huffman-codes its strings.
    let huffman: Bool
    let tableSize: Int
    let blocks: [HPACKVector]
}

enum RFC7541Vectors {
    static let request1 = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
    static let request2 = request1 + [("cache-control", "no-cache")]
    static let request3 = [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"),
                           ("custom-key", "custom-value")]
    static let requestTables: [[(String, String)]] = [
        [(":authority", "www.example.com")],
        [("cache-control", "no-cache"), (":authority", "www.example.com")],
        [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")],
    ]
    static let date1 = "Mon, 21 Oct 2013 20:13:21 GMT", date2 = "Mon, 21 Oct 2013 20:13:22 GMT"
    static let location = "https://www.example.com"
    static let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
    static let response1 = [(":status", "302"), ("cache-control", "private"), ("date", date1), ("location", location)]
    static let response2 = [(":status", "307"), ("cache-control", "private"), ("date", date1), ("location", location)]
    static let response3 = [(":status", "200"), ("cache-control", "private"), ("date", date2), ("location", location),
                            ("content-encoding", "gzip"), ("set-cookie", cookie)]
    static let responseTables: [[(String, String)]] = [
        [("location", location), ("date", date1), ("cache-control", "private"), (":status", "302")],
        [(":status", "307"), ("location", location), ("date", date1), ("cache-control", "private")],
        [("set-cookie", cookie), ("content-encoding", "gzip"), ("date", date2)],
    ]

    /// C.2: single representations, each on a fresh table.
    static let fieldExamples: [HPACKVectorSequence] = [
        HPACKVectorSequence(name: "C.2.1 literal with indexing", huffman: false, tableSize: 4096, blocks: [
            HPACKVector(name: "C.2.1", hex: "400a637573746f6d2d6b65790d637573746f6d2d686561646572", headers: [("custom-key", "custom-header")],
                        table: [("custom-key", "custom-header")], tableSize: 55)]),
        HPACKVectorSequence(name: "C.2.2 literal without indexing", huffman: false, tableSize: 4096, blocks: [
            HPACKVector(name: "C.2.2", hex: "040c2f73616d706c652f70617468", headers: [(":path", "/sample/path")], table: [], tableSize: 0,
                        indexing: .notIndexed)]),
        HPACKVectorSequence(name: "C.2.3 literal never indexed", huffman: false, tableSize: 4096, blocks: [
            HPACKVector(name: "C.2.3", hex: "100870617373776f726406736563726574", headers: [("password", "secret")], table: [], tableSize: 0,
                        indexing: .neverIndexed)]),
        HPACKVectorSequence(name: "C.2.4 indexed", huffman: false, tableSize: 4096, blocks: [
            HPACKVector(name: "C.2.4", hex: "82", headers: [(":method", "GET")], table: [], tableSize: 0)]),
    ]

    static let sequences: [HPACKVectorSequence] = fieldExamples + [
        HPACKVectorSequence(name: "C.3 requests without Huffman", huffman: false, tableSize: 4096, blocks: [
            HPACKVector(name: "C.3.1", hex: "828684410f7777772e6578616d706c652e636f6d", headers: request1, table: requestTables[0], tableSize: 57),
            HPACKVector(name: "C.3.2", hex: "828684be58086e6f2d6361636865", headers: request2, table: requestTables[1], tableSize: 110),
            HPACKVector(name: "C.3.3", hex: "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", headers: request3,
                        table: requestTables[2], tableSize: 164),
        ]),
        HPACKVectorSequence(name: "C.4 requests with Huffman", huffman: true, tableSize: 4096, blocks: [
            HPACKVector(name: "C.4.1", hex: "828684418cf1e3c2e5f23a6ba0ab90f4ff", headers: request1, table: requestTables[0], tableSize: 57),
            HPACKVector(name: "C.4.2", hex: "828684be5886a8eb10649cbf", headers: request2, table: requestTables[1], tableSize: 110),
            HPACKVector(name: "C.4.3", hex: "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", headers: request3,
                        table: requestTables[2], tableSize: 164),
        ]),
        HPACKVectorSequence(name: "C.5 responses without Huffman", huffman: false, tableSize: 256, blocks: [
            HPACKVector(name: "C.5.1", hex: "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
                        headers: response1, table: responseTables[0], tableSize: 222),
            HPACKVector(name: "C.5.2", hex: "4803333037c1c0bf", headers: response2, table: responseTables[1], tableSize: 222),
            HPACKVector(name: "C.5.3", hex: "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
                        headers: response3, table: responseTables[2], tableSize: 215),
        ]),
        HPACKVectorSequence(name: "C.6 responses with Huffman", huffman: true, tableSize: 256, blocks: [
            HPACKVector(name: "C.6.1", hex: "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
                        headers: response1, table: responseTables[0], tableSize: 222),
            HPACKVector(name: "C.6.2", hex: "4883640effc1c0bf", headers: response2, table: responseTables[1], tableSize: 222),
            HPACKVector(name: "C.6.3", hex: "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
                        headers: response3, table: responseTables[2], tableSize: 215),
        ]),
    ]

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() { out.append(UInt8(String([high, low]), radix: 16)!) }
        return out
    }
}
