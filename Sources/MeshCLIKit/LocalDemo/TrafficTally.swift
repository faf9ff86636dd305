import Foundation

/// What one request of the demo got: an HTTP answer (with the echo app's version when it says one), or none.
enum TrafficOutcome: Equatable, Sendable {
    case answered(status: Int, version: String?, faultInjected: Bool)
    case noAnswer(reason: String)

    /// Reads `meshctl local curl -v`'s results: the status line on standard error (`< HTTP/1.1 200 OK`), the echo
    /// app's `version=v1` line in the body, Envoy's `fault filter abort` body for an injected fault.
    init(exitCode: ExitCode, stdout: String, stderr: String) {
        let statusLine = stderr.split(separator: "\n").first { $0.hasPrefix("< HTTP/") }
        guard let statusLine, let status = statusLine.split(separator: " ").dropFirst(2).first.flatMap({ Int($0) }) else {
            let reason = stderr.split(separator: "\n").last { !$0.hasPrefix("*") && !$0.hasPrefix(">") }
                .map { $0.hasPrefix("error: ") ? String($0.dropFirst("error: ".count)) : String($0) }
            self = .noAnswer(reason: reason ?? "no answer (exit \(exitCode.rawValue))")
            return
        }
        let version = stdout.split(separator: "\n").first { $0.hasPrefix("version=") }.map { String($0.dropFirst("version=".count)) }
        let fault = stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "fault filter abort"
        self = .answered(status: status, version: version.flatMap { $0.isEmpty ? nil : $0 }, faultInjected: fault)
    }
}

/// The outcomes of a batch of requests, counted the ways the demo's rules speak of them.
struct TrafficTally: Equatable, Sendable {
    private(set) var total = 0
    /// Answers with 2xx, by the version that answered ("unknown" when the body names none).
    private(set) var okByVersion: [String: Int] = [:]
    /// Every HTTP answer by status.
    private(set) var byStatus: [Int: Int] = [:]
    /// Answers the fault filter made.
    private(set) var faultInjected = 0
    /// Requests that got no HTTP answer, and the first reason seen.
    private(set) var noAnswer = 0
    private(set) var firstNoAnswerReason: String?

    init(_ outcomes: [TrafficOutcome] = []) {
        for outcome in outcomes { add(outcome) }
    }

    mutating func add(_ outcome: TrafficOutcome) {
        total += 1
        switch outcome {
        case .answered(let status, let version, let fault):
            byStatus[status, default: 0] += 1
            if fault { faultInjected += 1 }
            if (200..<300).contains(status) { okByVersion[version ?? "unknown", default: 0] += 1 }
        case .noAnswer(let reason):
            noAnswer += 1
            if firstNoAnswerReason == nil { firstNoAnswerReason = reason }
        }
    }

    var answered: Int { total - noAnswer }
    var ok: Int { okByVersion.values.reduce(0, +) }
    /// Answers that were neither 2xx nor an injected fault.
    var otherFailures: Int { answered - ok - faultInjected }

    /// `v1 181 (90.5%), v2 19 (9.5%)`: the 2xx answers per version.
    var splitText: String {
        guard ok > 0 else { return "no request answered 2xx" }
        return okByVersion.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value) (\(Self.percent($0.value, of: total)))" }.joined(separator: ", ")
    }

    /// `200 x190, 503 x10, no answer x0`: every outcome, for a failing step's line.
    var outcomesText: String {
        var parts = byStatus.sorted { $0.key < $1.key }.map { "HTTP \($0.key) x\($0.value)" }
        if noAnswer > 0 { parts.append("no answer x\(noAnswer)" + (firstNoAnswerReason.map { " (\($0))" } ?? "")) }
        return parts.isEmpty ? "nothing sent" : parts.joined(separator: ", ")
    }

    static func percent(_ count: Int, of total: Int) -> String {
        total == 0 ? "-" : String(format: "%.1f%%", Double(count) * 100 / Double(total))
    }
}

/// A count checked against an expected probability: a binomial count lies within `sigmas` standard deviations of
/// its mean n·p unless something other than chance moved it (3 sigma: a false alarm about once in 370 runs).
struct BinomialCheck: Equatable, Sendable {
    let observed: Int
    let trials: Int
    let expectedShare: Double
    var sigmas: Double = 3

    var expectedCount: Double { Double(trials) * expectedShare }
    /// One standard deviation of the count: √(n·p·(1−p)).
    var standardDeviation: Double { (Double(trials) * expectedShare * (1 - expectedShare)).squareRoot() }
    /// How far the count may stray: `sigmas` standard deviations (0 when p is 0 or 1: then it must be exact).
    var allowedDeviation: Double { sigmas * standardDeviation }
    var deviation: Double { Double(observed) - expectedCount }
    var holds: Bool { trials > 0 && abs(deviation) <= allowedDeviation + 1e-9 }

    /// `10.0% ± 6.4% (3 sigma of 200 requests)`.
    var expectedText: String {
        guard trials > 0 else { return "no requests" }
        let share = String(format: "%.1f%%", expectedShare * 100)
        if allowedDeviation == 0 { return "\(share) exactly" }
        return "\(share) ± \(String(format: "%.1f%%", allowedDeviation * 100 / Double(trials))) (\(Int(sigmas)) sigma of \(trials) requests)"
    }

    /// `19 of 200 (9.5%), 0.3 sigma off`.
    var measuredText: String {
        let off = standardDeviation > 0 ? String(format: ", %.1f sigma off", abs(deviation) / standardDeviation) : ""
        return "\(observed) of \(trials) (\(TrafficTally.percent(observed, of: trials)))\(off)"
    }
}
