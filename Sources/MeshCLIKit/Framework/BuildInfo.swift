import CBuildInfo
import KubeClient
import Manifests

/// Facts about this build.
struct BuildInfo {
    var version: String
    var commit: String
    var swiftVersion: String
    var platform: String
    var libyaml: String
    /// Asked only for the documents that show it: libcurl is opened on first use, and `version --short` or the
    /// text form need not open it.
    var libcurl: String { CurlLibrary.version }

    static var current: BuildInfo {
        BuildInfo(version: VersionCommand.clientVersion, commit: String(cString: CBuildInfo_commit()),
                  swiftVersion: compilerVersion, platform: platform, libyaml: YAMLParser.libraryVersion)
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
