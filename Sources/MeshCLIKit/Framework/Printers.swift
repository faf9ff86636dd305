import Manifests

/// kubectl's table layout: upper-case headers, columns aligned with three spaces between them, no
/// padding after the last column.
public struct TablePrinter {
    public var headers: [String]
    public var rows: [[String]] = []

    public init(headers: [String]) {
        self.headers = headers.map { $0.uppercased() }
    }

    public mutating func append(_ row: [String]) { rows.append(row) }

    public func render() -> String {
        let all = [headers] + rows
        let columns = all.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in all {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var text = ""
        for row in all {
            var line = ""
            for (index, cell) in row.enumerated() {
                line += index == row.count - 1 ? cell : cell.padding(widths[index]) + "   "
            }
            text += line + "\n"
        }
        return text
    }
}

/// Writes objects as `-o yaml`, `-o json` or `-o name` do in kubectl: several objects become a `v1` List.
public enum ObjectPrinter {
    public static func render(_ objects: [YAMLNode], as format: OutputFormat) -> String {
        switch format {
        case .yaml:
            return YAMLEmitter(keyOrder: .sorted).emit(single(objects))
        case .json:
            return JSONEmitter(indent: 4, keyOrder: .sorted).emit(single(objects)) + "\n"
        case .name:
            return objects.map { object in
                let kind = (object["kind"]?.scalarText ?? "object").lowercased()
                let group = object["apiVersion"]?.scalarText.flatMap { version in
                    version.contains("/") ? String(version.split(separator: "/")[0]) : nil
                }
                let name = object["metadata"]?["name"]?.scalarText ?? ""
                return (group.map { "\(kind).\($0)" } ?? kind) + "/" + name + "\n"
            }.joined()
        case .table, .wide, .log:
            return ""
        }
    }

    private static func single(_ objects: [YAMLNode]) -> YAMLNode {
        if objects.count == 1 { return objects[0] }
        return .mapping([
            ("apiVersion", .string("v1")),
            ("items", .sequence(objects)),
            ("kind", .string("List")),
            ("metadata", .mapping([("resourceVersion", .string(""))])),
        ])
    }
}

/// istioctl's tables (Go's text/tabwriter): every cell but a line's last is padded to its column's widest cell
/// plus `padding` spaces; the last cell of a line is written as it is, so an empty one leaves the padding behind.
public struct ColumnWriter {
    public var padding: Int
    private var lines: [[String]] = []

    public init(padding: Int) { self.padding = padding }

    public mutating func append(_ cells: [String]) { lines.append(cells) }

    public func render() -> String {
        var widths: [Int] = []
        for line in lines {
            for (index, cell) in line.dropLast().enumerated() {
                if index == widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        var text = ""
        for line in lines {
            for (index, cell) in line.enumerated() {
                text += index == line.count - 1 ? cell : cell.padding(widths[index] + padding)
            }
            text += "\n"
        }
        return text
    }
}
