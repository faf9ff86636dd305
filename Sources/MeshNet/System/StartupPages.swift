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

    /// The process's mappings with their page counts, read from /proc/self/smaps.
    public static func mappings() -> [Mapping] {
        guard let file = fopen("/proc/self/smaps", "r") else { return [] }
        defer { fclose(file) }
        var result: [Mapping] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if let mapping = header(text) {
                result.append(mapping)
            } else if !result.isEmpty {
                let fields = text.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 2, let value = Int(fields[1]) else { continue }
                switch fields[0] {
                case "Rss:": result[result.count - 1].residentKiB = value
                case "Anonymous:": result[result.count - 1].anonymousKiB = value
                case "Private_Dirty:": result[result.count - 1].privateDirtyKiB = value
                case "Shared_Dirty:": result[result.count - 1].sharedDirtyKiB = value
                default: break
                }
            }
        }
        free(line)
        return result
    }

    /// `start-end perms offset dev inode [path]`, or nil for a line of fields.
    static func header(_ line: String) -> Mapping? {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5, let dash = fields[0].firstIndex(of: "-"),
              let start = UInt(fields[0][..<dash], radix: 16),
              let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16) else { return nil }
        let path = fields.count > 5 ? String(fields[5].drop { $0 == " " }.reversed().drop { $0 == "\n" || $0 == " " }.reversed()) : ""
        return Mapping(start: start, end: end, permissions: String(fields[1]), path: path)
    }
}
