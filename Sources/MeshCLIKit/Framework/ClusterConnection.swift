import KubeClient
import Manifests

/// The cluster a command talks to, from the global flags and the environment as kubectl resolves them.
enum ClusterConnection {
    /// A client for the selected context; kubeconfig problems become errors that say what to fix.
    static func client(_ context: CommandContext, timeoutSeconds: Int = 30) throws -> KubernetesClient {
        let access = try access(context)
        let stderr = context.stderr
        do {
            let timeout = context.global.requestTimeoutSeconds > 0 ? context.global.requestTimeoutSeconds : timeoutSeconds
            return try KubernetesClient(access: access, requestTimeoutSeconds: timeout, verbosity: context.global.verbosity,
                                        variables: context.environment.variables) { line in stderr.write(line + "\n") }
        } catch let error as KubeconfigError {
            throw CommandFailure(error.description)
        }
    }

    static func access(_ context: CommandContext) throws -> ClusterAccess {
        let options = Kubeconfig.Options(kubeconfig: context.global.kubeconfig.map { FileSystem.resolve($0, in: context.environment.workingDirectory) },
                                         context: context.global.context, namespace: context.global.namespace,
                                         variables: context.environment.variables)
        do {
            return try Kubeconfig.resolve(options)
        } catch let error as KubeconfigError {
            var failure = CommandFailure(error.description)
            failure.nothingConfigured = error.nothingConfigured
            throw failure
        }
    }

    /// The cluster access, or nil when no cluster is configured at all (no kubeconfig, not in a cluster); a
    /// kubeconfig that is there but broken, or a context that is not in it, is an error.
    static func accessIfConfigured(_ context: CommandContext) throws -> ClusterAccess? {
        do {
            return try access(context)
        } catch let error as CommandFailure where error.nothingConfigured {
            return nil
        }
    }

    /// The object a request reads, or nil when the server says it does not exist (404); other errors are thrown.
    static func notFoundAsNil(_ body: () throws -> JSONValue) throws -> JSONValue? {
        do { return try body() } catch let error as APIStatusError where error.code == 404 { return nil }
    }

    /// Runs a request, turning transport and API errors into command failures (exit 1) with their own words.
    static func call<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as APIStatusError {
            throw CommandFailure.fromServer(error.description)
        } catch let error as TransportError {
            throw CommandFailure(error.description)
        } catch let error as KubeconfigError {
            throw CommandFailure(error.description)
        }
    }
}
