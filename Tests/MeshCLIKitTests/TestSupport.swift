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

