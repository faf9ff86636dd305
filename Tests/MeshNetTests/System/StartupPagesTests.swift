@testable import MeshNet
import XCTest

final class StartupPagesTests: XCTestCase {
    func testReadsMappingHeaders() {
        let code = StartupPages.header("5598e23e4000-5598e399f000 r-xp 00000000 fe:00 1234    /usr/bin/meshctl-proxy\n")
        XCTAssertEqual(code, StartupPages.Mapping(start: 0x5598e23e4000, end: 0x5598e399f000, permissions: "r-xp", path: "/usr/bin/meshctl-proxy"))
        XCTAssertEqual(StartupPages.header("7ffd1000-7ffd3000 rw-p 00000000 00:00 0 \n")?.path, "")
        XCTAssertEqual(StartupPages.header("7ffd1000-7ffd3000 rw-p 00000000 00:00 0    [stack]\n")?.path, "[stack]")
        XCTAssertNil(StartupPages.header("Rss:                 308 kB\n"))
        XCTAssertNil(StartupPages.header("VmFlags: rd ex mr mw me dw\n"))
    }

    /// Only read-only file mappings without a private copy of any page: never the heap, stacks, relocated data.
    func testReleasesOnlyUnwrittenReadOnlyFileMappings() {
        let code = StartupPages.Mapping(start: 0, end: 4096, permissions: "r-xp", path: "/bin/x")
        XCTAssertTrue(code.holdsOnlyFilePages)
        var relocated = StartupPages.Mapping(start: 0, end: 4096, permissions: "r--p", path: "/bin/x")
        relocated.anonymousKiB = 4
        XCTAssertFalse(relocated.holdsOnlyFilePages)
        XCTAssertFalse(StartupPages.Mapping(start: 0, end: 4096, permissions: "rw-p", path: "/bin/x").holdsOnlyFilePages)
        XCTAssertFalse(StartupPages.Mapping(start: 0, end: 4096, permissions: "r--s", path: "/dev/shm/x").holdsOnlyFilePages)
        XCTAssertFalse(StartupPages.Mapping(start: 0, end: 4096, permissions: "r--p", path: "[vvar]").holdsOnlyFilePages)
        XCTAssertFalse(StartupPages.Mapping(start: 0, end: 4096, permissions: "r--p", path: "").holdsOnlyFilePages)
    }

    /// In this very process: the pages leave the resident set and the code and data keep working.
    func testReleaseShrinksTheResidentFilePagesAndTheProcessCarriesOn() throws {
        let before = StartupPages.mappings().filter(\.holdsOnlyFilePages).reduce(0) { $0 + $1.residentKiB }
        XCTAssertGreaterThan(before, 0)
        XCTAssertGreaterThan(StartupPages.release(), 0)
        let after = StartupPages.mappings().filter(\.holdsOnlyFilePages).reduce(0) { $0 + $1.residentKiB }
        XCTAssertLessThan(after, before)
        XCTAssertEqual([3, 1, 2].sorted(), [1, 2, 3])
        XCTAssertEqual(String(describing: StartupPages.Mapping.self), "Mapping")
    }
}
