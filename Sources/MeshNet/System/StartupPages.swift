import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The code and constants start-up touched and serving does not: the Swift runtime's first type and conformance
/// lookups read scattered pages of the binary, and the kernel maps the 15 pages around each page read (fault-around),
/// so after start most of a server's resident binary pages are ones no request needs. `release()` takes the pages of the
/// read-only file mappings that hold no private copy (nothing written: code, constants, the libraries' text) out of
/// the process's resident set and marks those mappings MADV_RANDOM, so a page a request needs later comes back alone,
/// from the page cache, on its first touch. Nothing is lost: the pages are the file's own.
public enum StartupPages {
    /// One mapping of /proc/self/smaps.
    public struct Mapping: Equatable, Sendable {
        public var start: UInt
        public var end: UInt
        public var permissions: String
        public var path: String
        public var residentKiB = 0
        public var anonymousKiB = 0
        public var privateDirtyKiB = 0
        public var sharedDirtyKiB = 0

        /// Read-only, from a file, never written (no page of it is a private copy).
        public var holdsOnlyFilePages: Bool {
            path.hasPrefix("/") && !permissions.contains("w") && permissions.hasSuffix("p")
                && anonymousKiB == 0 && privateDirtyKiB == 0 && sharedDirtyKiB == 0
        }
    }

    /// Set (to anything) to keep the pages: for measuring what the release saves.
    public static let keepVariable = "MESHCTL_KEEP_STARTUP_PAGES"

    /// Releases the pages as described above, unless MESHCTL_KEEP_STARTUP_PAGES is set; returns how many mappings
    /// it released. Call it once the server is started (its listeners bound, its loops running).
    @discardableResult
    public static func release() -> Int {
        guard getenv(keepVariable) == nil else { return 0 }
        var released = 0
        for mapping in mappings() where mapping.holdsOnlyFilePages {
            guard let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            let length = Int(mapping.end - mapping.start)
            _ = madvise(address, length, MADV_RANDOM)
            if madvise(address, length, MADV_DONTNEED) == 0 { released += 1 }
        }
        return released
    }

    /// `release()` on a thread of its own a second from now: the first requests, usually right after start, find the
    /// start-up's pages still there, and the smaps walk does not compete with them.
    public static func releaseSoon() {
        let thread = Thread {
            sleep(1)
            release()
        }
        thread.name = "startup-pages"
        thread.start()
    }

    /// The process's mappings with their page counts, read from /proc/self/smaps (bytes, not Strings: the file has
    /// some 25 lines a mapping, and this runs while the first requests are served).
    public static func mappings() -> [Mapping] {
        let text = smapsBytes()
        var result: [Mapping] = []
        var lineStart = 0
        while lineStart < text.count {
            var lineEnd = lineStart
            while lineEnd < text.count, text[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let line = text[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            guard let first = line.first else { continue }
            if first >= UInt8(ascii: "a") && first <= UInt8(ascii: "f") || first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") {
                if let mapping = header(line) { result.append(mapping) }
            } else if !result.isEmpty {
                if line.starts(with: rss) { result[result.count - 1].residentKiB = kibibytes(line) }
                else if line.starts(with: anonymous) { result[result.count - 1].anonymousKiB = kibibytes(line) }
                else if line.starts(with: privateDirty) { result[result.count - 1].privateDirtyKiB = kibibytes(line) }
                else if line.starts(with: sharedDirty) { result[result.count - 1].sharedDirtyKiB = kibibytes(line) }
            }
        }
        return result
    }

    private static let rss = Array("Rss:".utf8)
    private static let anonymous = Array("Anonymous:".utf8)
    private static let privateDirty = Array("Private_Dirty:".utf8)
    private static let sharedDirty = Array("Shared_Dirty:".utf8)

    /// `Name:   123 kB` -> 123.
    private static func kibibytes(_ line: ArraySlice<UInt8>) -> Int {
        var value = 0
        for byte in line where byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { value = value &* 10 &+ Int(byte - UInt8(ascii: "0")) }
        return value
    }

    private static func smapsBytes() -> [UInt8] {
        let descriptor = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// `start-end perms offset dev inode [path]`, or nil for a line of fields.
    static func header(_ line: String) -> Mapping? {
        header(ArraySlice(line.utf8.filter { $0 != UInt8(ascii: "\n") }))
    }

    static func header(_ line: ArraySlice<UInt8>) -> Mapping? {
        // Six fields split on runs of spaces; the path (the sixth) may hold spaces itself.
        var fields: [ArraySlice<UInt8>] = []
        var index = line.startIndex
        while index < line.endIndex, fields.count < 5 {
            while index < line.endIndex, line[index] == UInt8(ascii: " ") { index += 1 }
            let start = index
            while index < line.endIndex, line[index] != UInt8(ascii: " ") { index += 1 }
            if start < index { fields.append(line[start..<index]) }
        }
        while index < line.endIndex, line[index] == UInt8(ascii: " ") { index += 1 }
        var pathEnd = line.endIndex
        while pathEnd > index, line[pathEnd - 1] == UInt8(ascii: " ") { pathEnd -= 1 }
        guard fields.count == 5, let dash = fields[0].firstIndex(of: UInt8(ascii: "-")),
              let start = hex(fields[0][..<dash]), let end = hex(fields[0][(dash + 1)...]) else { return nil }
        return Mapping(start: start, end: end, permissions: String(decoding: fields[1], as: UTF8.self),
                       path: String(decoding: line[index..<pathEnd], as: UTF8.self))
    }

    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt? {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt = 0
        for digit in digits {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt(digit - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return value
    }
}
