import Foundation
import MeshTestSupport
import XCTest
@testable import MeshControlPlane

final class KubeletTests: XCTestCase {
    /// A leftover carrying the marker but in this process's own group (or one whose group cannot be read any more)
    /// used to have its whole group SIGKILLed: this test runner with it, or pid 1 for -(-1). Only the leftover goes now.
    func testEndingLeftoversNeverSignalsTheCallersGroup() throws {
        let marker = ("MESHCTL_LOCAL_STATE", "/tmp/meshctl-kubelet-test-\(UUID().uuidString)")
        // posix_spawn without POSIX_SPAWN_SETPGROUP: the child stays in this process's group.
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), strdup("\(marker.0)=\(marker.1)"), nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        XCTAssertEqual(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, envp), 0)
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); waitpid(pid, nil, 0) } }
        XCTAssertEqual(getpgid(pid), getpgrp())
        XCTAssertTrue(eventually(timeout: 5) { ChildProcess.processes(carrying: "\(marker.0)=\(marker.1)").contains(pid) })

        Kubelet.endLeftovers(marker: marker)
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        reaped = true
        XCTAssertEqual(status & 0x7f, SIGKILL, "the leftover itself is killed")
    }
}
