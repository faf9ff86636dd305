/// A line diff in the unified format (`--- a`, `+++ b`, `@@ -1,5 +1,6 @@` hunks with context lines), grouped the
/// way Python's difflib (and its Go port, which istioctl uses) groups changes.
enum UnifiedDiff {
    /// An edit: lines `a[aStart..<aEnd]` become `b[bStart..<bEnd]`; `equal` when they are the same.
    struct Edit: Equatable {
        var equal: Bool
        var aStart: Int, aEnd: Int, bStart: Int, bEnd: Int
    }

    /// The diff of two texts; "" when they are the same.
    static func text(from a: String, to b: String, fromName: String, toName: String, context: Int) -> String {
        let left = lines(a), right = lines(b)
        guard left != right else { return "" }
        var out = "--- \(fromName)\n+++ \(toName)\n"
        for group in grouped(edits(left, right), context: context) {
            guard let first = group.first, let last = group.last else { continue }
            out += "@@ -\(range(first.aStart, last.aEnd)) +\(range(first.bStart, last.bEnd)) @@\n"
            for edit in group {
                if edit.equal {
                    out += left[edit.aStart..<edit.aEnd].map { " " + $0 + "\n" }.joined()
                } else {
                    out += left[edit.aStart..<edit.aEnd].map { "-" + $0 + "\n" }.joined()
                    out += right[edit.bStart..<edit.bEnd].map { "+" + $0 + "\n" }.joined()
                }
            }
        }
        return out
    }

    static func lines(_ text: String) -> [Substring] {
        text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// `start+1,length`, `start+1` for one line, `start,0` for none (difflib's unified ranges).
    static func range(_ start: Int, _ end: Int) -> String {
        let length = end - start
        if length == 1 { return "\(start + 1)" }
        if length == 0 { return "\(start),0" }
        return "\(start + 1),\(length)"
    }

    /// Equal runs and changed runs covering both sides: the common head and tail, and a longest common
    /// subsequence of the middle; a middle too large for that (over 4 million line pairs) is one change.
    static func edits(_ a: [Substring], _ b: [Substring]) -> [Edit] {
        var head = 0
        while head < a.count, head < b.count, a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < a.count - head, tail < b.count - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        let aMiddle = Array(a[head..<(a.count - tail)]), bMiddle = Array(b[head..<(b.count - tail)])
        var pairs: [(Int, Int)] = []
        if aMiddle.count * bMiddle.count <= 4_000_000 { pairs = commonLines(aMiddle, bMiddle) }
        var result: [Edit] = []
        func add(equal: Bool, _ aStart: Int, _ aEnd: Int, _ bStart: Int, _ bEnd: Int) {
            guard aEnd > aStart || bEnd > bStart else { return }
            if let last = result.last, last.equal == equal, last.aEnd == aStart, last.bEnd == bStart {
                result[result.count - 1].aEnd = aEnd
                result[result.count - 1].bEnd = bEnd
            } else {
                result.append(Edit(equal: equal, aStart: aStart, aEnd: aEnd, bStart: bStart, bEnd: bEnd))
            }
        }
        add(equal: true, 0, head, 0, head)
        var (i, j) = (0, 0)
        for (x, y) in pairs {
            add(equal: false, head + i, head + x, head + j, head + y)
            add(equal: true, head + x, head + x + 1, head + y, head + y + 1)
            (i, j) = (x + 1, y + 1)
        }
        add(equal: false, head + i, head + aMiddle.count, head + j, head + bMiddle.count)
        add(equal: true, a.count - tail, a.count, b.count - tail, b.count)
        return result
    }

    /// Index pairs of a longest common subsequence, in order.
    static func commonLines(_ a: [Substring], _ b: [Substring]) -> [(Int, Int)] {
        let n = a.count, m = b.count
        guard n > 0, m > 0 else { return [] }
        // lengths[i][j]: the LCS length of a[i...] and b[j...], one flat row-major array.
        var lengths = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lengths[i * (m + 1) + j] = a[i] == b[j] ? lengths[(i + 1) * (m + 1) + j + 1] + 1
                    : max(lengths[(i + 1) * (m + 1) + j], lengths[i * (m + 1) + j + 1])
            }
        }
        var pairs: [(Int, Int)] = []
        var (i, j) = (0, 0)
        while i < n, j < m {
            if a[i] == b[j] {
                pairs.append((i, j))
                (i, j) = (i + 1, j + 1)
            } else if lengths[(i + 1) * (m + 1) + j] >= lengths[i * (m + 1) + j + 1] {
                i += 1
            } else {
                j += 1
            }
        }
        return pairs
    }

    /// Hunks: changes with up to `context` equal lines around them; changes closer than twice that share a hunk.
    static func grouped(_ edits: [Edit], context n: Int) -> [[Edit]] {
        var codes = edits
        guard !codes.isEmpty else { return [] }
        if codes[0].equal {
            codes[0].aStart = max(codes[0].aStart, codes[0].aEnd - n)
            codes[0].bStart = max(codes[0].bStart, codes[0].bEnd - n)
        }
        if codes[codes.count - 1].equal {
            let last = codes.count - 1
            codes[last].aEnd = min(codes[last].aEnd, codes[last].aStart + n)
            codes[last].bEnd = min(codes[last].bEnd, codes[last].bStart + n)
        }
        var groups: [[Edit]] = [], group: [Edit] = []
        for var code in codes {
            if code.equal && code.aEnd - code.aStart > 2 * n {
                group.append(Edit(equal: true, aStart: code.aStart, aEnd: min(code.aEnd, code.aStart + n),
                                  bStart: code.bStart, bEnd: min(code.bEnd, code.bStart + n)))
                groups.append(group)
                group = []
                code.aStart = max(code.aStart, code.aEnd - n)
                code.bStart = max(code.bStart, code.bEnd - n)
            }
            group.append(code)
        }
        if !group.isEmpty && !(group.count == 1 && group[0].equal) { groups.append(group) }
        return groups.filter { !($0.count == 1 && $0[0].equal) && $0.contains { !$0.equal } }
    }
}
