import Foundation

/// A standard cron schedule: five fields (minute, hour, day of month, month, day of week) with `*`, lists, ranges,
/// steps and month and weekday names, or a macro (`@hourly`, `@daily`, ...). When both day fields are restricted,
/// a day matching either one matches, as in cron.
public struct CronSchedule: Sendable {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool
    let calendar: Calendar

    public init(_ text: String, timeZone: String? = nil) throws(ParseError) {
        let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                      "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
        var expression = text.trimmingCharacters(in: .whitespaces)
        var zoneName = timeZone
        if expression.hasPrefix("CRON_TZ=") || expression.hasPrefix("TZ=") {
            let parts = expression.split(separator: " ", maxSplits: 1).map(String.init)
            zoneName = String(parts[0].split(separator: "=", maxSplits: 1).last ?? "")
            expression = parts.count > 1 ? parts[1] : ""
        }
        expression = macros[expression] ?? expression
        let fields = expression.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else { throw ParseError(description: "expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count) in \"\(text)\"") }
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        minutes = try Self.field(fields[0], 0...59, names: [], offset: 0, what: "minute")
        hours = try Self.field(fields[1], 0...23, names: [], offset: 0, what: "hour")
        days = try Self.field(fields[2], 1...31, names: [], offset: 0, what: "day of month")
        months = try Self.field(fields[3], 1...12, names: monthNames, offset: 1, what: "month")
        weekdays = Set(try Self.field(fields[4], 0...7, names: dayNames, offset: 0, what: "day of week").map { $0 % 7 })
        daysRestricted = !fields[2].hasPrefix("*") && fields[2] != "?"
        weekdaysRestricted = !fields[4].hasPrefix("*") && fields[4] != "?"
        var calendar = Calendar(identifier: .gregorian)
        if let zoneName, !zoneName.isEmpty {
            guard let zone = TimeZone(identifier: zoneName) else { throw ParseError(description: "unknown time zone \"\(zoneName)\"") }
            calendar.timeZone = zone
        } else {
            calendar.timeZone = TimeZone(identifier: "UTC")!
        }
        self.calendar = calendar
    }

    private static func field(_ text: String, _ range: ClosedRange<Int>, names: [String], offset: Int, what: String) throws(ParseError) -> Set<Int> {
        func number(_ token: String) throws(ParseError) -> Int {
            if let value = Int(token), range.contains(value) { return value }
            if let index = names.firstIndex(of: token.lowercased()) { return index + offset }
            throw ParseError(description: "\(what): \"\(token)\" is not a value from \(range.lowerBound) to \(range.upperBound)")
        }
        var values = Set<Int>()
        for part in text.split(separator: ",").map(String.init) {
            let pieces = part.split(separator: "/", maxSplits: 1).map(String.init)
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value > 0 else { throw ParseError(description: "\(what): step \"\(pieces[1])\" must be a positive number") }
                step = value
            }
            var low = range.lowerBound, high = range.upperBound
            if pieces[0] != "*" && pieces[0] != "?" {
                let bounds = pieces[0].split(separator: "-", maxSplits: 1).map(String.init)
                low = try number(bounds[0])
                high = bounds.count == 2 ? try number(bounds[1]) : (pieces.count == 2 ? range.upperBound : low)
                guard low <= high else { throw ParseError(description: "\(what): range \"\(pieces[0])\" runs backwards") }
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    func matches(_ date: Date) -> Bool {
        let parts = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: date)
        guard minutes.contains(parts.minute!), hours.contains(parts.hour!), months.contains(parts.month!) else { return false }
        return dayMatches(parts)
    }

    private func dayMatches(_ parts: DateComponents) -> Bool {
        let day = days.contains(parts.day!), weekday = weekdays.contains(parts.weekday! - 1)
        if daysRestricted && weekdaysRestricted { return day || weekday }
        return day && weekday
    }

    /// The first time after `date` the schedule names (nil if none within about five years).
    public func next(after date: Date) -> Date? {
        var time = calendar.dateInterval(of: .minute, for: date)!.start.addingTimeInterval(60)
        for _ in 0..<100_000 {
            let parts = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: time)
            if !months.contains(parts.month!) {
                time = calendar.date(byAdding: .month, value: 1, to: calendar.dateInterval(of: .month, for: time)!.start)!
            } else if !dayMatches(parts) {
                time = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: time))!
            } else if !hours.contains(parts.hour!) {
                time = calendar.dateInterval(of: .hour, for: time)!.start.addingTimeInterval(3600)
            } else if !minutes.contains(parts.minute!) {
                time = time.addingTimeInterval(60)
            } else {
                return time
            }
        }
        return nil
    }

    /// The latest scheduled time in (`after`, `notAfter`], if any: searched in widening windows before `notAfter`, so a
    /// schedule missed many times while local mode was down costs little.
    public func latest(after: Date, notAfter: Date) -> Date? {
        guard after < notAfter else { return nil }
        for window: Double in [3600, 86_400, 2_678_400, 31_622_400, 158_112_000] {
            let start = max(after, notAfter.addingTimeInterval(-window))
            var cursor = start
            var found: Date?
            while let next = next(after: cursor), next <= notAfter {
                found = next
                cursor = next
            }
            if found != nil || start == after { return found }
        }
        return nil
    }
}
