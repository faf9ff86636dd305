import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing files with POSIX calls, with errors a user can act on. Writes go to a
/// temporary file in the same folder that is renamed into place, so no half-written file remains.
public enum FileSystem {
    /// A file that could not be read or written: its path and the system's reason.
    public struct Failure: MeshError {
        public var path: String
        public var operation: String
        public var reason: String
        public var exitCode: ExitCode { .failure }
        public var message: String { "cannot \(operation) \(path): \(reason)" }
    }

    /// A relative path resolved against a working directory.
    public static func resolve(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : (directory.hasSuffix("/") ? directory : directory + "/") + path
    }

    /// The system's reason, lower-case as Go and kubectl print it ("no such file or directory").
    private static func reason() -> String {
        let text = String(cString: strerror(errno))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// A Foundation file error in the system's words ("not a directory"), without Cocoa's domain and codes.
    public static func describe(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code))).lowercased()
        }
        if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))).lowercased() }
        return error.localizedDescription
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The whole file as UTF-8 text.
    public static func readText(_ path: String, shownAs shown: String? = nil) throws -> String {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw Failure(path: shown ?? path, operation: "open", reason: reason()) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(path: shown ?? path, operation: "read", reason: reason())
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names in a folder, sorted, without `.` and `..`.
    public static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw Failure(path: path, operation: "list", reason: reason()) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Writes a file atomically: a temporary file beside it, then a rename over it.
    /// - Parameter mode: permissions for a new file (0600 for anything holding credentials).
    public static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        var template = Array((path + ".meshctl-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw Failure(path: path, operation: "write", reason: reason()) }
        let temporary = String(cString: template)
        var succeeded = false
        defer {
            if !succeeded { unlink(temporary) }
        }
        fchmod(descriptor, mode)
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let failure = Failure(path: path, operation: "write", reason: reason())
                close(descriptor)
                throw failure
            }
            offset += written
        }
        guard fsync(descriptor) == 0, close(descriptor) == 0 else { throw Failure(path: path, operation: "write", reason: reason()) }
        guard rename(temporary, path) == 0 else { throw Failure(path: path, operation: "write", reason: reason()) }
        succeeded = true
    }
}
