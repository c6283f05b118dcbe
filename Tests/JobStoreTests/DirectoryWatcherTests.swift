import CPosix
import Glibc
import Testing
import TestSupport

@testable import JobStore

/// Closing a watch (every `jobq wait` does, at its end) leaves the kernel's release of it to a
/// child process, so that the command returns without waiting for it.
@Suite struct DirectoryWatcherTests {
    let folder = TemporaryDirectory("watch")

    @Test func aClosedWatchIsReleasedByAChildThatExitsByItself() throws {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        try #require(fd >= 0)
        try #require(inotify_add_watch(fd, folder.path, UInt32(IN_MODIFY)) >= 0)
        let child = jq_close_watch_in_background(fd)
        try #require(child > 0)
        var status: Int32 = 0
        #expect(waitUntil(seconds: 10) { waitpid(child, &status, WNOHANG) == child })
        #expect(jq_wifexited(status) != 0 && jq_wexitstatus(status) == 0)
    }
}
