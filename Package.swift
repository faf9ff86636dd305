// swift-tools-version:6.0
import PackageDescription

/// meshctl: an operator CLI for Istio service meshes.
/// No third-party Swift packages: system C libraries come in through `systemLibrary` targets.
let package = Package(
    name: "meshctl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "meshctl", targets: ["meshctl"]),
        // The sidecar proxy alone (`meshctl proxy` execs it when it sits beside meshctl): no libcurl, SQLite or CLI.
        .executable(name: "meshctl-proxy", targets: ["meshctl-proxy"]),
    ],
    dependencies: [],
    targets: [
        // C libraries, each wrapped by exactly one Swift file.
        // libcurl's headers only (libcurl4-openssl-dev): CCurlShims opens the library itself on first use, so the
        // binaries do not name it among their needed libraries (no pkg-config: its flags would add -lcurl).
        .systemLibrary(name: "CCurl"),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        // SQLite's header only (libsqlite3-dev): CSQLiteShims opens the library on first use, as CCurlShims does libcurl.
        .systemLibrary(name: "CSQLite"),
        // Typed shims for what Swift cannot call directly (variadic functions, macros), one per C library,
        // so a module links only the libraries it uses.
        .target(name: "CCurlShims", dependencies: ["CCurl"]),
        .target(name: "COpenSSLShims", dependencies: ["COpenSSL"]),
        .target(name: "CSQLiteShims", dependencies: ["CSQLite"]),
        .systemLibrary(name: "CEpoll"),
        // Linux calls Glibc's module leaves out (accept4, malloc_trim).
        .systemLibrary(name: "CLinux"),
        // The git commit `make` stamps into the binary.
        .target(name: "CBuildInfo"),

        // Swift modules, imports in one direction (see ../shared/design/ARCHITECTURE.md).
        // YAML and JSON documents with source positions (libyaml), the value layer every config reader shares.
        .target(name: "ConfigValues", dependencies: ["CYAML"], linkerSettings: [.linkedLibrary("m")]),
        .target(name: "Manifests", dependencies: ["ConfigValues"]),
        .target(name: "KubeClient", dependencies: ["Manifests", "CCurl", "CCurlShims"]),
        // Release builds of MeshNet skip the run-time exclusivity checks: measured at about 7% of the hello-world
        // server's own CPU time (a lookup per class property access); debug builds and tests keep them.
        // They also export their function bodies to the modules that import them (-cross-module-optimization), so
        // ByteBuffer's and the codecs' small generic calls are specialised and inlined at the call site: the
        // hello-world server's instructions per request fell from 10,565 to 9,865 (callgrind).
        // MeshNet is the loop, buffers, channels and TCP (no C library types: only the epoll and Linux shims);
        // MeshTLS is OpenSSL's engine, layer and handler on its channels; MeshHTTP1 the HTTP/1.1 codecs and server.
        .target(name: "MeshNet", dependencies: ["CEpoll", "CLinux"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]),
        .target(name: "MeshTLS", dependencies: ["MeshNet", "COpenSSL", "COpenSSLShims"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]),
        .target(name: "MeshHTTP1", dependencies: ["MeshNet", "MeshTLS"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]),
        // HTTP/2 (RFC 9113) and HPACK (RFC 7541): frames, a sans-IO connection, and a server and client on MeshNet's loop.
        .target(name: "MeshHTTP2", dependencies: ["MeshNet", "MeshHTTP1"]),
        // What runs in local mode's pods and what they see of the cluster: the echo app, Service names and service
        // links, the HTTP client of /call and `local curl`. Pods know no store: only their env and the names file.
        .target(name: "LocalPods", dependencies: ["ConfigValues", "MeshNet", "MeshTLS", "MeshHTTP1", "MeshHTTP2"]),
        // The pilot: Istio resources -> each proxy's Envoy configuration (listeners, clusters, routes, endpoints, secrets).
        .target(name: "MeshPilot", dependencies: ["Manifests", "ConfigValues", "MeshNet", "MeshTLS", "MeshHTTP1"]),
        .target(name: "MeshControlPlane", dependencies: ["Manifests", "MeshNet", "MeshTLS", "MeshHTTP1", "MeshHTTP2", "LocalPods", "MeshPilot", "CSQLite", "CSQLiteShims", "CLinux"]),
        // Envoy's admin data (config_dump, /clusters, /logging, stats): typed, lenient views shared by the CLI and the runtime.
        .target(name: "EnvoyConfig", dependencies: ["ConfigValues"]),
        // The 503 doctor: Istio objects + Envoy-shaped evidence (access log, stats, /clusters, config_dump) -> causes.
        .target(name: "MeshDoctor", dependencies: ["Manifests", "EnvoyConfig"]),
        // The sidecar data plane: runs Envoy's v3 configuration language (static bootstrap, file-based RDS/SDS) on MeshNet.
        // Release builds skip the run-time exclusivity checks here too: swift_beginAccess and its access set were 5% of
        // a proxied request's instructions in callgrind (class properties of the stream, pool and connections).
        .target(name: "MeshProxy", dependencies: ["ConfigValues", "MeshNet", "MeshTLS", "MeshHTTP1", "MeshHTTP2"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // A local pod's sidecar: the bootstrap pilot-agent would write, the agent's 15020, the proxy (or a real Envoy).
        .target(name: "MeshSidecar", dependencies: ["ConfigValues", "MeshNet", "MeshHTTP1", "LocalPods", "MeshProxy"]),
        .target(name: "MeshCLIKit", dependencies: ["Manifests", "EnvoyConfig", "MeshDoctor", "MeshProxy", "KubeClient", "MeshNet", "MeshTLS", "MeshControlPlane", "LocalPods",
                                                   "MeshSidecar", "CBuildInfo"]),
        .executableTarget(name: "meshctl", dependencies: ["MeshCLIKit"],
                          linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"],
                                                        .when(configuration: .release))]),
        // Release links pack the relative relocations (DT_RELR, glibc 2.36+, lld): ~1.8 MB of RELA entries the
        // dynamic loader read at every start shrink to a few KB.
        .executableTarget(name: "meshctl-proxy", dependencies: ["MeshProxy", "MeshNet", "MeshSidecar"],
                          linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"],
                                                        .when(configuration: .release))]),

        // Conformance harness over ../shared/conformance/istio, and the benchmark driver.
        .target(name: "MeshConformance", dependencies: ["Manifests", "EnvoyConfig", "MeshDoctor", "MeshNet", "MeshHTTP1", "MeshCLIKit", "KubeClient", "MeshControlPlane"]),
        .executableTarget(name: "meshctl-conformance", dependencies: ["MeshConformance"]),
        .executableTarget(name: "meshctl-bench", dependencies: ["Manifests", "MeshConformance", "MeshControlPlane", "KubeClient", "MeshNet", "MeshTLS"]),
        // The network core's own benchmark (HTTP server against nginx): needs a release build of MeshNet..MeshHTTP2 only.
        .executableTarget(name: "meshnet-bench", dependencies: ["MeshNet", "MeshTLS", "MeshHTTP1", "MeshHTTP2"]),

        // What several test targets share: waiting on a condition with a deadline.
        .target(name: "MeshTestSupport", dependencies: ["MeshTLS"], path: "Tests/MeshTestSupport"),
        .testTarget(name: "ConfigValuesTests", dependencies: ["ConfigValues", "MeshTestSupport"], exclude: ["Fixtures", "Golden"]),
        .testTarget(name: "ManifestsTests", dependencies: ["Manifests", "MeshTestSupport"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "MeshControlPlane", "Manifests"]),
        .testTarget(name: "LocalPodsTests", dependencies: ["LocalPods", "MeshNet", "MeshHTTP1", "MeshHTTP2", "ConfigValues", "MeshTestSupport"]),
        .testTarget(name: "MeshNetTests", dependencies: ["MeshNet", "MeshTestSupport"]),
        .testTarget(name: "MeshTLSTests", dependencies: ["MeshTLS", "MeshNet", "MeshHTTP1", "MeshTestSupport"]),
        .testTarget(name: "MeshHTTP1Tests", dependencies: ["MeshHTTP1", "MeshTLS", "MeshNet", "MeshTestSupport"]),
        .testTarget(name: "MeshHTTP2Tests", dependencies: ["MeshHTTP2", "MeshHTTP1", "MeshTLS", "MeshNet", "KubeClient", "MeshTestSupport"]),
        .testTarget(name: "MeshControlPlaneTests", dependencies: ["MeshControlPlane", "MeshNet", "MeshTLS", "MeshHTTP1", "MeshPilot", "Manifests", "KubeClient", "MeshTestSupport"]),
        .testTarget(name: "MeshCLIKitTests", dependencies: ["MeshCLIKit", "Manifests", "MeshNet", "MeshTLS", "KubeClient", "MeshControlPlane", "MeshConformance", "LocalPods",
                                                          "MeshTestSupport"]),
        .testTarget(name: "EnvoyConfigTests", dependencies: ["EnvoyConfig", "ConfigValues"]),
        .testTarget(name: "MeshProxyTests", dependencies: ["MeshProxy", "MeshNet", "MeshTLS", "MeshHTTP1", "MeshHTTP2", "ConfigValues", "EnvoyConfig", "MeshPilot", "MeshTestSupport"]),
        .testTarget(name: "MeshConformanceTests", dependencies: ["MeshConformance"]),
        .testTarget(name: "MeshSidecarTests", dependencies: ["MeshSidecar", "MeshProxy", "MeshNet", "MeshHTTP1", "LocalPods", "ConfigValues", "MeshTestSupport"]),
        .testTarget(name: "MeshPilotTests", dependencies: ["MeshPilot", "ConfigValues", "Manifests", "MeshNet", "MeshTLS", "MeshHTTP1", "MeshHTTP2", "MeshProxy", "EnvoyConfig", "MeshTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "MeshDoctorTests", dependencies: ["MeshDoctor", "EnvoyConfig", "Manifests", "MeshTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
