/// Reads the manifests a command is given: files, directories (walked for .yaml, .yml and .json) and `-` for standard input.
enum ManifestFiles {
    /// Each input as (the name to show, its text); `notes` gets one line per file skipped in a directory, and with
    /// `manifestNamesOnly` also per named file that is not .yaml, .yml or .json (as istioctl analyze does).
    static func read(_ files: [String], _ context: CommandContext, notes: inout [String],
                     manifestNamesOnly: Bool = false) throws -> [(name: String, text: String)] {
        var result: [(name: String, text: String)] = []
        let directory = context.environment.workingDirectory
        for file in files {
            if file == "-" {
                result.append(("<stdin>", String(decoding: context.environment.readStandardInput(), as: UTF8.self)))
                continue
            }
            let path = FileSystem.resolve(file, in: directory)
            if FileSystem.isDirectory(path) {
                result += try walk(path, shown: file, notes: &notes)
            } else if manifestNamesOnly && !isManifestName(file) {
                notes.append("skipping \(file): not a .yaml, .yml or .json file")
            } else {
                result.append((file, try FileSystem.readText(path, shownAs: file)))
            }
        }
        return result
    }

    /// The error for inputs that hold no Kubernetes object at all (exit 65): empty files, empty standard input,
    /// or directories without a manifest file.
    static func noObjects(in inputs: [String], given files: [String]) -> InputDataError {
        let fromDirectories = inputs.filter { $0 != "<stdin>" && !files.contains($0) }
        let read = fromDirectories.isEmpty ? "" : " (read: \(fromDirectories.joined(separator: ", ")))"
        return InputDataError("no Kubernetes objects in \(files.map { $0 == "-" ? "standard input" : $0 }.joined(separator: ", "))\(read): "
                              + "give files or directories with YAML or JSON manifests")
    }

    static func isManifestName(_ name: String) -> Bool {
        name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.hasSuffix(".json")
    }

    private static func walk(_ path: String, shown: String, notes: inout [String]) throws -> [(name: String, text: String)] {
        var result: [(name: String, text: String)] = []
        for name in try FileSystem.list(path) where !name.hasPrefix(".") {
            let child = path + "/" + name, childShown = (shown.hasSuffix("/") ? shown : shown + "/") + name
            if FileSystem.isDirectory(child) {
                result += try walk(child, shown: childShown, notes: &notes)
            } else if isManifestName(name) {
                result.append((childShown, try FileSystem.readText(child, shownAs: childShown)))
            } else {
                notes.append("skipping \(childShown): not a .yaml, .yml or .json file")
            }
        }
        return result
    }
}
