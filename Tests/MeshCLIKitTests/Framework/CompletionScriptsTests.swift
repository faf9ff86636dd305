import Foundation
import XCTest
@testable import MeshCLIKit

final class CompletionScriptsTests: XCTestCase {
    private let files: [CompletionScripts.Shell: String] = [.bash: "meshctl.bash", .zsh: "_meshctl", .fish: "meshctl.fish"]

    /// The checked-in scripts are what `meshctl completion <shell>` prints; `make completions` updates them.
    func testCheckedInScriptsAreCurrent() throws {
        for shell in CompletionScripts.Shell.allCases {
            let url = TestPaths.packageRoot.appendingPathComponent("completions/\(files[shell]!)")
            let checkedIn = try String(contentsOf: url, encoding: .utf8)
            let run = runMeshctl(["completion", shell.rawValue])
            XCTAssertEqual(run.exitCode, .success)
            XCTAssertEqual(run.stdout, checkedIn, "completions/\(files[shell]!) is stale: run `make completions`")
        }
    }

    func testBashScriptParses() throws {
        let url = TestPaths.packageRoot.appendingPathComponent("completions/meshctl.bash")
        let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-n", url.path])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    /// Drives the bash completion function the way bash does and checks what it offers.
    func testBashCompletesCommandsFlagsAndValues() throws {
        let script = TestPaths.packageRoot.appendingPathComponent("completions/meshctl.bash").path
        func complete(_ words: [String]) throws -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let program = """
            source '\(script)'
            COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1)
            _meshctl
            printf '%s\\n' "${COMPREPLY[@]}"
            """
            let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", program])
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout.split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(try complete(["meshctl", "ver"]), ["version"])
        XCTAssertEqual(try complete(["meshctl", "completion", ""]).sorted(), ["bash", "fish", "zsh"])
        XCTAssertEqual(try complete(["meshctl", "version", "-o", ""]).sorted(), ["json", "yaml"])
        XCTAssertTrue(try complete(["meshctl", "-n", "shop", "kube-inject", "--inj"]).contains("--injectConfigFile"))
    }

    func testFishAndZshScriptsNameEveryCommand() {
        for shell in [CompletionScripts.Shell.zsh, .fish] {
            let script = CompletionScripts.script(for: shell, root: RootCommand.self)
            for command in RootCommand.spec.visibleSubcommandNames {
                XCTAssertTrue(script.contains(command), "\(shell) script lacks \(command)")
            }
        }
    }
}
