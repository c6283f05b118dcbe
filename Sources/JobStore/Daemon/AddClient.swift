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
        guard var request = AddWire.request(spec) else { return .unavailable }
        guard request.count - 4 < AddWire.maximumMessage else { return .unavailable }
        let exchanged = home.socketPath.withCString { exchange(request.message(), socketPath: $0) }
        return try id(from: exchanged, home: home).map(Outcome.added) ?? .unavailable
    }

    /// The id the daemon gave; nil when it took nothing (add the job directly). Throws its
    /// refusal, or when it took the request but did not answer.
    public static func id(from exchange: Exchange, home: Home) throws -> JobID? {
        switch exchange {
        case .unavailable: return nil
        case .answered(.added(let id)): return id
        case .answered(.refused(let message)): throw AddRefused(message: message)
        case .noAnswer: throw StoreError.daemonNoAnswer(home: home.path)
        }
    }

    public enum Exchange {
        /// Nothing was taken: no daemon listens, or it closed the connection before reading.
        case unavailable
        case answered(AddWire.Answer)
        /// The request went out, but no (readable) answer came back.
        case noAnswer
    }

    /// Sends one framed request to the daemon at `socketPath` and reads its answer. Written with
    /// raw memory only, as `jobq add`'s quick path needs (see RequestWriter).
    public static func exchange(_ message: UnsafeRawBufferPointer, socketPath: UnsafePointer<CChar>) -> Exchange {
        let fd = jq_unix_connect(socketPath)
        guard fd >= 0 else { return .unavailable }
        defer { close(fd) }
        _ = jq_socket_timeout(fd, 60_000)
        var offset = 0
        while offset < message.count {
            let n = send(fd, message.baseAddress! + offset, message.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            // The daemon closed the connection before reading anything: it was stopping.
            if n <= 0 { return .unavailable }
            offset += n
        }
        var header: UInt32 = 0
        let gotHeader = withUnsafeMutableBytes(of: &header) { receive(fd, into: $0) }
        guard gotHeader, let length = withUnsafeBytes(of: header, AddWire.length), length < AddWire.maximumMessage,
            let payload = malloc(max(length, 1))
        else { return .noAnswer }
        defer { free(payload) }
        let buffer = UnsafeMutableRawBufferPointer(start: payload, count: length)
        guard receive(fd, into: buffer), let answer = AddWire.decodeAnswer(UnsafeRawBufferPointer(buffer)) else {
            return .noAnswer
        }
        return .answered(answer)
    }

    /// Fills `buffer` from the socket; false when it ends or fails first.
    private static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let n = recv(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
