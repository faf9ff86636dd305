import CMeshShims
import KubeClient
import Manifests

/// `meshctl version`: what this build of meshctl is.
struct VersionCommand: MeshCommand {
    static let clientVersion = "0.1.0"

    static var spec: CommandSpec {
        CommandSpec(
            name: "version",
            abstract: "Print the meshctl version and what it was built with",
            discussion: """
            Prints meshctl's version, the git commit it was built from, the Swift version that compiled it
            and the versions of the C libraries it links (libyaml, libcurl).
            """,
            examples: [
                Example("Print the version", "meshctl version"),
                Example("Print only the version number", "meshctl version --short"),
                Example("Print the version as JSON", "meshctl version -o json"),
            ],
            flags: [
                FlagSpec("short", short: "s", kind: .bool, help: "Print only the version number"),
                OutputFormat.flag([.yaml, .json]),
            ])
    }

    let short: Bool
    let format: OutputFormat?

    init(_ invocation: Invocation) throws {
        short = invocation.bool("short")
        format = invocation.string("output").flatMap(OutputFormat.init(rawValue:))
    }

    func validate() throws {
        if short && format != nil {
            throw UsageError(problem: "--short and --output cannot be used together", commandPath: "meshctl version")
        }
    }

    func run(_ context: CommandContext) throws {
        let info = BuildInfo.current
        if short {
            context.stdout.write(info.version + "\n")
            return
        }
        switch format {
        case .json:
            context.stdout.write(JSONEmitter(indent: 2).emit(info.document) + "\n")
        case .yaml:
            context.stdout.write(YAMLEmitter().emit(info.document))
        default:
            context.stdout.write("client version: \(info.version) (commit \(info.commit), Swift \(info.swiftVersion), \(info.platform))\n")
        }
    }
}

/// Facts about this build.
struct BuildInfo {
    var version: String
    var commit: String
    var swiftVersion: String
    var platform: String
    var libyaml: String
    var libcurl: String

    static var current: BuildInfo {
        BuildInfo(version: VersionCommand.clientVersion, commit: String(cString: CMeshShims_build_commit()),
                  swiftVersion: compilerVersion, platform: platform, libyaml: YAMLParser.libraryVersion,
                  libcurl: CurlLibrary.version)
    }

    var document: YAMLNode {
        .mapping([("clientVersion", .mapping([
            ("version", .string(version)),
            ("gitCommit", .string(commit)),
            ("swiftVersion", .string(swiftVersion)),
            ("platform", .string(platform)),
            ("libyaml", .string(libyaml)),
            ("libcurl", .string(libcurl)),
        ]))])
    }

    private static var compilerVersion: String {
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    private static var platform: String {
        #if os(Linux)
        let system = "linux"
        #elseif os(macOS)
        let system = "darwin"
        #else
        let system = "unknown"
        #endif
        #if arch(x86_64)
        return system + "/amd64"
        #elseif arch(arm64)
        return system + "/arm64"
        #else
        return system + "/unknown"
        #endif
    }
}
