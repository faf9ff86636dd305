import Foundation
import Manifests

/// A container's readiness, liveness or startup probe: its handler and timings, with Kubernetes' defaults.
struct Probe {
    enum Handler {
        case http(host: String?, port: Int, path: String, headers: [(String, String)], https: Bool)
        case tcp(host: String?, port: Int)
        case exec([String])
        case unsupported(String)
    }

    let handler: Handler
    let initialDelay: Double
    let period: Double
    let timeout: Double
    let successThreshold: Int
    let failureThreshold: Int

    /// Reads `probe` of `container`; named ports are looked up among the container's ports. nil when there is none.
    init?(_ probe: JSONValue?, container: JSONValue) {
        guard let probe, probe.object != nil else { return nil }
        func port(_ value: JSONValue?) -> Int? {
            if let number = value?.int { return number }
            guard let name = value?.string else { return nil }
            return Int(name) ?? (container["ports"]?.array ?? []).first { $0["name"]?.string == name }?["containerPort"]?.int
        }
        if let http = probe["httpGet"] {
            if let number = port(http["port"]) {
                let headers = (http["httpHeaders"]?.array ?? []).map { ($0["name"]?.string ?? "", $0["value"]?.string ?? "") }
                handler = .http(host: http["host"]?.string, port: number, path: http["path"]?.string ?? "/", headers: headers,
                                https: http["scheme"]?.string?.uppercased() == "HTTPS")
            } else { handler = .unsupported("httpGet port \(http["port"]?.serialized ?? "") names no container port") }
        } else if let tcp = probe["tcpSocket"] {
            if let number = port(tcp["port"]) { handler = .tcp(host: tcp["host"]?.string, port: number) }
            else { handler = .unsupported("tcpSocket port \(tcp["port"]?.serialized ?? "") names no container port") }
        } else if let command = probe["exec"]?["command"]?.array?.compactMap(\.string), !command.isEmpty {
            handler = .exec(command)
        } else if probe["grpc"] != nil {
            handler = .unsupported("gRPC probes are not run by meshctl's local mode")
        } else {
            handler = .unsupported("the probe has no handler")
        }
        initialDelay = Double(probe["initialDelaySeconds"]?.int ?? 0)
        period = Double(max(1, probe["periodSeconds"]?.int ?? 10))
        timeout = Double(max(1, probe["timeoutSeconds"]?.int ?? 1))
        successThreshold = max(1, probe["successThreshold"]?.int ?? 1)
        failureThreshold = max(1, probe["failureThreshold"]?.int ?? 3)
    }

    /// Runs the probe once against a pod at `address`, off the caller's queue; `completion` gets nil on success or why it failed.
    func run(address: String, environment: [String], completion: @escaping @Sendable (String?) -> Void) {
        let handler = handler, timeout = timeout
        DispatchQueue.global().async {
            switch handler {
            case .http(let host, let port, let path, let headers, let https):
                completion(Self.http(host: host ?? address, port: port, path: path, headers: headers, https: https, timeout: timeout))
            case .tcp(let host, let port):
                let result = Self.connect(host: host ?? address, port: port, timeout: timeout)
                if case .failure(let reason) = result { completion(reason.description) } else if case .success(let fd) = result { close(fd); completion(nil) }
            case .exec(let command):
                completion(Self.exec(command, environment: environment, timeout: timeout))
            case .unsupported(let reason):
                completion(reason)
            }
        }
    }

    static func connect(host: String, port: Int, timeout: Double) -> Result<Int32, ProbeFailure> {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return .failure(ProbeFailure("dial tcp \(host):\(port): not an IPv4 address")) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(ProbeFailure("socket: \(String(cString: strerror(errno)))")) }
        let started = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if started != 0 && errno != EINPROGRESS {
            let reason = String(cString: strerror(errno))
            close(fd)
            return .failure(ProbeFailure("dial tcp \(host):\(port): connect: \(reason.lowercased())"))
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, Self.pollMilliseconds(timeout)) == 1 else { close(fd); return .failure(ProbeFailure("dial tcp \(host):\(port): i/o timeout")) }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        guard error == 0 else { close(fd); return .failure(ProbeFailure("dial tcp \(host):\(port): connect: \(String(cString: strerror(error)).lowercased())")) }
        return .success(fd)
    }

    /// `seconds` as poll(2)'s timeout in milliseconds, held below Int32.max: timeoutSeconds is the user's number and
    /// a large one (a month or more) would not fit.
    static func pollMilliseconds(_ seconds: Double) -> Int32 {
        Int32(max(0, min(seconds * 1000, Double(Int32.max))).rounded(.up))
    }

    struct ProbeFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// An HTTP GET; 200 to 399 is success. HTTPS probes are taken as passing once the port accepts a connection
    /// (the kubelet does not verify the certificate either; local mode does not speak TLS here).
    static func http(host: String, port: Int, path: String, headers: [(String, String)], https: Bool, timeout: Double) -> String? {
        let fd: Int32
        switch connect(host: host, port: port, timeout: timeout) {
        case .failure(let reason): return "Get \"http://\(host):\(port)\(path)\": \(reason)"
        case .success(let socket): fd = socket
        }
        defer { close(fd) }
        if https { return nil }
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let bytes = Array((request + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let deadline = Date().addingTimeInterval(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.contains(10) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return "Get \"http://\(host):\(port)\(path)\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)" }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Self.pollMilliseconds(left + 0.001)) == 1 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return "Get \"http://\(host):\(port)\(path)\": EOF" }
            received += buffer[0..<count]
        }
        let statusLine = String(decoding: received.prefix { $0 != 10 }, as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return "Get \"http://\(host):\(port)\(path)\": malformed HTTP response" }
        return (200..<400).contains(status) ? nil : "HTTP probe failed with statuscode: \(status)"
    }

    /// Runs a command; exit code 0 is success. Its output is read and dropped.
    static func exec(_ command: [String], environment: [String], timeout: Double) -> String? {
        let process: ChildProcess
        do { process = try ChildProcess.spawn(command, environment: environment, workingDirectory: nil) } catch { return "exec: \(error)" }
        defer { close(process.stdout); close(process.stderr) }
        for fd in [process.stdout, process.stderr] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            for fd in [process.stdout, process.stderr] { _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if let status = process.exitStatus() {
                return status.code == 0 ? nil : "command \(command.joined(separator: " ")) exited with \(status.code)"
            }
            if Date() >= deadline {
                process.signalGroup(SIGKILL)
                waitpid(process.pid, nil, 0)
                return "command timed out after \(Int(timeout))s"
            }
            usleep(5000)
        }
    }
}
