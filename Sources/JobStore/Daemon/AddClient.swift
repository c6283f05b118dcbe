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

        /// An exchange as C reports it: a JQ_ADD_* status, and the id or the refusal's message.
        public init(status: Int32, id: Int64, message: UnsafePointer<CChar>?) {
            switch Int(status) {
            case JQ_ADD_ADDED: self = .answered(.added(JobID(id)))
            case JQ_ADD_REFUSED: self = .answered(.refused(message.map { String(cString: $0) } ?? ""))
            case JQ_ADD_NO_ANSWER: self = .noAnswer
            default: self = .unavailable
            }
        }
    }

    /// Sends one framed request to the daemon at `socketPath` and reads its answer
    /// (jq_add_exchange, which `jobq add`'s quick path runs before the Swift runtime starts).
    public static func exchange(_ message: UnsafeRawBufferPointer, socketPath: UnsafePointer<CChar>) -> Exchange {
        var answer = jq_add_answer()
        let status = jq_add_exchange(message.baseAddress, message.count, socketPath, &answer)
        defer { free(answer.message) }
        return Exchange(status: status, id: answer.id, message: answer.message)
    }
}
