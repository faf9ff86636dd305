import MeshCLIKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct Entrypoint {
    static func main() {
        let code = MeshCLI.run(Array(CommandLine.arguments.dropFirst()), environment: .process())
        exit(code.rawValue)
    }
}
