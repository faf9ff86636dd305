import MeshCLIKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct Entrypoint {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        LeanProxy.execIfBeside(arguments)
        let code = MeshCLI.run(arguments, environment: .process())
        exit(code.rawValue)
    }
}

/// `meshctl proxy ...` and local mode's `meshctl x sidecar ...` (with meshctl's proxy, not Envoy) run in
/// `meshctl-proxy` when that binary sits beside this one: the same proxy without the rest of meshctl, so the process
/// maps and touches far less (see its LeanProxyMain). It hands anything it does not serve back here with
/// MESHCTL_PROXY_IN_PROCESS set, which also lets a user keep the proxy in meshctl's own process.
enum LeanProxy {
    static func execIfBeside(_ arguments: [String]) {
        guard getenv("MESHCTL_PROXY_IN_PROCESS") == nil else { return }
        let sidecarProxy = getenv("MESHCTL_SIDECAR_PROXY").map { String(cString: $0) }
        let isSidecar = arguments.starts(with: ["x", "sidecar"]) && sidecarProxy != "envoy"
        guard arguments.first == "proxy" || isSidecar else { return }
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return }
        let lean = String(path[..<slash]) + "/meshctl-proxy"
        guard access(lean, X_OK) == 0 else { return }
        let argv = (["meshctl-proxy"] + arguments).map { strdup($0) } + [nil]
        execv(lean, argv)
        // Not runnable after all: the proxy runs in this process.
    }
}
