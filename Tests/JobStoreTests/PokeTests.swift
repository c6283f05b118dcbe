import CPosix
import Glibc
import Testing
import TestSupport

@testable import JobStore

/// Poking a FIFO whose listener has gone: `jobq add` pokes the daemon after its commit, and the
/// daemon may exit between the poke's open and its write.
@Suite struct PokeTests {
    /// The write fails with EPIPE and the process lives on, with no SIGPIPE left pending — in a
    /// forked child whose SIGPIPE is at its default (fatal) disposition and unblocked, as in
    /// `jobq add`. The pipe is made in the child: made in this multi-threaded test process, its
    /// read end could still be open here, or in a child another test spawns meanwhile, when the
    /// child writes, and the write would succeed. Only async-signal-safe calls run in the child.
    @Test func aWriteToAVanishedReaderFailsWithoutSIGPIPE() throws {
        let child = fork()
        if child == 0 {
            signal(SIGPIPE, SIG_DFL)
            var pipeOnly = sigset_t()
            sigemptyset(&pipeOnly)
            sigaddset(&pipeOnly, SIGPIPE)
            sigprocmask(SIG_UNBLOCK, &pipeOnly, nil)
            var ends: (reader: Int32, writer: Int32) = (-1, -1)  // a tuple: no allocation
            let made = withUnsafeMutablePointer(to: &ends) {
                $0.withMemoryRebound(to: Int32.self, capacity: 2) { pipe($0) }
            }
            guard made == 0 else { _exit(2) }
            close(ends.reader)
            var byte: UInt8 = 1
            let written = jq_write_without_sigpipe(ends.writer, &byte, 1)
            let failedWithEPIPE = written == -1 && errno == EPIPE
            var pending = sigset_t()
            sigpending(&pending)
            _exit(failedWithEPIPE && sigismember(&pending, SIGPIPE) == 0 ? 0 : 1)
        }
        try #require(child > 0)
        #expect(waitForExitOrKill(child, seconds: 20) == 0, "141 = killed by SIGPIPE")
    }

    /// Nobody listening: `Poke.send` and `isListening` say so without blocking or failing.
    @Test func aFIFOWithoutAListenerIsNotListening() throws {
        let folder = TemporaryDirectory("poke")
        let path = folder.file("wake")
        try #require(mkfifo(path, 0o600) == 0)
        #expect(!Poke.isListening(at: path))
        #expect(!Poke.send(to: path))
        let listener = try Poke(listeningAt: path)
        #expect(Poke.isListening(at: path))
        #expect(Poke.send(Daemon.checkpointRequest, to: path))
        #expect(listener.drain() == [Daemon.checkpointRequest])
    }
}
