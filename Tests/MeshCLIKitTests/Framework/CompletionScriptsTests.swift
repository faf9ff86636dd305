import Foundation
import XCTest
import KubeClient
import Manifests
import MeshControlPlane
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

    /// Each shell reads its script without a syntax error (`make test` installs zsh and fish).
    func testEachShellParsesItsScript() throws {
        for (shell, file) in [("bash", "meshctl.bash"), ("zsh", "_meshctl"), ("fish", "meshctl.fish")] {
            guard let binary = ["/bin", "/usr/bin"].map({ URL(fileURLWithPath: "\($0)/\(shell)") })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                XCTFail("\(shell) is not installed; run scripts/deps.sh --test")
                continue
            }
            let url = TestPaths.packageRoot.appendingPathComponent("completions/\(file)")
            let result = try runProcess(binary, ["-n", url.path])
            XCTAssertEqual(result.status, 0, "\(shell): \(result.stderr)")
        }
    }

    /// fish's own completion engine, given the generated script.
    func testFishCompletesCommandsAndFlagValues() throws {
        let fish = URL(fileURLWithPath: "/usr/bin/fish")
        guard FileManager.default.isExecutableFile(atPath: fish.path) else {
            return XCTFail("fish is not installed; run scripts/deps.sh --test")
        }
        let script = TestPaths.packageRoot.appendingPathComponent("completions/meshctl.fish").path
        func complete(_ line: String) throws -> [String] {
            let result = try runProcess(fish, ["--no-config", "-c", "source '\(script)'; complete -C '\(line)'"])
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        }
        XCTAssertEqual(try complete("meshctl ver"), ["version"])
        XCTAssertEqual(try complete("meshctl completion ").sorted(), ["bash", "fish", "zsh"])
        XCTAssertEqual(try complete("meshctl version -o ").sorted(), ["json", "yaml"])
        XCTAssertTrue(try complete("meshctl -n shop kube-inject --inj").contains("--injectConfigFile"))
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

    /// Namespaces and contexts come from meshctl itself (`meshctl __complete`), here from a local control plane.
    func testDynamicValuesComeFromTheCluster() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-complete-\(UUID().uuidString)")
        let plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0)
        try plane.start()
        defer { plane.stop(); try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = directory.appendingPathComponent("config")
        try plane.kubeconfig(name: "local").write(to: kubeconfig, atomically: true, encoding: .utf8)
        let environment = ["KUBECONFIG": kubeconfig.path, "HOME": directory.path,
                           "PATH": TestPaths.meshctlBinary.deletingLastPathComponent().path + ":/usr/bin:/bin"]
        let script = TestPaths.packageRoot.appendingPathComponent("completions/meshctl.bash").path
        func complete(_ words: [String]) throws -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let program = "source '\(script)'\nCOMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1)\n_meshctl\nprintf '%s\\n' \"${COMPREPLY[@]}\""
            let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", program], environment: environment)
            return result.stdout.split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(try complete(["meshctl", "inject", "enable", "istio-"]), ["istio-system"])
        XCTAssertEqual(try complete(["meshctl", "check-inject", "-n", "kube-p"]), ["kube-public"])
        XCTAssertEqual(try complete(["meshctl", "--context", ""]), ["local"])
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
