import XCTest
@testable import MeshNet
@testable import MeshTLS

/// Two engines handshaking in memory, through real OpenSSL: ALPN, SNI, mTLS with SPIFFE names, resumption,
/// a long transfer to a slow reader, close_notify.
final class TLSEngineTests: XCTestCase {
    /// One authority for the whole class: key generation is the slow part.
    private static let authority = try! CertificateAuthority()
    private var authority: CertificateAuthority { Self.authority }

    private func serverContext(protocols: [String] = ApplicationProtocols.mesh, versions: ClosedRange<TLSVersion> = .v1_2 ... .v1_3,
                               clientNames: [SubjectAltNameMatcher]? = nil, tickets: Bool = true) throws -> TLSServerContext {
        var configuration = TLSServerConfiguration(identity: try authority.issueWorkload(namespace: "default", serviceAccount: "reviews"))
        configuration.applicationProtocols = protocols
        configuration.versions = versions
        configuration.sessionTickets = tickets
        if let clientNames {
            configuration.trustedClientAuthorities = [authority.certificate]
            configuration.clientNames = clientNames
        }
        return try TLSServerContext(configuration)
    }

    private func clientContext(protocols: [String] = ["h2", "http/1.1"], identity: TLSIdentity? = nil,
                               versions: ClosedRange<TLSVersion> = .v1_2 ... .v1_3) throws -> TLSClientContext {
        var configuration = TLSClientConfiguration(trusting: [authority.certificate], identity: identity)
        configuration.applicationProtocols = protocols
        configuration.versions = versions
        return try TLSClientContext(configuration)
    }

    func testHandshakeExchangeAndVersions() throws {
        for version in TLSVersion.allCases {
            let pair = try TLSEnginePair(client: clientContext(versions: version ... version), server: serverContext())
            let outcome = pair.handshake()
            XCTAssertNil(outcome.client)
            XCTAssertNil(outcome.server)
            XCTAssertEqual(pair.client.version, version)
            XCTAssertEqual(pair.server.version, version)
            XCTAssertEqual(try pair.send("GET / HTTP/1.1\r\n\r\n", from: pair.client), "GET / HTTP/1.1\r\n\r\n")
            XCTAssertEqual(try pair.send("HTTP/1.1 200 OK\r\n\r\n", from: pair.server), "HTTP/1.1 200 OK\r\n\r\n")
            XCTAssertFalse(pair.client.isResumed)
        }
    }

    func testTheContractBeforeAndDuringTheHandshake() throws {
        let pair = try TLSEnginePair(client: clientContext(), server: serverContext())
        XCTAssertEqual(pair.server.pendingOutputBytes, 0)
        XCTAssertEqual(try pair.server.handshake(), .needsInput, "a server waits for the ClientHello")
        XCTAssertEqual(try pair.client.handshake(), .needsInput, "a client sends its hello and waits")
        XCTAssertGreaterThan(pair.client.pendingOutputBytes, 0, "the ClientHello waits to be sent")
        XCTAssertThrowsError(try [UInt8](repeating: 1, count: 4).withUnsafeBytes { bytes in try pair.client.write(bytes) }) {
            XCTAssertEqual(($0 as? TLSError)?.reasons, ["the handshake has not completed"])
        }
        // Byte by byte: records straddling receives are put together.
        while pair.client.pendingOutputBytes > 0 { TLSEnginePair.move(from: pair.client, to: pair.server, limit: 1) }
        XCTAssertEqual(try pair.server.handshake(), .needsInput)
        XCTAssertNil(pair.handshake().server)
        XCTAssertTrue(pair.client.isHandshakeComplete && pair.server.isHandshakeComplete)
    }

    /// The output BIO keeps the storage of its largest burst: after a large write is taken, the engine lets it go,
    /// so an idle connection does not hold its last big answer's size; the connection goes on working.
    func testALargeBurstDoesNotStayInTheOutputBuffer() throws {
        let pair = try TLSEnginePair(client: clientContext(), server: serverContext())
        XCTAssertNil(pair.handshake().client)
        let large = (0..<(1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try large.withUnsafeBytes { try pair.server.write($0) }
        XCTAssertGreaterThan(pair.server.outputBufferCapacity, TLSEngine.largestKeptOutputBuffer)
        TLSEnginePair.move(from: pair.server, to: pair.client)
        XCTAssertLessThanOrEqual(pair.server.outputBufferCapacity, TLSEngine.largestKeptOutputBuffer)
        XCTAssertEqual(try TLSEnginePair.drain(pair.client).get(), large)
        XCTAssertEqual(try pair.send("HTTP/1.1 200 OK\r\n\r\n", from: pair.server), "HTTP/1.1 200 OK\r\n\r\n")
        XCTAssertEqual(try pair.send("GET / HTTP/1.1\r\n\r\n", from: pair.client), "GET / HTTP/1.1\r\n\r\n")
    }

    func testALPNTheServerPicksByItsOwnPreference() throws {
        let cases: [(offered: [String], chosen: String?)] = [
            (["http/1.1", "h2"], "h2"),
            (["h2", "istio", "istio-peer-exchange"], "istio-peer-exchange"),
            (["http/1.1"], "http/1.1"),
            (["spdy/3"], nil),
            ([], nil),
        ]
        let server = try serverContext()
        for (offered, chosen) in cases {
            let pair = try TLSEnginePair(client: clientContext(protocols: offered), server: server)
            XCTAssertNil(pair.handshake().client, "\(offered)")
            XCTAssertEqual(pair.client.negotiatedProtocol, chosen, "\(offered)")
            XCTAssertEqual(pair.server.negotiatedProtocol, chosen, "\(offered)")
        }
    }

    func testSNIChoosesTheCertificateByName() throws {
        let fallback = try authority.issueServer(dnsNames: ["default.mesh.local"])
        var identities = ServerNameMap(default: fallback)
        identities["api.mesh.local"] = try authority.issueServer(dnsNames: ["api.mesh.local"])
        identities["*.default.svc.cluster.local"] = try authority.issueServer(dnsNames: ["*.default.svc.cluster.local"])
        let server = try TLSServerContext(TLSServerConfiguration(identities: identities))
        let client = try clientContext()
        let cases: [(sent: String?, certificateName: String)] = [
            ("api.mesh.local", "api.mesh.local"),
            ("API.Mesh.Local", "api.mesh.local"),
            ("reviews.default.svc.cluster.local", "*.default.svc.cluster.local"),
            ("a.reviews.default.svc.cluster.local", "default.mesh.local"),
            ("other.mesh.local", "default.mesh.local"),
            (nil, "default.mesh.local"),
        ]
        for (sent, certificateName) in cases {
            let pair = try TLSEnginePair(client: client, serverName: sent, server: server)
            XCTAssertNil(pair.handshake().client, "\(sent ?? "no SNI")")
            XCTAssertEqual(pair.server.serverName, sent, "the server sees what the client sent")
            XCTAssertEqual(pair.client.peerSubjectAltNames.dnsNames, [certificateName], "\(sent ?? "no SNI")")
        }
        // The client checks the name it asked for against the certificate, wildcards included.
        let verified = try TLSEnginePair(client: client, serverName: "ratings.default.svc.cluster.local", verifyHost: "ratings.default.svc.cluster.local",
                                         server: server)
        XCTAssertNil(verified.handshake().client)
        let wrongHost = try TLSEnginePair(client: client, serverName: "other.mesh.local", verifyHost: "other.mesh.local", server: server)
        let refused = wrongHost.handshake()
        XCTAssertEqual(refused.client?.reasons, ["certificate verify failed"])
        XCTAssertEqual(refused.client?.verifyResult, "hostname mismatch")
        XCTAssertTrue(refused.server?.description.contains("alert") == true, "the server hears why: \(refused.server?.description ?? "nothing")")
    }

    func testMutualTLSWithSPIFFENames() throws {
        let server = try serverContext(clientNames: [.spiffePrefix("spiffe://cluster.local/ns/default/")])
        let sleep = try authority.issueWorkload(namespace: "default", serviceAccount: "sleep", lifetimeSeconds: 600)
        let reviews = SubjectAltNameMatcher.spiffe("spiffe://cluster.local/ns/default/sa/reviews")
        let pair = try TLSEnginePair(client: clientContext(identity: sleep), serverName: "outbound_.9080_._.reviews.default.svc.cluster.local",
                                     peerNames: [reviews], server: server)
        let outcome = pair.handshake()
        XCTAssertNil(outcome.client)
        XCTAssertNil(outcome.server)
        XCTAssertEqual(pair.server.peerIdentity, SPIFFEIdentity(namespace: "default", serviceAccount: "sleep"))
        XCTAssertEqual(pair.server.peerSubjectAltNames.uris, ["spiffe://cluster.local/ns/default/sa/sleep"])
        XCTAssertEqual(pair.client.peerIdentity?.uri, "spiffe://cluster.local/ns/default/sa/reviews")
        XCTAssertEqual(try pair.send("ping", from: pair.client), "ping")
    }

    /// Leaves issued by an intermediate authority: each side sends the intermediate in its chain (the context's
    /// default certificate, one chosen by SNI, and a client's), and the peer trusts the root alone.
    func testChainsThroughAnIntermediateAuthority() throws {
        let intermediate = try authority.issueIntermediate()
        var identities = ServerNameMap(default: try intermediate.issueServer(dnsNames: ["default.mesh.local"]))
        identities["api.mesh.local"] = try intermediate.issueServer(dnsNames: ["api.mesh.local"])
        var configuration = TLSServerConfiguration(identities: identities)
        configuration.trustedClientAuthorities = [authority.certificate]
        let server = try TLSServerContext(configuration)
        let sleep = try intermediate.issueWorkload(namespace: "default", serviceAccount: "sleep")
        XCTAssertEqual(sleep.chain.count, 2)
        let client = try clientContext(identity: sleep)
        for name in ["api.mesh.local", "default.mesh.local"] {
            let pair = try TLSEnginePair(client: client, serverName: name, verifyHost: name, server: server)
            let outcome = pair.handshake()
            XCTAssertNil(outcome.client, name)
            XCTAssertNil(outcome.server, name)
            XCTAssertEqual(pair.client.peerSubjectAltNames.dnsNames, [name])
            XCTAssertEqual(pair.server.peerIdentity?.serviceAccount, "sleep")
        }
        // Without its intermediate, the root cannot vouch for the leaf.
        let bare = try TLSServerContext(TLSServerConfiguration(identity: TLSIdentity(chain: [identities.defaultValue.chain[0]], key: identities.defaultValue.key)))
        let refused = try TLSEnginePair(client: client, server: bare).handshake()
        XCTAssertEqual(refused.client?.verifyResult, "unable to get local issuer certificate")
    }

    func testMutualTLSRefusalsSayWhy() throws {
        let server = try serverContext(clientNames: [.spiffePrefix("spiffe://cluster.local/ns/default/")])

        // A client from another namespace: its chain verifies, its name does not.
        let stranger = try authority.issueWorkload(namespace: "other", serviceAccount: "sleep")
        let wrongName = try TLSEnginePair(client: clientContext(identity: stranger), server: server).handshake()
        XCTAssertEqual(wrongName.server?.reasons, ["certificate verify failed"])
        XCTAssertEqual(wrongName.server?.verifyResult, "application verification failure")
        XCTAssertEqual(wrongName.server?.peerNameProblem,
                       "the peer certificate's SANs [URI:spiffe://cluster.local/ns/other/sa/sleep] match none of [URI:spiffe://cluster.local/ns/default/*]")

        // No client certificate at all.
        let anonymous = try TLSEnginePair(client: clientContext(), server: server)
        let noCertificate = anonymous.handshake()
        XCTAssertTrue(noCertificate.server?.reasons.contains("peer did not return a certificate") == true, "\(noCertificate.server?.description ?? "accepted")")
        // In TLS 1.3 the client finishes first and hears the refusal on its next read.
        let heard = TLSEnginePair.drain(anonymous.client)
        guard case .failure(let clientError) = heard else { return XCTFail("the client read on after a refusal: \(heard)") }
        XCTAssertTrue(clientError.description.contains("alert certificate required"), clientError.description)

        // A certificate from an authority the server does not trust.
        let otherAuthority = try CertificateAuthority(trustDomain: "cluster.local")
        let forged = try otherAuthority.issueWorkload(namespace: "default", serviceAccount: "sleep")
        let untrusted = try TLSEnginePair(client: clientContext(identity: forged), server: server).handshake()
        XCTAssertEqual(untrusted.server?.verifyResult, "unable to get local issuer certificate")
        XCTAssertNil(untrusted.server?.peerNameProblem, "the chain failed before any name was looked at")

        // The client refuses a server whose SPIFFE name is not the one expected.
        let sleep = try authority.issueWorkload(namespace: "default", serviceAccount: "sleep")
        let expected = SubjectAltNameMatcher.spiffe("spiffe://cluster.local/ns/default/sa/ratings")
        let wrongServer = try TLSEnginePair(client: clientContext(identity: sleep), peerNames: [expected], server: server).handshake()
        XCTAssertEqual(wrongServer.client?.peerNameProblem,
                       "the peer certificate's SANs [URI:spiffe://cluster.local/ns/default/sa/reviews] match none of [URI:spiffe://cluster.local/ns/default/sa/ratings]")
        XCTAssertTrue(wrongServer.client?.description.hasPrefix("TLS handshake failed: certificate verify failed (certificate verification: application verification failure)") == true,
                      wrongServer.client?.description ?? "")
    }

    /// The second connection resumes the first one's session: TLS 1.3 by ticket, TLS 1.2 by ticket and by session id.
    func testSessionResumption() throws {
        let cases: [(version: TLSVersion, tickets: Bool)] = [(.v1_3, true), (.v1_2, true), (.v1_2, false)]
        for (version, tickets) in cases {
            let label = "\(version) \(tickets ? "ticket" : "session id")"
            let sleep = try authority.issueWorkload(namespace: "default", serviceAccount: "sleep")
            let server = try serverContext(versions: version ... version, clientNames: [.spiffePrefix("spiffe://cluster.local/")], tickets: tickets)
            let client = try clientContext(identity: sleep)
            let first = try TLSEnginePair(client: client, serverName: "reviews.default", server: server)
            XCTAssertNil(first.handshake().client, label)
            XCTAssertFalse(first.client.isResumed, label)
            XCTAssertEqual(try first.send("one", from: first.server), "one", "the client reads, and so takes the TLS 1.3 tickets too")

            let second = try TLSEnginePair(client: client, serverName: "reviews.default", server: server)
            XCTAssertNil(second.handshake().server, label)
            XCTAssertTrue(second.client.isResumed, label)
            XCTAssertTrue(second.server.isResumed, label)
            XCTAssertEqual(second.server.peerIdentity?.serviceAccount, "sleep", "a resumed session keeps the client's identity (\(label))")
            XCTAssertEqual(try second.send("two", from: second.client), "two")

            let otherName = try TLSEnginePair(client: client, serverName: "ratings.default", server: server)
            XCTAssertNil(otherName.handshake().client)
            XCTAssertFalse(otherName.client.isResumed, "sessions are kept per server name (\(label))")
        }
    }

    /// 50 MiB through a consumer that reads 4 KiB at a time and a network that moves 8 KiB a step. The writer keeps
    /// its output under a watermark and scribbles over its own buffer after every write: nothing may be lost,
    /// reordered, or taken from a buffer after the write returned.
    func testFiftyMebibytesToASlowReaderArriveWhole() throws {
        let pair = try TLSEnginePair(client: clientContext(), server: serverContext())
        XCTAssertNil(pair.handshake().client)
        let total = 50 * 1024 * 1024
        let watermark = 256 * 1024
        let pattern = (0..<(70_000)).map { UInt8($0 % 251) }
        var scratch = [UInt8](repeating: 0, count: 65_536)
        var readBuffer = [UInt8](repeating: 0, count: 4096)
        var sent = 0, received = 0, peakOutput = 0, writeSize = 1, steps = 0
        var closed = false
        while !closed {
            steps += 1
            while sent < total && pair.server.pendingOutputBytes < watermark {
                let count = min(total - sent, writeSize)
                writeSize = writeSize * 7 % 65_521 + 1  // sizes from 1 byte to 64 KiB
                try scratch.withUnsafeMutableBytes { space in
                    pattern.withUnsafeBytes { space.baseAddress!.copyMemory(from: $0.baseAddress! + sent % 251, byteCount: count) }
                    try pair.server.write(UnsafeRawBufferPointer(rebasing: space[0..<count]))
                    space.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0xEE, count: count)
                }
                sent += count
                if sent == total { pair.server.close() }
            }
            peakOutput = max(peakOutput, pair.server.pendingOutputBytes)
            let result = try readBuffer.withUnsafeMutableBytes { space in try pair.client.read(into: space) }
            switch result {
            case .bytes(let count):
                let intact = readBuffer.withUnsafeBytes { got in pattern.withUnsafeBytes { memcmp(got.baseAddress!, $0.baseAddress! + received % 251, count) == 0 } }
                guard intact else { return XCTFail("bytes \(received)..<\(received + count) differ") }
                received += count
            case .needsInput:
                guard TLSEnginePair.move(from: pair.server, to: pair.client, limit: 8192) > 0 else { return XCTFail("stalled at \(received) of \(total)") }
            case .closed:
                closed = true
            }
        }
        XCTAssertEqual(received, total)
        XCTAssertTrue(pair.client.receivedCloseNotify)
        XCTAssertLessThan(peakOutput, watermark + 128 * 1024, "the writer's watermark bounds the waiting output")
        XCTAssertGreaterThan(steps, total / 8192, "the reader, not the writer, set the pace")
    }

    func testCloseNotifyBothWaysAndTruncation() throws {
        let pair = try TLSEnginePair(client: clientContext(), server: serverContext())
        XCTAssertNil(pair.handshake().client)
        pair.client.close()
        XCTAssertTrue(pair.client.sentCloseNotify)
        TLSEnginePair.move(from: pair.client, to: pair.server)
        var buffer = [UInt8](repeating: 0, count: 64)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { space in try pair.server.read(into: space) }, .closed)
        XCTAssertTrue(pair.server.receivedCloseNotify)
        // Half-closed: the server may still answer, then closes its side.
        XCTAssertEqual(try pair.send("last words", from: pair.server), "last words")
        pair.server.close()
        TLSEnginePair.move(from: pair.server, to: pair.client)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { space in try pair.client.read(into: space) }, .closed)
        XCTAssertTrue(pair.client.receivedCloseNotify && pair.server.sentCloseNotify)

        // A peer that stops without close_notify may have been cut short: the read says so instead of ending quietly.
        let cut = try TLSEnginePair(client: clientContext(), server: serverContext())
        XCTAssertNil(cut.handshake().client)
        _ = try Array("partial".utf8).withUnsafeBytes { bytes in try cut.server.write(bytes) }
        buffer.withUnsafeMutableBytes { space in
            let partOfTheRecord = cut.server.takeOutput(into: UnsafeMutableRawBufferPointer(rebasing: space[0..<10]))
            cut.client.receive(UnsafeRawBufferPointer(rebasing: space[0..<partOfTheRecord]))
        }
        cut.client.receiveEndOfInput()
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { space in try cut.client.read(into: space) }) {
            XCTAssertEqual(($0 as? TLSError)?.reasons, ["unexpected eof while reading"])
        }
    }
}
