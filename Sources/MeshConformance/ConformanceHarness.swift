import Foundation

/// The result of running one corpus of Istio's test data.
public struct CorpusResult: Sendable {
    public var corpus: String
    public var total: Int
    /// Case id → why it failed.
    public var failures: [String: String]
    /// The failing cases meshctl gets right for the wrong reason (refused, but not for what Istio names).
    public var wrongReason: Set<String> = []

    public var passed: Int { total - failures.count }

    /// `conformance kube-inject: 121/128`, with `(2 right verdict, wrong reason)` when there are such cases.
    public var summaryLine: String {
        "conformance \(corpus): \(passed)/\(total)" + (wrongReason.isEmpty ? "" : " (\(wrongReason.count) right verdict, wrong reason)")
    }
}

/// Runs meshctl against Istio's own test corpora in `../shared/conformance/istio` and counts what matches.
public enum ConformanceHarness {
    /// The corpora in the order they are reported.
    public static let corpora = ["kube-inject", "kube-inject-text", "validate", "analyze", "check-inject", "proxy-config", "doctor"]

    /// How many cases each corpus has at the corpus's commit: a count that changes means cases were lost
    /// or the corpus changed, and either must be looked at.
    public static let expectedTotals = ["kube-inject": 128, "kube-inject-text": 128, "validate": 193, "analyze": 123, "check-inject": 11, "proxy-config": 113, "doctor": 7]

    /// The case ids of every corpus, as the index files list them.
    public static func caseIDs(corpusRoot: String) throws -> [String: [String]] {
        let index = try CorpusIndex(root: corpusRoot)
        return ["kube-inject": index.kubeInjectCases, "kube-inject-text": index.kubeInjectCases, "validate": index.validateCases,
                "analyze": index.analyzeCases, "check-inject": index.checkInjectCases, "proxy-config": index.proxyConfigCases,
                "doctor": (try? DoctorCorpus.caseIDs(root: DoctorCorpus.locate(istioCorpusRoot: corpusRoot))) ?? []]
    }

    /// Everything wrong with a run: a corpus missing or with another number of cases than expected, and the
    /// known-divergences list's problems against it. Empty when the counts mean what they say.
    public static func problems(with results: [CorpusResult], divergences: KnownDivergences, caseIDs: [String: [String]]) -> [String] {
        var problems: [String] = []
        if results.map(\.corpus) != corpora {
            problems.append("the corpora run are \(results.map(\.corpus)), expected \(corpora)")
        }
        for result in results where result.total != expectedTotals[result.corpus] {
            problems.append("\(result.corpus): \(result.total) cases, expected \(expectedTotals[result.corpus].map(String.init) ?? "none")")
        }
        return problems + divergences.problems(with: results, caseIDs: caseIDs)
    }

    /// The corpus folder: `MESHCTL_CONFORMANCE_DIR`, else `../shared/conformance/istio` beside the package.
    public static func locateCorpus(packageRoot: String) -> String {
        if let override = ProcessInfo.processInfo.environment["MESHCTL_CONFORMANCE_DIR"], !override.isEmpty {
            return override
        }
        return URL(fileURLWithPath: packageRoot).deletingLastPathComponent()
            .appendingPathComponent("shared/conformance/istio").path
    }

    /// Runs every corpus. A corpus whose command is not built yet fails every case with that reason.
    public static func runAll(corpusRoot: String) throws -> [CorpusResult] {
        let index = try CorpusIndex(root: corpusRoot)
        let kubeInject = try KubeInjectCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("kube-inject"))
            .run(caseIDs: index.kubeInjectCases)
        return [
            CorpusResult(corpus: "kube-inject", total: kubeInject.total, failures: kubeInject.valueFailures),
            CorpusResult(corpus: "kube-inject-text", total: kubeInject.total, failures: kubeInject.textFailures),
            validateResult(corpusRoot: corpusRoot, cases: index.validateCases),
            analyzeResult(corpusRoot: corpusRoot, cases: index.analyzeCases),
            checkInjectResult(corpusRoot: corpusRoot, cases: index.checkInjectCases),
            proxyConfigResult(corpusRoot: corpusRoot, cases: index.proxyConfigCases),
            doctorResult(corpusRoot: corpusRoot),
        ]
    }

    /// A runner that cannot run fails every case it owns, so an unreadable corpus or scratch folder never reads as passes.
    static func validateResult(corpusRoot: String, cases: [String]) -> CorpusResult {
        let root = URL(fileURLWithPath: corpusRoot).appendingPathComponent("validation")
        var failures: [String: String] = [:], wrongReason: Set<String> = []
        do {
            let outcome = try ValidateCorpus(root: root).run()
            failures = outcome.failures
            wrongReason = outcome.wrongReason
        } catch {
            for id in cases where !id.hasPrefix("command/") { failures[id] = "validation/index.json: \(error)" }
        }
        do {
            let commands = try ValidateCommandCases(root: root).run()
            failures.merge(commands.failures) { first, _ in first }
            wrongReason.formUnion(commands.wrongReason)
        } catch {
            for id in cases where id.hasPrefix("command/") { failures[id] = "istioctl validate command cases: \(error)" }
        }
        return CorpusResult(corpus: "validate", total: cases.count, failures: failures.filter { cases.contains($0.key) },
                            wrongReason: wrongReason.filter(cases.contains))
    }

    private static func analyzeResult(corpusRoot: String, cases: [String]) -> CorpusResult {
        let corpus = AnalyzeCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("analyze"))
        let failures: [String: String]
        do {
            failures = try corpus.run().merging(try AnalyzeCommandCases(root: corpus.root).run()) { first, _ in first }
        } catch {
            failures = Dictionary(uniqueKeysWithValues: cases.map { ($0, "expectations.json: \(error)") })
        }
        return CorpusResult(corpus: "analyze", total: cases.count, failures: failures.filter { cases.contains($0.key) })
    }

    private static func checkInjectResult(corpusRoot: String, cases: [String]) -> CorpusResult {
        let corpus = CheckInjectCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("check-inject"))
        let failures: [String: String]
        do {
            failures = try corpus.run()
        } catch {
            failures = Dictionary(uniqueKeysWithValues: cases.map { ($0, "cases.json: \(error)") })
        }
        return CorpusResult(corpus: "check-inject", total: cases.count, failures: failures.filter { cases.contains($0.key) })
    }

    /// The proxy-config corpus alone (`meshctl-conformance --only proxy-config`, while working on it).
    public static func runProxyConfig(corpusRoot: String) throws -> CorpusResult {
        proxyConfigResult(corpusRoot: corpusRoot, cases: try CorpusIndex(root: corpusRoot).proxyConfigCases)
    }

    private static func proxyConfigResult(corpusRoot: String, cases: [String]) -> CorpusResult {
        let corpus = ProxyConfigCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("proxy-config"))
        let failures: [String: String]
        do {
            failures = try corpus.run()
        } catch {
            failures = Dictionary(uniqueKeysWithValues: cases.map { ($0, "cases.json: \(error)") })
        }
        return CorpusResult(corpus: "proxy-config", total: cases.count, failures: failures.filter { cases.contains($0.key) })
    }

    /// The 503 doctor over the envoy-faults captures; an unreadable corpus folder fails every case it can name.
    static func doctorResult(corpusRoot: String) -> CorpusResult {
        let corpus = DoctorCorpus(root: DoctorCorpus.locate(istioCorpusRoot: corpusRoot))
        guard let cases = try? DoctorCorpus.caseIDs(root: corpus.root) else {
            return CorpusResult(corpus: "doctor", total: 0, failures: [:])
        }
        do {
            return CorpusResult(corpus: "doctor", total: cases.count, failures: try corpus.run())
        } catch {
            return CorpusResult(corpus: "doctor", total: cases.count, failures: Dictionary(uniqueKeysWithValues: cases.map { ($0, "\(error)") }))
        }
    }

    private static func notImplemented(_ corpus: String, cases: [String], reason: String) -> CorpusResult {
        CorpusResult(corpus: corpus, total: cases.count, failures: Dictionary(uniqueKeysWithValues: cases.map { ($0, reason) }))
    }
}

/// The case ids of each corpus, read from the index files the corpus README describes.
struct CorpusIndex {
    var kubeInjectCases: [String] = []
    var validateCases: [String] = []
    var analyzeCases: [String] = []
    var checkInjectCases: [String] = []
    var proxyConfigCases: [String] = []

    /// Case ids made unique: a repeated id gets `#2`, `#3`... so no case hides behind another.
    private static func unique(_ ids: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return ids.map { id in
            seen[id, default: 0] += 1
            return seen[id]! == 1 ? id : "\(id) #\(seen[id]!)"
        }
    }

    init(root: String) throws {
        try read(root: root)
        kubeInjectCases = Self.unique(kubeInjectCases)
        validateCases = Self.unique(validateCases)
        analyzeCases = Self.unique(analyzeCases)
        checkInjectCases = Self.unique(checkInjectCases)
        proxyConfigCases = Self.unique(proxyConfigCases)
    }

    private mutating func read(root: String) throws {
        let kubeInject = try Self.object(root, "kube-inject/cases.json")
        for item in kubeInject["TestInjection"] as? [[String: Any]] ?? [] {
            kubeInjectCases.append("[\(item["index"] ?? "?")] \(item["golden"] as? String ?? item["input"] as? String ?? "?")")
        }

        let validation = try Self.object(root, "validation/index.json")
        for item in validation["crds"] as? [[String: Any]] ?? [] {
            validateCases.append("crds/\(item["file"] ?? "?")#\(item["doc"] ?? "?")")
        }
        for item in validation["datasets"] as? [Any] ?? [] {
            let name = (item as? [String: Any])?["file"] as? String ?? "\(item)"
            validateCases.append("datasets/\(name)")
        }
        let istioctl = validation["istioctlValidate"] as? [String: Any] ?? [:]
        for item in (istioctl["resourceCases"] as? [String: Any])?["cases"] as? [[String: Any]] ?? [] {
            validateCases.append("resource/\(item["name"] ?? "?")")
        }
        for item in (istioctl["commandCases"] as? [String: Any])?["cases"] as? [[String: Any]] ?? [] {
            validateCases.append("command/\(item["name"] ?? "?")")
        }

        let analyze = try Self.object(root, "analyze/expectations.json")
        for item in analyze["cases"] as? [[String: Any]] ?? [] {
            analyzeCases.append("[\(item["index"] ?? "?")] \(item["name"] ?? "?")")
        }
        for item in analyze["multiClusterCases"] as? [[String: Any]] ?? [] {
            analyzeCases.append("multicluster/\(item["name"] ?? "?")")
        }
        let cli = analyze["istioctlCli"] as? [String: Any] ?? [:]
        for item in (cli["unitCases"] as? [[String: Any]] ?? []) + ((cli["integrationCases"] as? [String: Any])?["cases"] as? [[String: Any]] ?? []) {
            analyzeCases.append("cli/\(item["name"] ?? "?")")
        }

        let checkInject = try Self.object(root, "check-inject/cases.json")
        for item in checkInject["cases"] as? [[String: Any]] ?? [] {
            checkInjectCases.append("\(item["name"] ?? "?")")
        }

        proxyConfigCases = try ProxyConfigCorpus.caseIDs(root: URL(fileURLWithPath: root).appendingPathComponent("proxy-config"))
    }

    private static func object(_ root: String, _ path: String) throws -> [String: Any] {
        let url = URL(fileURLWithPath: root).appendingPathComponent(path)
        let data = try Data(contentsOf: url)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path])
        }
        return object
    }
}

/// The repository's list of cases known to fail, each with its reason (`conformance/known-divergences.tsv`).
public struct KnownDivergences {
    public struct Entry: Sendable, Equatable {
        public var corpus: String
        /// A case id, or `*` for every case of the corpus.
        public var caseID: String
        public var reason: String
    }

    public var entries: [Entry]
    /// Lines that are neither comments nor `corpus<TAB>case<TAB>reason`, with their line numbers.
    public var malformedLines: [(line: Int, text: String)] = []

    /// Reads `corpus<TAB>case<TAB>reason` lines; `#` starts a comment.
    public init(text: String) {
        entries = []
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.hasPrefix("#"), !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, fields.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                malformedLines.append((offset + 1, String(line)))
                continue
            }
            entries.append(Entry(corpus: fields[0], caseID: fields[1], reason: fields[2]))
        }
    }

    public func covers(corpus: String, caseID: String) -> Bool {
        entries.contains { $0.corpus == corpus && ($0.caseID == "*" || $0.caseID == caseID) }
    }

    /// Problems with the list against a run: failing cases it does not name, named cases that pass, `*` entries
    /// for a corpus that passes whole, entries naming a corpus or case that does not exist, and malformed lines.
    /// `caseIDs` holds every case id of each corpus.
    public func problems(with results: [CorpusResult], caseIDs: [String: [String]]) -> [String] {
        var problems = malformedLines.map { "known-divergences line \($0.line) is not corpus<TAB>case<TAB>reason: \($0.text)" }
        for result in results {
            for (caseID, reason) in result.failures.sorted(by: { $0.key < $1.key })
            where !covers(corpus: result.corpus, caseID: caseID) {
                problems.append("\(result.corpus): \(caseID) fails (\(reason)) and is not in the known-divergences file")
            }
        }
        for entry in entries {
            guard let result = results.first(where: { $0.corpus == entry.corpus }) else {
                problems.append("\(entry.corpus) is not a corpus (known: \(results.map(\.corpus).joined(separator: ", "))); fix or remove its entry")
                continue
            }
            if entry.caseID == "*" {
                if result.failures.isEmpty {
                    problems.append("\(entry.corpus): * is listed as a known divergence but every case passes; remove it")
                }
            } else if !(caseIDs[entry.corpus] ?? []).contains(entry.caseID) {
                problems.append("\(entry.corpus): \(entry.caseID) is not a case of the corpus; fix or remove its entry")
            } else if result.failures[entry.caseID] == nil {
                problems.append("\(entry.corpus): \(entry.caseID) is listed as a known divergence but passes; remove it")
            }
        }
        return problems
    }
}
