import Foundation
import MeshNet
import MeshTLS

// TLS handshakes a second, `openssl speed`-style: a client engine and a server engine in this process on one thread,
// their ciphertext moved between memory buffers (no sockets, no loop), so the numbers are the engine's and OpenSSL's
// cost alone. Each case runs beside the same handshakes written directly against OpenSSL in C
// (bench/tls_handshake.c), and the ratio shows what the Swift engine adds.

/// One kind of handshake measured.
struct HandshakeCase {
    let label: String
    /// The C reference's name for the same case.
    let reference: String
    let version: TLSVersion
    let resumed: Bool
    let tickets: Bool
    let mutual: Bool

    static let all = [
        HandshakeCase(label: "TLS 1.3 full handshake (ECDSA P-256, X25519)", reference: "full13", version: .v1_3, resumed: false, tickets: true, mutual: false),
        HandshakeCase(label: "TLS 1.3 resumed handshake (ticket)", reference: "resumed13", version: .v1_3, resumed: true, tickets: true, mutual: false),
        HandshakeCase(label: "TLS 1.3 mTLS full handshake (SPIFFE SAN check)", reference: "mtls13", version: .v1_3, resumed: false, tickets: true, mutual: true),
        HandshakeCase(label: "TLS 1.2 full handshake", reference: "full12", version: .v1_2, resumed: false, tickets: true, mutual: false),
        HandshakeCase(label: "TLS 1.2 resumed handshake (session id)", reference: "resumed12", version: .v1_2, resumed: true, tickets: false, mutual: false),
    ]
}

/// The credentials every case uses, also written as PEM files for the C reference.
struct HandshakeCredentials {
    let authority: CertificateAuthority
    let server: TLSIdentity
    let client: TLSIdentity

    init() throws {
        authority = try CertificateAuthority()
        server = try authority.issueWorkload(namespace: "default", serviceAccount: "reviews")
        client = try authority.issueWorkload(namespace: "default", serviceAccount: "sleep")
    }

    func write(to directory: String) throws {
        let files: [(String, [UInt8])] = [("ca.crt", try authority.certificate.pem()), ("server.crt", try server.chain[0].pem()),
                                          ("server.key", try server.key.pem()), ("client.crt", try client.chain[0].pem()),
                                          ("client.key", try client.key.pem())]
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name)) }
    }
}

/// Handshakes a second for `handshake`, over `seconds`, and the share that resumed.
func measureHandshakes(_ handshake: HandshakeCase, credentials: HandshakeCredentials, seconds: Double) throws -> (perSecond: Double, resumedShare: Double) {
    var serverConfiguration = TLSServerConfiguration(identity: credentials.server)
    serverConfiguration.versions = handshake.version ... handshake.version
    serverConfiguration.sessionTickets = handshake.tickets
    if handshake.mutual {
        serverConfiguration.trustedClientAuthorities = [credentials.authority.certificate]
        serverConfiguration.clientNames = [.spiffePrefix("spiffe://cluster.local/ns/default/")]
    }
    var clientConfiguration = TLSClientConfiguration(trusting: [credentials.authority.certificate], identity: handshake.mutual ? credentials.client : nil)
    clientConfiguration.resumesSessions = handshake.resumed
    // Both sides at the one version, as in the C reference: a client that also offers TLS 1.3 makes a key share for
    // every hello, which a TLS 1.2 server then ignores.
    clientConfiguration.versions = handshake.version ... handshake.version
    let server = try TLSServerContext(serverConfiguration)
    let client = try TLSClientContext(clientConfiguration)
    let peer = [SubjectAltNameMatcher.spiffe("spiffe://cluster.local/ns/default/sa/reviews")]
    var scratch = [UInt8](repeating: 0, count: 16 * 1024)

    func connectOnce() throws -> Bool {
        let clientEngine = try TLSEngine(client: client, serverName: "reviews.default.svc.cluster.local", peerNames: peer)
        let serverEngine = try TLSEngine(server: server)
        for _ in 0..<10 {
            let clientDone = try clientEngine.handshake() == .complete
            try move(from: clientEngine, to: serverEngine)
            let serverDone = try serverEngine.handshake() == .complete
            try move(from: serverEngine, to: clientEngine)
            if clientDone && serverDone { break }
        }
        // The client reads once, taking TLS 1.3's tickets, as a client that goes on to use the connection would.
        _ = try scratch.withUnsafeMutableBytes { space in try clientEngine.read(into: space) }
        guard clientEngine.isHandshakeComplete && serverEngine.isHandshakeComplete else { throw BenchError("a handshake did not complete") }
        return clientEngine.isResumed
    }

    func move(from: TLSEngine, to: TLSEngine) throws {
        while from.pendingOutputBytes > 0 {
            let count = scratch.withUnsafeMutableBytes { from.takeOutput(into: $0) }
            scratch.withUnsafeBytes { to.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    _ = try connectOnce()  // the first session to resume, and warm caches
    var count = 0, resumed = 0
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        for _ in 0..<20 {
            if try connectOnce() { resumed += 1 }
            count += 1
        }
    }
    return (Double(count) / Date().timeIntervalSince(start), Double(resumed) / Double(count))
}

/// The C reference's handshakes a second for one case, or nil when it cannot run.
private func referenceHandshakes(binary: String?, directory: String, seconds: Double, handshake: HandshakeCase) -> Double? {
    guard let binary, FileManager.default.isExecutableFile(atPath: binary) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = [directory, String(seconds), handshake.reference]
    let output = Pipe()
    process.standardOutput = output
    guard (try? process.run()) != nil else { return nil }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let fields = text.split(separator: "\n").first?.split(separator: " ") ?? []
    return fields.count >= 2 && fields[0] == handshake.reference ? Double(fields[1]) : nil
}

/// The TLS rows: each case's handshakes a second through the engine beside the C reference, three runs of each
/// taken in turns (the machine is shared), medians.
func tlsHandshakeRows(workdir: String, reference: String?, seconds: Double) -> [Row] {
    do {
        let credentials = try HandshakeCredentials()
        let directory = URL(fileURLWithPath: workdir).appendingPathComponent("tls").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try credentials.write(to: directory)
        let rounds = 3
        // MESHNET_BENCH_TLS_CASE=resumed12 (the C reference's names) runs one case, for profiling.
        let only = ProcessInfo.processInfo.environment["MESHNET_BENCH_TLS_CASE"]
        return try HandshakeCase.all.filter { only == nil || $0.reference == only }.map { handshake in
            let label = "\(handshake.label), in memory, 1 thread, median of \(rounds)"
            var ours: [Double] = [], theirs: [Double] = [], resumedShare = 1.0
            for _ in 0..<rounds {
                let run = try measureHandshakes(handshake, credentials: credentials, seconds: seconds / Double(rounds))
                ours.append(run.perSecond)
                resumedShare = min(resumedShare, run.resumedShare)
                if let result = referenceHandshakes(binary: reference, directory: directory, seconds: seconds / Double(rounds), handshake: handshake) {
                    theirs.append(result)
                }
            }
            let resumedNote = handshake.resumed ? String(format: "%.0f%% resumed", resumedShare * 100) : ""
            guard !theirs.isEmpty else {
                return Row(benchmark: label, result: String(format: "%.0f /s", median(ours)), reference: "C: not run",
                           note: [resumedNote, "no C reference (bench/tls_handshake.c)"].filter { !$0.isEmpty }.joined(separator: "; "))
            }
            return Row(benchmark: label, result: String(format: "%.0f /s", median(ours)), reference: String(format: "C + OpenSSL %.0f /s", median(theirs)),
                       note: [String(format: "ratio %.2f", median(ours) / median(theirs)), resumedNote].filter { !$0.isEmpty }.joined(separator: "; "))
        }
    } catch {
        return [Row(benchmark: "TLS handshakes in memory", result: "failed", reference: "", note: "\(error)")]
    }
}
