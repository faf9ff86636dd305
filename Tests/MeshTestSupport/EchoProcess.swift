import Foundation

/// The products SwiftPM built beside the test bundles.
public enum BuiltProducts {
    /// The meshctl executable.
    public static var meshctl: URL {
        var folder = Bundle.main.bundleURL
        if folder.pathExtension == "xctest" { folder.deleteLastPathComponent() }
        let candidates = [folder.appendingPathComponent("meshctl"),
                          Bundle(for: BundleMarker.self).bundleURL.deletingLastPathComponent().appendingPathComponent("meshctl")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }
}

private final class BundleMarker {}

/// The echo app (`meshctl x echo`) in a process of its own, as local mode's kubelet starts it, its output in a file.
public final class EchoProcess {
    public let process = Process()
    public let address: String
    public let port: Int
    private let logFile: URL

    /// Starts it as pod `name` on `address:port` and waits until it serves.
    public init(name: String, address: String, port: Int, namespace: String = "default", environment: [String: String] = [:]) throws {
        self.address = address
        self.port = port
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("echo-\(name)-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = BuiltProducts.meshctl
        process.arguments = ["x", "echo"]
        process.environment = ["PATH": "/usr/bin:/bin", "POD_NAME": name, "POD_NAMESPACE": namespace, "POD_IP": address, "PORT": String(port),
                               "PORTS": String(port)].merging(environment) { $1 }
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
        guard eventually(timeout: 20, { output.contains(" serving ") || !process.isRunning }), process.isRunning else {
            throw EchoProcessError(description: "meshctl x echo did not start: \(output)")
        }
    }

    /// What it wrote so far.
    public var output: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits for the exit; the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: logFile)
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

public struct EchoProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// An address of its own on loopback (127.32-90.x.y) and a port, so tests never meet each other's servers.
public func freshLoopbackAddress() -> String { "127.\(Int.random(in: 32...90)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))" }
