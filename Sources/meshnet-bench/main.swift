import Foundation
import MeshNet
import MeshHTTP1
#if canImport(Glibc)
import Glibc
#endif

// MeshNet's benchmarks, kept apart from meshctl-bench so that a release build of MeshNet alone runs them:
//   meshnet-bench http WORKDIR [MALLOC_COUNTER.so]   the rows below, as a table
//   meshnet-bench tls WORKDIR [TLS_HANDSHAKE]          TLS handshakes a second in memory (TLSHandshakeRows.swift),
//                                                     beside bench/tls_handshake.c when its binary is given
//   meshnet-bench hello-server                        the server under test (the rows start it as a child)
//   meshnet-bench h2-hello-server                     the same over h2c (MeshHTTP2), for the h2load rows
// A hello-world HTTP/1.1 server on MeshNet against nginx's `return 200`, each on one worker thread, measured by wrk
// on loopback; and heap allocations per keep-alive request, counted in the server process by a preloaded malloc
// counter (bench/malloc_counter.c).

let hello = Array("hello\n".utf8)

/// `meshnet-bench hello-server`: serves `hello` on one loop, prints its port, runs until stdin closes. Under the
/// malloc counter (LD_PRELOAD) `GET /allocations` answers the process's allocation count so far.
func runHelloServer() -> Never {
    typealias Count = @convention(c) () -> UInt
    let counter: Count? = dlopen(nil, RTLD_NOW).flatMap { dlsym($0, "meshbench_allocations") }.map { unsafeBitCast($0, to: Count.self) }
    raiseDescriptorLimit()
    serveUntilStdinCloses(name: "hello-server") { loop in
        // A long head timeout, so the idle-connections row's connections stay for the whole row.
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil, headTimeout: 600) { request, responder in
            if request.target == "/allocations", let counter {
                responder.respond(HTTPResponse(status: 200, headers: [], body: Array(String(counter()).utf8)))
            } else {
                responder.respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: hello))
            }
        }
        server.start()
        return server.port
    }
}

/// Starts a server on one new loop (`start` returns its port), prints the port, and runs until stdin closes.
func serveUntilStdinCloses(name: String, _ start: (EventLoop) throws -> Int) -> Never {
    do {
        let loop = try EventLoop(name: name)
        loop.start()
        let port = try start(loop)
        FileHandle.standardOutput.write(Data("\(port)\n".utf8))
        while getchar() != EOF {}
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
        exit(1)
    }
}

/// Lets this process open as many descriptors as its hard limit allows (10,000 idle connections need them).
func raiseDescriptorLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// The CPUs load tools and servers under test run on, when the machine has two or more: servers on CPU 1, load
/// tools (wrk, h2load) on CPU 0, the same for nginx and MeshNet. Left to the scheduler, a one-connection run is
/// fast when it happens to put wrk and the server on one core (a wake-up is then a context switch) and 2-3x
/// slower when it puts them on two (a wake-up is then an interrupt to another, often halted, virtual CPU), and
/// it chooses differently from run to run. MESHNET_BENCH_PIN=0 leaves placement to the scheduler.
enum Placement {
    static let enabled = sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 && ProcessInfo.processInfo.environment["MESHNET_BENCH_PIN"] != "0"
    static let serverCPU = 1
    static let loadCPU = 0

    static let taskset = "/usr/bin/taskset"

    /// Moves every thread of `pid` onto the servers' CPU (`taskset -a -p`).
    static func pinServer(_ pid: Int32) {
        guard enabled, FileManager.default.isExecutableFile(atPath: taskset) else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: taskset)
        process.arguments = ["-a", "-p", "-c", String(serverCPU), String(pid)]
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }

    /// A load tool's command line, run on the load tools' CPU through taskset (so its threads start there).
    static func loadCommand(_ binary: String, _ arguments: [String]) -> (String, [String]) {
        guard enabled, FileManager.default.isExecutableFile(atPath: taskset) else { return (binary, arguments) }
        return (taskset, ["-c", String(loadCPU), binary] + arguments)
    }

    /// How the rows were placed, for their notes.
    static var note: String {
        enabled && FileManager.default.isExecutableFile(atPath: taskset) ? "servers on CPU \(serverCPU), load tool on CPU \(loadCPU)" : "not pinned"
    }
}

/// A process's resident set in bytes, from /proc/PID/status.
private func residentBytes(pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
}

/// The idle-connections row: wrk -c1 against two servers in turns, one alone and one holding `count` idle
/// connections, so the machine's noise falls on both alike. Two processes of one binary differ by a few percent
/// on their own (where their heaps and stacks land, which CPU caches they share with wrk), which is as large as what
/// is measured; so the pair is first measured with neither holding anything, and the cost is the crowded
/// process's ratio to the other with the connections over that same ratio without them.
func idleConnectionRow(count: Int, seconds: Int) -> Row {
    let label = "HTTP/1.1 hello, wrk -t1 -c1 beside \(count) idle connections (1 loop)"
    do {
        raiseDescriptorLimit()
        let alone = try startHelloServer(preload: nil)
        defer { alone.stop() }
        let crowded = try startHelloServer(preload: nil)
        defer { crowded.stop() }
        let pid = crowded.process.processIdentifier
        let rounds = 5
        /// Runs both in turns; the medians' ratio crowded/alone and the runs themselves.
        func inTurns() -> (ratio: Double, alone: [Run], crowded: [Run])? {
            _ = wrk(port: alone.port, connections: 1, seconds: 1)
            _ = wrk(port: crowded.port, connections: 1, seconds: 1)
            var aloneRuns: [Run] = [], crowdedRuns: [Run] = []
            for _ in 0..<rounds {
                if let result = measure(alone, connections: 1, seconds: seconds) { aloneRuns.append(result) }
                if let result = measure(crowded, connections: 1, seconds: seconds) { crowdedRuns.append(result) }
            }
            guard !aloneRuns.isEmpty, !crowdedRuns.isEmpty else { return nil }
            return (median(crowdedRuns.map(\.rate)) / median(aloneRuns.map(\.rate)), aloneRuns, crowdedRuns)
        }
        guard let before = inTurns() else { return Row(benchmark: label, result: "skipped", reference: "", note: "no /usr/bin/wrk (apt-get install wrk)") }
        let rssBefore = residentBytes(pid: pid)
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<count { idle.append(try LoopbackSocket.connect(port: crowded.port)) }
        // Every connection accepted and set up (its descriptor open in the server) before measuring.
        let deadline = Date().addingTimeInterval(60)
        while (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0 < count, Date() < deadline { usleep(20_000) }
        guard let with = inTurns() else { return Row(benchmark: label, result: "skipped", reference: "", note: "no /usr/bin/wrk (apt-get install wrk)") }
        let rssCrowded = residentBytes(pid: pid)
        let cost = 1 - with.ratio / before.ratio
        return Row(benchmark: label, result: String(format: "%.0f req/s", median(with.crowded.map(\.rate))),
                   reference: String(format: "alone %.0f req/s", median(with.alone.map(\.rate))),
                   note: String(format: "median of %d in turns; cost %.1f%% (goal < 10%%): ratio to the other process %.3f with them, %.3f before; CPU per request %.1f us vs %.1f us alone (%.1f vs %.1f before); server RSS %.1f MiB with them, %.1f MiB before (goal < 50 MiB); ",
                                rounds, cost * 100, with.ratio, before.ratio,
                                median(with.crowded.map(\.cpuMicroseconds)), median(with.alone.map(\.cpuMicroseconds)),
                                median(before.crowded.map(\.cpuMicroseconds)), median(before.alone.map(\.cpuMicroseconds)),
                                Double(rssCrowded) / 1048576, Double(rssBefore) / 1048576) + Placement.note)
    } catch {
        return Row(benchmark: label, result: "failed", reference: "", note: "\(error)")
    }
}

/// A server process under test; ends when dropped from `stop`.
struct ServerProcess {
    let process: Process
    let input: Pipe?
    let port: Int

    func stop() {
        if let input { try? input.fileHandleForWriting.close() } else { process.terminate() }
        process.waitUntilExit()
    }
}

func startHelloServer(preload: String?, mode: String = "hello-server") throws -> ServerProcess {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = [mode]
    var environment = ProcessInfo.processInfo.environment
    if let preload { environment["LD_PRELOAD"] = preload }
    process.environment = environment
    let output = Pipe(), input = Pipe()
    process.standardOutput = output
    process.standardInput = input
    try process.run()
    var line: [UInt8] = []
    while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
    guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw BenchError("the hello server did not say its port") }
    // Its loop thread exists once it has said its port.
    Placement.pinServer(process.processIdentifier)
    return ServerProcess(process: process, input: input, port: port)
}

private func freePort() throws -> Int {
    let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: try EventLoop(name: "port-probe"))
    defer { close(listener.fd) }
    return listener.port
}

/// nginx with one worker answering `return 200 "hello\n"`; over h2c with prior knowledge when `http2` (then without
/// nginx's default of closing a connection after 1,000 requests, which would make h2load reconnect mid-run).
func startNginx(workdir: String, http2: Bool = false) throws -> ServerProcess? {
    let binary = "/usr/sbin/nginx"
    guard FileManager.default.isExecutableFile(atPath: binary) else { return nil }
    let port = try freePort()
    // nginx reads relative paths from its prefix: give it absolute ones.
    let directory = URL(fileURLWithPath: workdir).appendingPathComponent("nginx").standardizedFileURL.path
    try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
    let config = """
        worker_processes 1;
        daemon off;
        master_process off;
        pid \(directory)/nginx.pid;
        error_log \(directory)/logs/error.log;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(directory)/body;
            proxy_temp_path \(directory)/proxy;
            fastcgi_temp_path \(directory)/fastcgi;
            uwsgi_temp_path \(directory)/uwsgi;
            scgi_temp_path \(directory)/scgi;
            server {
                listen 127.0.0.1:\(port)\(http2 ? " http2" : "");\(http2 ? "\n            keepalive_requests 1000000;" : "")
                location / { default_type text/plain; return 200 "hello\\n"; }
            }
        }
        """
    try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["-p", directory, "-e", directory + "/logs/error.log", "-c", directory + "/nginx.conf"]
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if (try? BlockingClient(port: port)) != nil {
            Placement.pinServer(process.processIdentifier)
            return ServerProcess(process: process, input: nil, port: port)
        }
        usleep(20_000)
    }
    process.terminate()
    throw BenchError("nginx did not start listening (see \(directory)/logs/error.log)")
}

/// One wrk run: requests a second, and the server's CPU time per request (user and system, all its threads).
private struct Run {
    let rate: Double
    let cpuMicroseconds: Double
}

/// Seconds of CPU a process has used so far (utime + stime of /proc/PID/stat, all threads).
private func cpuSeconds(pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return 0 }
    // Fields after the command's closing parenthesis: state is field 3, utime 14 and stime 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// wrk against `server`, with the CPU the server spent per request: on a machine whose load swings, CPU time
/// per request is the steadier measure of what a request costs.
private func measure(_ server: ServerProcess, connections: Int, seconds: Int) -> Run? {
    let pid = server.process.processIdentifier
    let before = cpuSeconds(pid: pid)
    guard let (rate, requests) = wrkRun(port: server.port, connections: connections, seconds: seconds), requests > 0 else { return nil }
    return Run(rate: rate, cpuMicroseconds: (cpuSeconds(pid: pid) - before) * 1e6 / Double(requests))
}

/// wrk's requests/s against `port`, or nil when wrk is missing or says nothing.
private func wrk(port: Int, connections: Int, seconds: Int) -> Double? {
    wrkRun(port: port, connections: connections, seconds: seconds)?.0
}

/// wrk's requests/s and request count against `port`, or nil when wrk is missing or says nothing.
private func wrkRun(port: Int, connections: Int, seconds: Int) -> (Double, Int)? {
    guard let text = loadToolOutput("/usr/bin/wrk", ["-t1", "-c\(connections)", "-d\(seconds)s", "--timeout", "2s", "http://127.0.0.1:\(port)/"]) else { return nil }
    let lines = text.split(separator: "\n")
    guard let line = lines.first(where: { $0.hasPrefix("Requests/sec:") }),
          let rate = Double(line.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces)) else { return nil }
    // "  123456 requests in 3.00s, ..."
    let requests = lines.first { $0.contains(" requests in ") }.flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
    return (rate, requests)
}

/// Runs a load tool to its end (on the load tools' CPU, see `Placement`) and returns its standard output; nil when
/// it is not installed or cannot start.
func loadToolOutput(_ binary: String, _ arguments: [String]) -> String? {
    guard FileManager.default.isExecutableFile(atPath: binary) else { return nil }
    let (command, commandArguments) = Placement.loadCommand(binary, arguments)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command)
    process.arguments = commandArguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return text
}

/// A blocking keep-alive client for counting: one request, one whole response.
private final class BlockingClient {
    let fd: Int32

    init(port: Int) throws {
        fd = try LoopbackSocket.connect(port: port)
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Sends a GET and returns the response body (Content-Length framing).
    func get(_ target: String) throws -> [UInt8] {
        let request = Array("GET \(target) HTTP/1.1\r\nHost: bench\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { throw BenchError("write failed") }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = data.indices.dropLast(3).first(where: { data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }) {
                let head = String(decoding: data[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if data.count >= end + 4 + length { return Array(data[(end + 4)..<(end + 4 + length)]) }
            }
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { throw BenchError("the server closed the connection") }
            data += buffer[0..<count]
        }
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The HTTP rows: throughput beside nginx at 32 and 1 connections, and allocations per keep-alive request.
func httpServerRows(workdir: String, mallocCounter: String?, seconds: Int) -> [Row] {
    var rows: [Row] = []
    do {
        let ours = try startHelloServer(preload: nil)
        defer { ours.stop() }
        let nginx = try startNginx(workdir: workdir)
        defer { nginx?.stop() }
        // The machine is shared: each server gets five runs, taken in turns, and the median of each counts.
        let rounds = 5
        for connections in [32, 1] {
            let label = "HTTP/1.1 hello, wrk -t1 -c\(connections), median of \(rounds) x \(seconds) s (1 loop vs 1 nginx worker)"
            var mineRuns: [Run] = [], theirRuns: [Run] = []
            // A warm-up second each, not counted: the first run after a change of connection count otherwise pays
            // for connection set-up, page faults of new buffers and the CPU's caches.
            _ = wrk(port: ours.port, connections: connections, seconds: 1)
            if let nginx { _ = wrk(port: nginx.port, connections: connections, seconds: 1) }
            for _ in 0..<rounds {
                if let result = measure(ours, connections: connections, seconds: seconds) { mineRuns.append(result) }
                if let nginx, let result = measure(nginx, connections: connections, seconds: seconds) { theirRuns.append(result) }
            }
            let mine = mineRuns.map(\.rate), theirs = theirRuns.map(\.rate)
            guard !mine.isEmpty else {
                rows.append(Row(benchmark: label, result: "skipped", reference: "", note: "no /usr/bin/wrk (apt-get install wrk)"))
                continue
            }
            guard !theirs.isEmpty else {
                rows.append(Row(benchmark: label, result: String(format: "%.0f req/s", median(mine)), reference: "nginx: not run",
                                note: "no /usr/sbin/nginx (apt-get install nginx)"))
                continue
            }
            let mineCPU = median(mineRuns.map(\.cpuMicroseconds)), theirCPU = median(theirRuns.map(\.cpuMicroseconds))
            rows.append(Row(benchmark: label, result: String(format: "%.0f req/s", median(mine)), reference: String(format: "nginx %.0f req/s", median(theirs)),
                            note: String(format: "ratio %.2f (goal >= 1.00); server CPU per request %.1f us vs nginx %.1f us (ratio %.2f); ",
                                         median(mine) / median(theirs), mineCPU, theirCPU, theirCPU / mineCPU) + Placement.note))
        }
    } catch {
        rows.append(Row(benchmark: "HTTP/1.1 hello vs nginx", result: "failed", reference: "", note: "\(error)"))
    }
    let label = "HTTP/1.1 hello: heap allocations per keep-alive request"
    guard let mallocCounter else {
        rows.append(Row(benchmark: label, result: "skipped", reference: "", note: "no malloc counter library given"))
        return rows
    }
    do {
        let counted = try startHelloServer(preload: mallocCounter)
        defer { counted.stop() }
        let client = try BlockingClient(port: counted.port)
        for _ in 0..<2000 { _ = try client.get("/") }
        let requests = 20_000
        guard let before = UInt(String(decoding: try client.get("/allocations"), as: UTF8.self)) else { throw BenchError("no allocation count") }
        for _ in 0..<requests { _ = try client.get("/") }
        guard let after = UInt(String(decoding: try client.get("/allocations"), as: UTF8.self)) else { throw BenchError("no allocation count") }
        let perRequest = Double(after - before) / Double(requests)
        rows.append(Row(benchmark: label, result: String(format: "%.1f", perRequest), reference: "goal <= 4",
                        note: "malloc/calloc/realloc/memalign calls in the server process over \(requests) requests on one connection"))
    } catch {
        rows.append(Row(benchmark: label, result: "failed", reference: "", note: "\(error)"))
    }
    return rows
}

struct Row {
    var benchmark: String
    var result: String
    var reference: String
    var note: String
}

/// Columns padded to their widest cell; the note runs on.
func printTable(_ rows: [Row]) {
    let all = [Row(benchmark: "BENCHMARK", result: "RESULT", reference: "REFERENCE", note: "NOTE")] + rows
    let widths = [\Row.benchmark, \Row.result, \Row.reference].map { column in all.map { $0[keyPath: column].count }.max() ?? 0 }
    for row in all {
        let cells = zip([row.benchmark, row.result, row.reference], widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }
        print((cells + [row.note]).joined(separator: "   "))
    }
}

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "hello-server":
    runHelloServer()
case "h2-hello-server":
    runHTTP2HelloServer()
case "http" where arguments.count >= 3:
    let seconds = Int(ProcessInfo.processInfo.environment["MESHNET_BENCH_SECONDS"] ?? "") ?? 3
    printTable(httpServerRows(workdir: arguments[2], mallocCounter: arguments.count > 3 ? arguments[3] : nil, seconds: seconds)
               + [idleConnectionRow(count: 10_000, seconds: seconds)] + http2Rows(workdir: arguments[2]))
case "tls" where arguments.count >= 3:
    let seconds = Double(ProcessInfo.processInfo.environment["MESHNET_BENCH_SECONDS"] ?? "") ?? 3
    printTable(tlsHandshakeRows(workdir: arguments[2], reference: arguments.count > 3 ? arguments[3] : nil, seconds: seconds))
default:
    FileHandle.standardError.write(Data("usage: meshnet-bench http WORKDIR [MALLOC_COUNTER.so] | meshnet-bench tls WORKDIR [TLS_HANDSHAKE] | meshnet-bench hello-server | meshnet-bench h2-hello-server\n".utf8))
    exit(64)
}
