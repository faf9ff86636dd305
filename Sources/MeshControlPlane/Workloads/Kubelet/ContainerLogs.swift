import Foundation
import Manifests

/// Where containers' output goes: one file per container start, `pods/NAMESPACE_POD_UID/CONTAINER/N.log` under the
/// state directory (N the restart count it started at), each line as the CRI writes it:
/// `2026-11-30T12:00:00.123456789Z stdout F the line`.
struct ContainerLogFiles: Sendable {
    let root: URL

    func podDirectory(namespace: String, name: String, uid: String) -> URL {
        root.appendingPathComponent("\(namespace)_\(name)_\(uid)")
    }

    func file(namespace: String, name: String, uid: String, container: String, restart: Int) -> URL {
        podDirectory(namespace: namespace, name: name, uid: uid).appendingPathComponent(container).appendingPathComponent("\(restart).log")
    }

    /// The container's log files, oldest first.
    func files(namespace: String, name: String, uid: String, container: String) -> [URL] {
        let directory = podDirectory(namespace: namespace, name: name, uid: uid).appendingPathComponent(container)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasSuffix(".log"), let number = Int(name.dropLast(4)) else { return nil }
            return (number, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// At most `limit` bytes of `file` from `offset` on: a follow reads what is new, not the whole file again each time.
    static func bytes(of file: URL, from offset: Int, limit: Int = 1 << 20) -> [UInt8] {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return [] }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(max(0, offset)))
            return Array(try handle.read(upToCount: limit) ?? Data())
        } catch { return [] }
    }
}

/// Copies a process's stdout and stderr into its log file, a line at a time with the time it arrived.
final class ContainerLogWriter: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var sources: [DispatchSourceRead] = []
    private var open = 2
    private let done: @Sendable () -> Void
    /// A line longer than this is written in parts (tag P), as the CRI does.
    static let longestLine = 16 * 1024

    init(file: URL, stdout: Int32, stderr: Int32, queue: DispatchQueue, done: @escaping @Sendable () -> Void) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        fd = Foundation.open(file.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            close(stdout); close(stderr)
            throw ChildProcess.SpawnError(description: "cannot open \(file.path): \(String(cString: strerror(errno)))")
        }
        self.done = done
        for (input, stream) in [(stdout, "stdout"), (stderr, "stderr")] {
            _ = fcntl(input, F_SETFL, fcntl(input, F_GETFL) | O_NONBLOCK)
            let source = DispatchSource.makeReadSource(fileDescriptor: input, queue: queue)
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            // The sources keep the writer alive until both pipes have closed (then `closedOne` lets them go).
            source.setEventHandler { [self] in
                let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
                    if !pending.isEmpty { write(stream, pending, partial: false); pending = [] }
                    source.cancel()
                    return
                }
                pending += buffer[0..<count]
                while let newline = pending.firstIndex(of: 10) {
                    write(stream, Array(pending[..<newline]), partial: false)
                    pending.removeSubrange(...newline)
                }
                while pending.count > Self.longestLine {
                    write(stream, Array(pending.prefix(Self.longestLine)), partial: true)
                    pending.removeFirst(Self.longestLine)
                }
            }
            source.setCancelHandler { [self] in
                close(input)
                closedOne()
            }
            sources.append(source)
        }
        for source in sources { source.resume() }
    }

    private func write(_ stream: String, _ line: [UInt8], partial: Bool) {
        let stamp = LogLine.timestamp(Date())
        let bytes = Array("\(stamp) \(stream) \(partial ? "P" : "F") ".utf8) + line + [10]
        lock.lock(); defer { lock.unlock() }
        _ = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    }

    private func closedOne() {
        lock.lock()
        open -= 1
        let last = open == 0
        if last { close(fd); sources = [] }
        lock.unlock()
        if last { done() }
    }
}

/// One line of a container log file.
struct LogLine {
    let time: Date
    let timestampText: String
    let content: [UInt8]
    let partial: Bool

    static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let whole = seconds.rounded(.down)
        let nanos = Int((seconds - whole) * 1e9)
        let base = Timestamps.format(Date(timeIntervalSince1970: whole))
        return String(base.dropLast()) + "." + String(format: "%09d", nanos) + "Z"
    }

    /// The lines of a log file's bytes (a last line without its newline is still being written and is left out).
    static func parse(_ bytes: [UInt8]) -> [LogLine] {
        var lines: [LogLine] = []
        var start = 0
        while let end = bytes[start...].firstIndex(of: 10) {
            let line = bytes[start..<end]
            start = end + 1
            let fields = line.split(separator: 32, maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            let stamp = String(decoding: fields[0], as: UTF8.self)
            let seconds = Timestamps.parse(String(stamp.prefix(19)) + "Z")?.timeIntervalSince1970 ?? 0
            let fraction = stamp.split(separator: ".").dropFirst().first.flatMap { Double("0." + $0.dropLast()) } ?? 0
            lines.append(LogLine(time: Date(timeIntervalSince1970: seconds + fraction), timestampText: stamp,
                                 content: fields.count > 3 ? Array(fields[3]) : [], partial: fields[2].first == UInt8(ascii: "P")))
            if start >= bytes.count { break }
        }
        return lines
    }
}
