import Foundation
import Manifests

/// One step of the demo: what it did, the rule it checks, what that rule makes us expect, what was measured, and
/// whether the two agree.
struct DemoStep: Sendable {
    /// A short id for scripts: `traffic`, `canary`, `fault`, `mtls`, `routes`.
    let name: String
    let title: String
    /// What the step did, in order (applied objects, waits and how long they took).
    var actions: [String] = []
    /// The rule in force, in words.
    var rule = ""
    var expected: [String] = []
    var measured: [String] = []
    /// A check that did not hold.
    struct Disagreement: Equatable, Sendable {
        let expected: String
        let measured: String
    }

    /// The checks that did not hold, in order.
    private(set) var disagreements: [Disagreement] = []
    private var checked = false
    /// A command's own output the step shows (`proxy-config routes`).
    var output: String?
    var seconds = 0.0

    init(name: String, title: String) {
        self.name = name
        self.title = title
    }

    /// Passed when something was checked and every check held.
    var passed: Bool { checked && disagreements.isEmpty }

    /// Records one expectation and its measurement.
    mutating func check(_ holds: Bool, expected: String, measured: String) {
        checked = true
        self.expected.append(expected)
        self.measured.append(measured)
        if !holds { disagreements.append(Disagreement(expected: expected, measured: measured)) }
    }

    /// Records that the step could not measure: why.
    mutating func couldNotMeasure(_ expected: String, _ reason: String) {
        check(false, expected: expected, measured: reason)
    }
}

/// Why the demo stopped: the step, the kind (`sidecars-not-running` when injected pods' sidecars did not become
/// ready, `measurement` when a measurement disagrees with its rule, `error` otherwise), and what was expected and seen.
struct DemoFailure: Error, Equatable, Sendable {
    enum Kind: String, Sendable { case sidecarsNotRunning = "sidecars-not-running", measurement, error }
    var step: String
    var kind: Kind
    var expected: String
    var measured: String

    /// The line the demo ends with: it names the step, what was expected and what was measured.
    var line: String { "demo step \(step) failed: expected \(expected); measured \(measured)" }
}

/// The whole run, printed step by step as text, or at the end as one JSON document.
struct DemoReport: Sendable {
    var requests: Int
    var steps: [DemoStep] = []
    var failure: DemoFailure?
    var totalSeconds = 0.0
    /// Commands to look further, whether local mode still runs for them, and how it was or is torn down.
    var lookFurther: [String] = []
    var stillRunning = false
    var teardown = ""

    var passed: Bool { failure == nil && steps.allSatisfy(\.passed) }

    /// A finished step as text: its title, then what it did, the rule, expected, measured and the verdict.
    static func text(_ step: DemoStep, number: Int) -> String {
        var lines = ["", "\(number). \(step.title)"]
        for action in step.actions { lines.append("   - \(action)") }
        if !step.rule.isEmpty { lines.append("   rule:     \(step.rule)") }
        for (index, line) in step.expected.enumerated() { lines.append((index == 0 ? "   expected: " : "             ") + line) }
        for (index, line) in step.measured.enumerated() { lines.append((index == 0 ? "   measured: " : "             ") + line) }
        if let output = step.output {
            lines.append("")
            lines += output.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "   " + $0 }
            if lines.last == "" { lines.removeLast() }
        }
        lines.append("   result:   " + (step.passed ? "as the rule says" : "NOT as the rule says") + String(format: " (%.1f s)", step.seconds))
        return lines.joined(separator: "\n") + "\n"
    }

    /// The end of the text output: where to look further, how to tear down, the total time and the verdict.
    var closingText: String {
        var lines = [""]
        if !lookFurther.isEmpty {
            lines.append(stillRunning ? "Look further:" : "Look further (run `meshctl local demo --keep` to leave local mode up for these):")
            lines += lookFurther.map { "  " + $0 }
        }
        if !teardown.isEmpty { lines.append(teardown) }
        let verdict = passed ? "every step measured what its rule says" : "stopped at step \(failure?.step ?? "?")"
        lines.append(String(format: "demo finished in %.1f s: ", totalSeconds) + verdict)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The run as data: each step with its actions, rule, expectations, measurements and verdict.
    var json: String {
        func strings(_ items: [String]) -> YAMLNode { .sequence(items.map { .string($0) }) }
        func seconds(_ value: Double) -> YAMLNode { .scalar(YAMLScalar(text: String(format: "%.2f", value), kind: .float)) }
        let document: YAMLNode = .mapping([
            ("passed", .bool(passed)),
            ("requests", .int(requests)),
            ("totalSeconds", seconds(totalSeconds)),
            ("steps", .sequence(steps.map { step in
                var pairs: [(String, YAMLNode)] = [("name", .string(step.name)), ("title", .string(step.title)), ("actions", strings(step.actions)),
                                                   ("rule", .string(step.rule)), ("expected", strings(step.expected)), ("measured", strings(step.measured)),
                                                   ("passed", .bool(step.passed)), ("seconds", seconds(step.seconds))]
                if let output = step.output { pairs.append(("output", .string(output))) }
                return .mapping(pairs)
            })),
            ("failure", failure.map { failure in
                .mapping([("step", .string(failure.step)), ("kind", .string(failure.kind.rawValue)), ("expected", .string(failure.expected)),
                          ("measured", .string(failure.measured)), ("message", .string(failure.line))])
            } ?? .null),
            ("lookFurther", strings(lookFurther)),
            ("stillRunning", .bool(stillRunning)),
            ("teardown", .string(teardown)),
        ])
        return JSONEmitter(indent: 2).emit(document) + "\n"
    }
}
