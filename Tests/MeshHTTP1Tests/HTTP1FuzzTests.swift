import XCTest
@testable import MeshNet
@testable import MeshHTTP1

/// Fuzz-style runs of both HTTP/1.1 decoders over fixed-seed random bytes and mutated valid messages. Whatever the
/// input, a decoder must end (a part, nil for more, or a refusal; never a trap or a loop), refuse only with an HTTP
/// status, and see the same messages however the bytes are split into reads.
final class HTTP1FuzzTests: XCTestCase {
    /// Valid requests the mutations start from: keep-alive, bodies by length and by chunks with trailers, pipelining.
    static let requestSeeds = [
        "GET /a?x=1 HTTP/1.1\r\nHost: shop\r\nUser-Agent: t\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer-A: v\r\n\r\n",
        "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nDELETE /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n",
    ]

    /// Valid responses, each with the request methods it answers.
    static let responseSeeds: [(methods: [String], text: String)] = [
        (["GET"], "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: s\r\n\r\nabc"),
        (["GET"], "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\nGrpc-Status: 0\r\n\r\n"),
        (["HEAD", "GET"], "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        (["POST"], "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
        (["GET"], "HTTP/1.0 200 OK\r\n\r\nuntil the close"),
    ]

    /// Bytes that make framing and head syntax interesting.
    static let interesting: [UInt8] = Array("\r\n\0 \t:;0123456789abcdefABCDEF-".utf8) + [0x7F, 0x80, 0xFF]

    func testRequestDecoderOnRandomBytesAndMutations() {
        var random = FuzzRandom(seed: 0x5EED)
        var refused = 0, completed = 0
        for round in 0..<3000 {
            let input = Self.input(round: round, seeds: Self.requestSeeds.map { Array($0.utf8) }, random: &random)
            let whole = Self.decodeRequests([input], maxHead: 512)
            let split = Self.decodeRequests(Self.split(input, random: &random), maxHead: 512)
            XCTAssertEqual(whole, split, "round \(round): the same bytes in other reads decoded differently: \(Self.show(input))")
            if let last = whole.last, last.hasPrefix("refused ") {
                refused += 1
                let status = Int(last.dropFirst("refused ".count).prefix(3)) ?? 0
                XCTAssertTrue([400, 413, 431, 501, 505].contains(status), "round \(round): refused with \(last)")
            }
            completed += whole.filter { $0 == "end" }.count
        }
        print("HTTP/1.1 request fuzz: 3000 inputs, \(completed) requests ended, \(refused) inputs refused")
        // The mix must exercise both ways out, or the mutations are not reaching the parser.
        XCTAssertGreaterThan(refused, 300)
        XCTAssertGreaterThan(completed, 1000)
    }

    func testResponseDecoderOnRandomBytesAndMutations() {
        var random = FuzzRandom(seed: 0xC0DEC)
        var refused = 0, completed = 0
        for round in 0..<3000 {
            let seed = Self.responseSeeds[round % Self.responseSeeds.count]
            let input = Self.input(round: round, seeds: [Array(seed.text.utf8)], random: &random)
            let whole = Self.decodeResponses([input], methods: seed.methods)
            let split = Self.decodeResponses(Self.split(input, random: &random), methods: seed.methods)
            XCTAssertEqual(whole, split, "round \(round): the same bytes in other reads decoded differently: \(Self.show(input))")
            if whole.last?.hasPrefix("refused ") == true { refused += 1 }
            completed += whole.filter { $0 == "end" }.count
        }
        print("HTTP/1.1 response fuzz: 3000 inputs, \(completed) responses ended, \(refused) inputs refused")
        XCTAssertGreaterThan(refused, 300)
        XCTAssertGreaterThan(completed, 1000)
    }

    // MARK: Inputs

    /// One round's bytes: every eighth round pure random bytes, else a seed (or two back to back) mutated a few times.
    static func input(round: Int, seeds: [[UInt8]], random: inout FuzzRandom) -> [UInt8] {
        if round % 8 == 7 {
            return (0..<random.below(300)).map { _ in random.byte(from: interesting, orAnyWithOneIn: 2) }
        }
        var bytes = seeds[random.below(seeds.count)]
        if random.below(4) == 0 { bytes += seeds[random.below(seeds.count)] }
        for _ in 0..<random.below(4) { mutate(&bytes, random: &random) }
        return bytes
    }

    static func mutate(_ bytes: inout [UInt8], random: inout FuzzRandom) {
        guard !bytes.isEmpty else { return bytes = [random.byte(from: interesting, orAnyWithOneIn: 4)] }
        let at = random.below(bytes.count)
        switch random.below(6) {
        case 0: bytes[at] = random.byte(from: interesting, orAnyWithOneIn: 4)
        case 1: bytes.insert(random.byte(from: interesting, orAnyWithOneIn: 4), at: at)
        case 2: bytes.remove(at: at)
        case 3: bytes.removeSubrange(at...)
        case 4:
            let end = min(bytes.count, at + 1 + random.below(24))
            bytes.insert(contentsOf: bytes[at..<end], at: at)
        default:
            let headers = ["Content-Length: 7", "Content-Length: -1", "Content-Length: 99999999999999999999", "Transfer-Encoding: chunked",
                           "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: identity", "X: a\r\n folded", "Host: b", ": empty"]
            bytes.insert(contentsOf: Array((headers[random.below(headers.count)] + "\r\n").utf8), at: at)
        }
    }

    /// The bytes cut into reads of 1 to 40 bytes.
    static func split(_ bytes: [UInt8], random: inout FuzzRandom) -> [[UInt8]] {
        var reads: [[UInt8]] = []
        var at = 0
        while at < bytes.count {
            let length = min(bytes.count - at, 1 + random.below(40))
            reads.append(Array(bytes[at..<at + length]))
            at += length
        }
        return reads
    }

    // MARK: Decoding

    /// What the request decoder makes of the reads: heads, each message's body bytes whole, ends, and a refusal last.
    static func decodeRequests(_ reads: [[UInt8]], maxHead: Int) -> [String] {
        var decoder = HTTP1RequestDecoder(maxHeadBytes: maxHead)
        var seen: [String] = []
        var body: [UInt8] = []
        for read in reads {
            decoder.feed(ByteBuffer(bytes: read))
            var steps = 0
            do {
                while let part = try decoder.next() {
                    steps += 1
                    if steps > 10_000 { return seen + ["no end: the decoder kept returning parts"] }
                    switch part {
                    case .head(let head):
                        seen.append("head \(head.method) \(head.target) \(head.version) \(head.headers.count)")
                    case .body(let bytes):
                        body += bytes.readableArray
                    case .end:
                        if !body.isEmpty { seen.append("body \(show(body))") }
                        body = []
                        seen.append("end")
                    }
                }
            } catch {
                return seen + ["refused \(error.status) \(error.reason)"]
            }
        }
        if !body.isEmpty { seen.append("body so far \(show(body))") }
        return seen
    }

    /// The same for the response decoder, told of each request's method, with the close after the last read.
    static func decodeResponses(_ reads: [[UInt8]], methods: [String]) -> [String] {
        var decoder = HTTP1ResponseDecoder(maxHeadBytes: 512)
        for method in methods { decoder.requestSent(method: method) }
        var seen: [String] = []
        var body: [UInt8] = []
        func record(_ part: HTTP1ResponseDecoder.Part) {
            switch part {
            case .head(let head): seen.append("head \(head.status) \(head.headers.count)")
            case .body(let bytes): body += bytes.readableArray
            case .end:
                if !body.isEmpty { seen.append("body \(show(body))") }
                body = []
                seen.append("end")
            }
        }
        do {
            for read in reads {
                decoder.feed(ByteBuffer(bytes: read))
                var steps = 0
                while let part = try decoder.next() {
                    steps += 1
                    if steps > 10_000 { return seen + ["no end: the decoder kept returning parts"] }
                    record(part)
                }
            }
            if let last = try decoder.finishAtClose() { record(last) }
        } catch {
            return seen + ["refused \(error.description)"]
        }
        if !body.isEmpty { seen.append("body so far \(show(body))") }
        return seen
    }

    static func show(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).debugDescription
    }
}

/// A fixed-seed generator (xorshift64*), so a failing round can be run again.
struct FuzzRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// 0 ..< bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// One of `choices`, or with one chance in `oneIn` any byte.
    mutating func byte(from choices: [UInt8], orAnyWithOneIn oneIn: Int) -> UInt8 {
        below(oneIn) == 0 ? UInt8(truncatingIfNeeded: next()) : choices[below(choices.count)]
    }
}
