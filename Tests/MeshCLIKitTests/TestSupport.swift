import Foundation
import MeshTestSupport
import XCTest
@testable import MeshCLIKit

/// Runs meshctl in-process with buffers for its streams.
struct CLIRun {
    var exitCode: ExitCode
    var stdout: String
    var stderr: String
}

func runMeshctl(_ arguments: [String], variables: [String: String] = [:], terminal: Bool = false) -> CLIRun {
    let out = BufferOutput(isTerminal: terminal), err = BufferOutput(isTerminal: terminal)
    let environment = CommandEnvironment(stdout: out, stderr: err, variables: variables, workingDirectory: "/")
    let code = MeshCLI.run(arguments, environment: environment)
    return CLIRun(exitCode: code, stdout: out.text, stderr: err.text)
}

enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The meshctl executable SwiftPM built beside this test bundle.
    static var meshctlBinary: URL { BuiltProducts.meshctl }
}

/// Runs a real process to completion; returns its exit status and output.
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}


/// Why a test class that runs real local mode with the real kubectl cannot run here (nil: it can): no kubectl, or
/// the class's own reason (`classReason`, asked only when the tools are there). A meshctl binary the build did not
/// make fails the test, and skips it.
func localModeSkipReason(_ classReason: () -> String?) throws -> String? {
    guard FileManager.default.isExecutableFile(atPath: TestPaths.meshctlBinary.path) else {
        XCTFail("meshctl was not built at \(TestPaths.meshctlBinary.path)")
        throw XCTSkip("no meshctl binary")
    }
    return FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") ? classReason() : "no kubectl at /usr/bin/kubectl on this machine"
}

/// A home folder of its own (kubeconfig, kubectl cache) and a local-mode state folder for a test that runs the real
/// meshctl and kubectl binaries; `finish` stops local mode and removes the folder.
final class LocalModeHome {
    let folder: URL
    let environment: [String: String]
    let state: String

    init(_ name: String, variables: [String: String] = [:]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        environment = ["HOME": folder.path, "KUBECONFIG": folder.appendingPathComponent("config").path, "PATH": "/usr/bin:/bin"].merging(variables) { $1 }
        state = folder.appendingPathComponent("state").path
    }

    /// meshctl with this home's environment.
    func meshctl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(TestPaths.meshctlBinary, arguments, environment: environment)
    }

    /// The real kubectl with this home's kubeconfig and cache.
    func kubectl(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(URL(fileURLWithPath: "/usr/bin/kubectl"), arguments + ["--cache-dir", folder.appendingPathComponent("cache").path],
                       environment: environment, stdin: stdin)
    }

    func finish() {
        _ = try? meshctl(["local", "down", "--state-dir", state])
        try? FileManager.default.removeItem(at: folder)
    }
}
