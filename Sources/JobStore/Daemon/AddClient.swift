import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// `jobq add`'s side of the daemon socket (see AddWire).
public enum AddClient {
    public enum Outcome {
        case added(JobID)
        /// No daemon listens (or the job cannot travel this way): nothing was sent; add it directly.
        case unavailable
    }

    /// Hands `spec` to the daemon. Throws the daemon's refusal, or an error when the daemon
    /// stopped answering after the job was sent (then it may or may not have been added).
    public static func add(_ spec: JobSpec, home: Home) throws -> Outcome {
        guard let payload = AddWire.encode(spec), payload.count < AddWire.maximumMessage else { return .unavailable }
        let fd = jq_unix_connect(home.socketPath)
        guard fd >= 0 else { return .unavailable }
        defer { close(fd) }
        _ = jq_socket_timeout(fd, 60_000)
        let message = AddWire.frame(payload)
        let sent = message.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        // The daemon closed the connection before reading anything: it was stopping.
        guard sent else { return .unavailable }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let (payload, _) = AddWire.unframe(buffer) {
                switch AddWire.decodeAnswer(payload) {
                case .success(let id)?: return .added(id)
                case .failure(let refusal)?: throw refusal
                case nil: break
                }
                break
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buffer += chunk[0..<n]
        }
        throw StoreError.daemonNoAnswer(home: home.path)
    }
}
