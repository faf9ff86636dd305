import CLinux
import Foundation

/// A container's process: started in its own process group (so a stop reaches its children too), with the default
/// signal dispositions and an empty signal mask (the control plane blocks SIGTERM for itself), stdin from /dev/null,
/// stdout and stderr into pipes the kubelet reads, and no other file descriptor.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    /// Read ends of the process's stdout and stderr.
    let stdout: Int32
    let stderr: Int32

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    private init(pid: pid_t, stdout: Int32, stderr: Int32) {
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Spawns one at a time, so no child inherits another's pipe ends between their creation and the spawn.
    private static let spawning = NSLock()

    /// Starts `arguments[0]` (looked up on PATH when it has no slash) with exactly `environment`.
    static func spawn(_ arguments: [String], environment: [String], workingDirectory: String?) throws -> ChildProcess {
        spawning.lock()
        defer { spawning.unlock() }
        guard let program = arguments.first, !program.isEmpty else { throw SpawnError(description: "no command to run") }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe2(&outPipe, O_CLOEXEC) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe2(&errPipe, O_CLOEXEC) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let workingDirectory { posix_spawn_file_actions_addchdir_np(&actions, workingDirectory) }
        // Nothing else of this process reaches the container: not the API's sockets, not another child's pipes
        // (a pipe whose write end a container held would never see its end of file).
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, Int32(signal)) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = program.contains("/") ? posix_spawn(&pid, program, &actions, &attributes, argv, envp)
                                           : posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        guard result == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SpawnError(description: "\(program): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, stdout: outPipe[0], stderr: errPipe[0])
    }

    /// The exit status once the process has ended (reaped then), nil while it runs: the exit code, or 128 + the
    /// signal that ended it, as container runtimes report it.
    func exitStatus() -> (code: Int, signal: Int32?)? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return result < 0 && errno == ECHILD ? (137, SIGKILL) : nil }
        if status & 0x7f == 0 { return (Int((status >> 8) & 0xff), nil) }
        let signal = status & 0x7f
        return (128 + Int(signal), signal)
    }

    /// Sends `signal` to the whole process group.
    func signalGroup(_ signal: Int32) { kill(-pid, signal) }

    /// Every process whose environment carries `marker` (`NAME=value`): what a control plane killed without
    /// stopping its pods left running. Read from /proc; processes of other users are not readable and not ours.
    static func processes(carrying marker: String) -> [pid_t] {
        let needle = Array(marker.utf8) + [0]
        let own = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != own, let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { return nil }
            let bytes = Array(data)
            guard bytes.count >= needle.count else { return nil }
            // The marker as one whole NUL-terminated entry.
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: 0) ?? bytes.count
                if end - start == needle.count - 1 && Array(bytes[start..<end]) + [0] == needle { return pid }
                start = end + 1
            }
            return nil
        }
    }
}
