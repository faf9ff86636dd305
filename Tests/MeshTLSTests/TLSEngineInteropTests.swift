import Foundation
import MeshTestSupport
import XCTest
@testable import MeshNet
@testable import MeshTLS

/// The engine over real loopback sockets against the real `openssl s_server` and `openssl s_client`: ALPN, SNI,
/// mTLS (`-Verify`), and resumption (the server's cache; `-sess_out`/`-sess_in`).
final class TLSEngineInteropTests: XCTestCase {
    private static let authority = try! CertificateAuthority()
    private var authority: CertificateAuthority { Self.authority }
    private var directory: URL!
    private var processes: [ToolProcess] = []

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: ToolProcess.openssl) else {
            throw XCTSkip("no \(ToolProcess.openssl) (apt-get install openssl): the interoperability cases need it")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for process in processes { process.stop() }
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Writes `identity` as NAME.crt and NAME.key, and the authority as ca.crt; returns the paths.
    private func files(_ identity: TLSIdentity, _ name: String) throws -> (certificate: String, key: String, authority: String) {
        let certificate = directory.appendingPathComponent("\(name).crt"), key = directory.appendingPathComponent("\(name).key")
        let authorityFile = directory.appendingPathComponent("ca.crt")
        try Data(identity.chain.first!.pem()).write(to: certificate)
        try Data(identity.key.pem()).write(to: key)
        try Data(authority.certificate.pem()).write(to: authorityFile)
        return (certificate.path, key.path, authorityFile.path)
    }

    private func start(_ arguments: [String]) throws -> ToolProcess {
        let process = try ToolProcess(arguments, log: directory.appendingPathComponent("openssl-\(processes.count).log"))
        processes.append(process)
        return process
    }

    /// `openssl s_server -rev` (answers each line reversed) on a free port.
    private func startServer(_ arguments: [String]) throws -> (ToolProcess, Int) {
        let server = try start(["s_server", "-accept", "127.0.0.1:0", "-rev"] + arguments)
        var port: Int?
        XCTAssertTrue(eventually { port = server.output.split(separator: "\n").first { $0.hasPrefix("ACCEPT ") }.flatMap { Int($0.split(separator: ":").last ?? "") }; return port != nil },
                      "s_server did not listen: \(server.output)")
        return (server, port ?? 0)
    }

    // MARK: The engine as the client, against openssl s_server

    func testClientAgainstSServerWithALPNAndSNI() throws {
        let fallback = try files(authority.issueServer(dnsNames: ["default.mesh.local"]), "default")
        let named = try files(authority.issueServer(dnsNames: ["api.mesh.local"]), "api")
        var configuration = TLSClientConfiguration(trusting: [authority.certificate])
        configuration.applicationProtocols = ApplicationProtocols.mesh
        let context = try TLSClientContext(configuration)

        // s_server answers ALPN only on its first certificate's context, so ALPN and SNI get a server each.
        let (_, alpnPort) = try startServer(["-cert", fallback.certificate, "-key", fallback.key, "-alpn", "h2,http/1.1", "-naccept", "1"])
        let alpn = try BlockingTLSStream(fd: LoopbackSocket.connect(port: alpnPort), engine: TLSEngine(client: context, serverName: "default.mesh.local"))
        try alpn.handshake()
        XCTAssertEqual(alpn.engine.negotiatedProtocol, "h2", "s_server picks its own first choice among ours")
        XCTAssertEqual(try alpn.exchange("hello mesh\n"), "hsem olleh\n")
        alpn.close()

        let (_, sniPort) = try startServer(["-cert", fallback.certificate, "-key", fallback.key, "-servername", "api.mesh.local",
                                            "-cert2", named.certificate, "-key2", named.key, "-naccept", "2"])
        for name in ["api.mesh.local", "default.mesh.local"] {
            let sni = try BlockingTLSStream(fd: LoopbackSocket.connect(port: sniPort), engine: TLSEngine(client: context, serverName: name, verifyHost: name))
            try sni.handshake()
            XCTAssertEqual(sni.engine.peerSubjectAltNames.dnsNames, [name], "s_server chose its certificate by our SNI")
            XCTAssertEqual(try sni.exchange("sni\n"), "ins\n")
            sni.close()
        }
    }

    func testClientCertificateAgainstSServerVerify() throws {
        let server = try files(authority.issueServer(dnsNames: ["api.mesh.local"]), "server")
        let (sServer, port) = try startServer(["-cert", server.certificate, "-key", server.key, "-CAfile", server.authority, "-Verify", "2",
                                               "-verify_return_error", "-naccept", "2"])
        let sleep = try authority.issueWorkload(namespace: "default", serviceAccount: "sleep", lifetimeSeconds: 600)
        let withCertificate = try BlockingTLSStream(fd: LoopbackSocket.connect(port: port),
                                            engine: TLSEngine(client: TLSClientContext(TLSClientConfiguration(trusting: [authority.certificate], identity: sleep)),
                                                              serverName: "api.mesh.local", verifyHost: "api.mesh.local"))
        try withCertificate.handshake()
        XCTAssertEqual(try withCertificate.exchange("mtls\n"), "sltm\n", sServer.output)
        withCertificate.close()  // s_server serves one connection at a time

        let without = try BlockingTLSStream(fd: LoopbackSocket.connect(port: port),
                                    engine: TLSEngine(client: TLSClientContext(trusting: [authority.certificate]), serverName: "api.mesh.local"))
        // In TLS 1.3 the client finishes first and hears the refusal on its next read.
        XCTAssertThrowsError(try { try without.handshake(); return try without.readLine() }()) { error in
            XCTAssertTrue("\(error)".contains("alert certificate required"), "\(error)")
        }
    }

    func testClientResumesWithSServer() throws {
        let server = try files(authority.issueServer(dnsNames: ["api.mesh.local"]), "server")
        for version in [["-tls1_3"], ["-tls1_2"], ["-tls1_2", "-no_ticket"]] {
            let (_, port) = try startServer(["-cert", server.certificate, "-key", server.key, "-naccept", "2"] + version)
            let context = try TLSClientContext(trusting: [authority.certificate])
            var resumed: [Bool] = []
            for _ in 0..<2 {
                let stream = try BlockingTLSStream(fd: LoopbackSocket.connect(port: port), engine: TLSEngine(client: context, serverName: "api.mesh.local"))
                try stream.handshake()
                XCTAssertEqual(try stream.exchange("again\n"), "niaga\n")
                resumed.append(stream.engine.isResumed)
                stream.close()  // OpenSSL resumes only sessions that ended with close_notify
            }
            XCTAssertEqual(resumed, [false, true], "\(version)")
        }
    }

    // MARK: The engine as the server, against openssl s_client

    func testServerAgainstSClientWithSNIALPNAndMutualTLS() throws {
        var identities = ServerNameMap(default: try authority.issueServer(dnsNames: ["default.mesh.local"]))
        identities["*.default.svc.cluster.local"] = try authority.issueWorkload(namespace: "default", serviceAccount: "reviews")
        var configuration = TLSServerConfiguration(identities: identities)
        configuration.applicationProtocols = ApplicationProtocols.mesh
        configuration.trustedClientAuthorities = [authority.certificate]
        configuration.clientNames = [.spiffePrefix("spiffe://cluster.local/ns/default/")]
        let context = try TLSServerContext(configuration)
        let listener = try LoopbackListener()
        let client = try files(authority.issueWorkload(namespace: "default", serviceAccount: "sleep"), "sleep")
        let sClient = try start(["s_client", "-connect", "127.0.0.1:\(listener.port)", "-servername", "reviews.default.svc.cluster.local",
                                 "-alpn", "http/1.1,istio-peer-exchange", "-cert", client.certificate, "-key", client.key,
                                 "-CAfile", client.authority, "-verify_return_error"])
        let stream = try BlockingTLSStream(fd: listener.accept(), engine: TLSEngine(server: context))
        try stream.handshake()
        XCTAssertEqual(stream.engine.serverName, "reviews.default.svc.cluster.local")
        XCTAssertEqual(stream.engine.negotiatedProtocol, "istio-peer-exchange")
        XCTAssertEqual(stream.engine.peerIdentity?.uri, "spiffe://cluster.local/ns/default/sa/sleep")
        sClient.send("ping\n")
        XCTAssertEqual(try stream.readLine(), "ping\n")
        try stream.write("pong\n")
        stream.close()
        XCTAssertTrue(eventually { !sClient.isRunning }, "s_client ends at our close_notify")
        let output = sClient.output
        XCTAssertTrue(output.contains("ALPN protocol: istio-peer-exchange"), output)
        XCTAssertTrue(output.contains("Verify return code: 0 (ok)"), output)
        XCTAssertTrue(output.contains("pong"), output)
    }

    func testServerRefusesSClientWithoutACertificate() throws {
        var configuration = TLSServerConfiguration(identity: try authority.issueServer(dnsNames: ["api.mesh.local"]))
        configuration.trustedClientAuthorities = [authority.certificate]
        let listener = try LoopbackListener()
        _ = try start(["s_client", "-connect", "127.0.0.1:\(listener.port)", "-servername", "api.mesh.local"])
        let stream = try BlockingTLSStream(fd: listener.accept(), engine: TLSEngine(server: TLSServerContext(configuration)))
        XCTAssertThrowsError(try stream.handshake()) { error in
            XCTAssertEqual((error as? TLSError)?.reasons, ["peer did not return a certificate"])
        }
    }

    func testServerResumesSClientSessions() throws {
        let identity = try authority.issueServer(dnsNames: ["api.mesh.local"])
        for (flags, tickets) in [(["-tls1_3"], true), (["-tls1_2"], false)] {
            var configuration = TLSServerConfiguration(identity: identity)
            configuration.sessionTickets = tickets
            let context = try TLSServerContext(configuration)
            let listener = try LoopbackListener()
            let session = directory.appendingPathComponent("session-\(tickets).pem").path
            var reused: [Bool] = []
            for (round, sessionFlag) in ["-sess_out", "-sess_in"].enumerated() {
                let sClient = try start(["s_client", "-connect", "127.0.0.1:\(listener.port)", "-servername", "api.mesh.local",
                                         sessionFlag, session] + flags)
                let stream = try BlockingTLSStream(fd: listener.accept(), engine: TLSEngine(server: context))
                try stream.handshake()
                reused.append(stream.engine.isResumed)
                sClient.send("ping \(round)\n")
                XCTAssertEqual(try stream.readLine(), "ping \(round)\n")
                try stream.write("pong\n")
                stream.close()
                XCTAssertTrue(eventually { !sClient.isRunning }, "s_client ends at our close_notify")
                XCTAssertTrue(sClient.output.contains(round == 0 ? "New, TLSv1" : "Reused, TLSv1"), sClient.output)
            }
            XCTAssertEqual(reused, [false, true], "\(flags)")
        }
    }
}

/// An `openssl` command run as a child process, its output (stdout and stderr) in a log file.
final class ToolProcess {
    static let openssl = "/usr/bin/openssl"
    private let process = Process()
    private let input = Pipe()
    private let log: URL

    init(_ arguments: [String], log: URL) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: Self.openssl)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

extension BlockingTLSStream {
    func write(_ text: String) throws { try write(Array(text.utf8)) }

    func exchange(_ line: String) throws -> String? {
        try write(line)
        return try readLine()
    }
}

/// A blocking listener on 127.0.0.1 whose accept times out.
final class LoopbackListener {
    let fd: Int32
    let port: Int

    init(timeoutSeconds: Int = 10) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { Glibc.close(fd); throw NetworkError.system("bind") }
        port = Int(UInt16(bigEndian: address.sin_port))
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func accept() throws -> Int32 {
        let connection = Glibc.accept(fd, nil, nil)
        guard connection >= 0 else { throw NetworkError.system("accept") }
        return connection
    }
}
