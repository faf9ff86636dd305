import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The memory of one echo pod: `meshctl x echo` as local mode's kubelet starts it, idle after start-up and after
/// 1,000 requests. `MESHCTL_BENCH_ONLY=echo` runs only this part.
enum EchoFootprint {
    static func rows(meshctl: String, workdir: String) -> [Row] {
        let address = "127.\(Int.random(in: 32...90)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
        let port = 18_080
        let log = URL(fileURLWithPath: workdir).appendingPathComponent("echo-bench.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: meshctl)
        process.arguments = ["x", "echo"]
        process.environment = ["POD_IP": address, "PORT": String(port), "POD_NAME": "echo-bench", "PATH": "/usr/bin:/bin"]
        guard let output = try? FileHandle(forWritingTo: log) else { return [failed("cannot write \(log.path)")] }
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch { return [failed("\(error)")] }
        defer { process.terminate(); process.waitUntilExit() }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains(" serving ") {
            guard process.isRunning else { return [failed((try? String(contentsOf: log, encoding: .utf8)) ?? "it exited")] }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let idle = residentKiB(process.processIdentifier)
        var answered = 0
        for _ in 0..<1000 where request(address: address, port: port) { answered += 1 }
        let busy = residentKiB(process.processIdentifier)
        return [
            Row(benchmark: "echo pod (meshctl x echo) RSS, idle after start", result: megabytes(idle), reference: "",
                note: "one per meshctl/echo container"),
            Row(benchmark: "echo pod RSS after \(answered) requests (one connection each)", result: megabytes(busy),
                reference: "", note: answered == 1000 ? "" : "\(1000 - answered) requests failed"),
        ]
    }

    private static func failed(_ why: String) -> Row { Row(benchmark: "echo pod RSS", result: "failed", reference: "", note: why) }

    /// A process's resident memory in KiB: all its pages (RSS), and its proportional share (PSS), which counts the
    /// pages of the meshctl binary and the libraries that every echo pod shares once among them.
    static func residentKiB(_ pid: Int32) -> (rss: Int, pss: Int) {
        guard let file = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps_rollup") else { return (0, 0) }
        defer { try? file.close() }
        let lines = String(decoding: file.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        func field(_ name: String) -> Int {
            Int(lines.first { $0.hasPrefix(name + ":") }?.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return (field("Rss"), field("Pss"))
    }

    private static func megabytes(_ memory: (rss: Int, pss: Int)) -> String {
        String(format: "%.1f MB (PSS %.1f MB)", Double(memory.rss) / 1024, Double(memory.pss) / 1024)
    }

    /// One GET on a new connection; whether a 200 came back.
    private static func request(address: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, address, &target.sin_addr)
        let connected = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { return false }
        let request = Array("GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return false }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            received += chunk[0..<count]
        }
        return received.starts(with: Array("HTTP/1.1 200".utf8))
    }
}
