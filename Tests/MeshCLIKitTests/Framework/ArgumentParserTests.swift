import XCTest
@testable import MeshCLIKit

/// A command with every kind of flag, for the parser.
private struct ProbeCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(name: "probe", abstract: "Probe", flags: [
            FlagSpec("filename", short: "f", kind: .repeatedValue, help: "files"),
            FlagSpec("dry-run", kind: .bool, help: "dry"),
            FlagSpec("mode", help: "mode", default: "a", completion: .values(["a", "b"])),
        ], arguments: [ArgumentSpec("name", help: "a name", optional: true, repeating: true)])
    }
    init(_ invocation: Invocation) throws {}
    func run(_ context: CommandContext) throws {}
}

private struct ProbeRoot: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(name: "tool", abstract: "Root", subcommands: [ProbeCommand.self])
    }
    init(_ invocation: Invocation) throws {}
    func run(_ context: CommandContext) throws {}
}

final class ArgumentParserTests: XCTestCase {
    private func parse(_ arguments: [String]) throws -> Invocation {
        try ArgumentParser.parse(arguments, root: ProbeRoot.self).1
    }

    /// Subcommands are found by their call names; a command that states its own must say what its spec says.
    func testEveryCommandsCallNamesAreItsSpecsNameAndAliases() {
        var pending: [any MeshCommand.Type] = [RootCommand.self]
        var checked = 0
        while let command = pending.popLast() {
            let spec = command.spec
            XCTAssertEqual(command.callNames, [spec.name] + spec.aliases, "\(command)")
            pending += spec.subcommands
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }

    func testFlagForms() throws {
        let invocation = try parse(["probe", "-f", "a.yaml", "--filename=b.yaml", "-fc.yaml", "--dry-run", "-n", "shop",
                                    "--context=kind", "-v=9", "--mode", "b", "x", "y"])
        XCTAssertEqual(invocation.commandPath, ["tool", "probe"])
        XCTAssertEqual(invocation.strings("filename"), ["a.yaml", "b.yaml", "c.yaml"])
        XCTAssertTrue(invocation.bool("dry-run"))
        XCTAssertEqual(invocation.global, GlobalOptions(context: "kind", namespace: "shop", verbosity: 9))
        XCTAssertEqual(invocation.string("mode"), "b")
        XCTAssertEqual(invocation.arguments, ["x", "y"])
    }

    func testDefaultsBooleansAndDoubleDash() throws {
        let invocation = try parse(["probe", "--dry-run=false", "--", "-not-a-flag"])
        XCTAssertFalse(invocation.bool("dry-run"))
        XCTAssertEqual(invocation.string("mode"), "a")
        XCTAssertEqual(invocation.global.istioNamespace, "istio-system")
        XCTAssertEqual(invocation.arguments, ["-not-a-flag"])
        XCTAssertFalse(invocation.isSet("mode"))
    }

    func testGlobalFlagsBeforeTheSubcommand() throws {
        let invocation = try parse(["-n", "shop", "probe", "-i", "mesh-system"])
        XCTAssertEqual(invocation.commandPath, ["tool", "probe"])
        XCTAssertEqual(invocation.global.namespace, "shop")
        XCTAssertEqual(invocation.global.istioNamespace, "mesh-system")
    }

    func testUnknownFlagSuggestsTheNearestOne() {
        XCTAssertThrowsError(try parse(["probe", "--namespce", "x"])) { error in
            let usage = error as? UsageError
            XCTAssertEqual(usage?.problem, "unknown flag: --namespce")
            XCTAssertEqual(usage?.suggestion, "--namespace")
            XCTAssertEqual(usage?.commandPath, "tool probe")
            XCTAssertEqual(usage?.exitCode, .usage)
        }
    }

    func testUnknownCommandAndMissingValue() {
        XCTAssertThrowsError(try parse(["prbe"])) { error in
            XCTAssertEqual((error as? UsageError)?.suggestion, "probe")
        }
        XCTAssertThrowsError(try parse(["probe", "--mode"])) { error in
            XCTAssertEqual((error as? UsageError)?.problem, "flag needs an argument: --mode")
        }
        XCTAssertThrowsError(try parse(["probe", "--mode", "c"])) { error in
            XCTAssertTrue((error as? UsageError)?.problem.contains("allowed values are a, b") ?? false)
        }
        XCTAssertThrowsError(try parse(["probe", "--dry-run=maybe"]))
        XCTAssertThrowsError(try parse(["probe", "-v", "loud"]))
    }

    func testHelpFlagIsRecognisedAnywhere() throws {
        XCTAssertTrue(try parse(["probe", "-h"]).helpRequested)
        XCTAssertTrue(try parse(["--help", "probe"]).helpRequested)
    }

    /// A command's own short flag wins over the global one with that letter (`local curl -v` is verbose), whose long
    /// name still works; help and completion show it without the letter.
    func testACommandsOwnShortFlagShadowsTheGlobalOne() throws {
        let (_, invocation) = try ArgumentParser.parse(["local", "curl", "-v", "--verbosity", "6", "http://web/"], root: RootCommand.self)
        XCTAssertTrue(invocation.bool("verbose"))
        XCTAssertEqual(invocation.global.verbosity, 6)
        XCTAssertNil(GlobalFlags.alongside(LocalCurlCommand.spec.flags).first { $0.name == "verbosity" }?.short)
        XCTAssertEqual(GlobalFlags.alongside([]).first { $0.name == "verbosity" }?.short, "v")
    }
}
