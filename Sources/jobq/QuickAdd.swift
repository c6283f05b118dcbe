import CPosix
import CQuickAdd
import JobStore

/// `jobq add -- COMMAND [ARG…]` with no job option (only `--home` and `--json`) is handed to a
/// running daemon before `main`, by Sources/CQuickAdd — in C, so that it runs before the Swift
/// runtime starts. When the daemon took the job, the process ended there. What it can leave
/// for `main` is an add that went out but was refused or not answered: reported here the way
/// every add reports it (AddClient.id), and never sent again.
enum QuickAdd {
    static func reportWhatItLeft() throws {
        let outcome = jq_quick_add_left().pointee
        guard let home = outcome.home else { return }  // nothing went out
        // Throws: the error every add gives for a refusal or a missing answer.
        let exchange = AddClient.Exchange(status: outcome.status, id: 0, message: outcome.message)
        _ = try AddClient.id(from: exchange, home: Home(path: String(cString: home)))
    }
}
