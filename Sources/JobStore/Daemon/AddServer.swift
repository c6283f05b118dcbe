import CPosix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of the `jobq add` socket (see AddWire): accepts connections, reads
/// requests, and after each turn of the event loop commits everything that arrived in one
/// transaction — one fsync for however many adds came together — then answers each.
final class AddServer {
    let path: String
    let listener: Int32
    private var buffers: [Int32: [UInt8]] = [:]
    /// What `recv` reads into (made once: zeroing 64 KiB for every request cost the daemon more
    /// than the request).
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    private let uid = getuid()
    private let logger = Logger(label: "jobq-daemon")

    /// nil when the socket cannot be made (e.g. the home's path is too long for a socket
    /// address): `jobq add` then writes to the database itself, which works the same, slower.
    init?(path: String) {
        self.path = path
        listener = jq_unix_listen(path)
        guard listener >= 0 else { return nil }
        chmod(path, 0o600)
    }

    deinit {
        for fd in buffers.keys { close(fd) }
        close(listener)
        unlink(path)
    }

    /// The descriptors to poll: the listener, then every open connection.
    var descriptors: [Int32] { [listener] + buffers.keys.sorted() }

    /// Accepts and reads what is ready; returns the complete requests. A connection accepted
    /// now is read at once (its request is usually there already), not a turn of the loop later.
    func read(ready: Set<Int32>) -> [(fd: Int32, spec: JobSpec)] {
        let accepted = ready.contains(listener) ? acceptAll() : []
        var requests: [(Int32, JobSpec)] = []
        for fd in buffers.keys.sorted() where ready.contains(fd) || accepted.contains(fd) {
            guard readAvailable(fd) else { continue }
            guard let buffer = buffers[fd], let (payload, _) = AddWire.unframe(buffer) else { continue }
            if let spec = AddWire.decode(payload) {
                requests.append((fd, spec))
            } else {
                answer(fd, .failure(AddRefused(message: "the daemon could not read the request (a different jobq version?)")))
            }
        }
        return requests
    }

    func answer(_ fd: Int32, _ result: Result<JobID, Error>) {
        let message = AddWire.frame(AddWire.answer(result))
        _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        drop(fd)
    }

    private func acceptAll() -> Set<Int32> {
        var accepted = Set<Int32>()
        while true {
            let fd = jq_unix_accept(listener)
            if fd < 0 { return accepted }
            // The socket sits in the 0700 run folder; the peer check is a second lock.
            if jq_peer_uid(fd) != Int(uid) {
                close(fd)
                continue
            }
            buffers[fd] = []
            accepted.insert(fd)
        }
    }

    /// Reads what the connection has; false (and closed) when it ended or broke.
    private func readAvailable(_ fd: Int32) -> Bool {
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                buffers[fd, default: []] += chunk[0..<n]
                if buffers[fd]!.count > AddWire.maximumMessage + 4 {
                    logger.warning("add socket: a request over \(AddWire.maximumMessage) bytes; closing it")
                    drop(fd)
                    return false
                }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
            drop(fd)
            return false
        }
    }

    private func drop(_ fd: Int32) {
        buffers[fd] = nil
        close(fd)
    }
}
