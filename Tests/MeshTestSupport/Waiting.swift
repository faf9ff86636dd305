import Foundation

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass; false when it never held.
/// Tests wait on what they need this way, never for a fixed time.
public func eventually(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.01)
    }
}

/// How many file descriptors a process has open (its sockets included); this process's by default.
public func openFileDescriptorCount(pid: Int32? = nil) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid.map(String.init) ?? "self")/fd").count) ?? 0
}
