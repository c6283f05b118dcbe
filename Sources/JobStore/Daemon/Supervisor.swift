import CPosix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A supervisor: the long-lived owner of worker slots — the daemon starts one for all of its
/// slots. It starts jobs in their slots, each in its own session, waits for them, and records
/// how they ended. It holds each slot's lock for as long as it may run a job there, so "the lock
/// is held" means "this job's owner is alive", and it outlives the daemon: when the daemon goes
/// away it finishes the jobs it has, records their outcomes, and exits.
///
/// A job may start only once its claim is on disk. So that short jobs do not each wait for a
/// flush, it reserves the next few jobs and flushes that while its jobs run, on a thread of its
/// own (`LogFlusher`). A reserved job starts the moment a slot frees, with no transaction
/// first: noted in its journal (`StartJournal`), spawned, and recorded by a later step together
/// with the other starts and ends since — once 8 starts wait, or a slot is left free, or 5 ms after
/// the first (see `run`, and `SQLiteStore.supervisorStep`). One process for all slots keeps
/// claim order (the next reservation goes to whichever slot frees first).
///
/// It is also a child subreaper: a job's orphaned descendants are re-parented to it, so it can
/// stop them with the job (they carry the job's JOBQ_JOB_ID) and reap them (no zombies).
///
/// The steps (record, start, reserve, flush) are in Supervisor+Steps.swift; starting, ending
/// and stopping jobs in Supervisor+Jobs.swift.
public final class Supervisor {
    public struct Configuration: Sendable {
        public var home: Home
        /// The slots it owns; their locks are its descriptors 3, 4, …, in this order.
        public var slots: [Int]
        /// The daemon's --workers: never more jobs running than this, in all.
        public var workers: Int
        /// Between SIGTERM and SIGKILL when a job is cancelled or times out.
        public var killGraceMilliseconds: Int64

        public init(home: Home, slots: [Int], workers: Int, killGraceMilliseconds: Int64) {
            self.home = home
            self.slots = slots
            self.workers = workers
            self.killGraceMilliseconds = killGraceMilliseconds
        }
    }

    /// Why jobq is stopping a job.
    enum StopCause { case cancel, timeout }

    /// A job that runs now.
    struct Running {
        var job: Job
        var pid: pid_t
        var process: ProcessIdentity?
        var started: Int64
        var deadline: Int64?
        var stopping: StopCause?
        var killAt: Int64?
        var scriptPath: String?
        /// When to write the PID to the database, if the job still runs then (see `start`).
        var recordPIDAt: Int64?
        /// Its exec, until reported (a job started detached: `Spawn.startDetached`).
        var exec: DetachedExec?
        /// Why its exec failed (then its process exits 127, and it ends as one that could not start).
        var execFailure: String?
    }

    /// One worker slot: its lock, its cancel FIFO, its log files, and the job it runs.
    final class Slot {
        let number: Int
        let lock: LockFile
        let cancelPoke: Poke
        let logs: SlotLogs
        var running: Running?
        /// The stack a job started detached runs on until its exec (one job at a time per slot).
        let spawnBlock = UnsafeMutableRawPointer.allocate(byteCount: Slot.spawnBlockSize, alignment: 64)
        static let spawnBlockSize = 64 * 1024

        init(number: Int, lock: LockFile, cancelPoke: Poke, logs: SlotLogs) {
            self.number = number
            self.lock = lock
            self.cancelPoke = cancelPoke
            self.logs = logs
        }

        deinit { spawnBlock.deallocate() }
    }

    /// A job that ends sooner than this has its PID written with its outcome, saving a
    /// transaction per short job; a longer one gets it written after this long.
    static let pidRecordDelay: Int64 = 20
    /// Starts recorded together at most this long after the first (see `run`).
    static let recordBatch = 8
    static let recordDelay: Int64 = 5
    /// Jobs reserved ahead, per slot: enough to bridge a flush between short jobs, and a step
    /// that records several starts at once.
    static let reservationsPerSlot = 8
    /// Reservations pay only while jobs are short: when every slot's job has run this long they
    /// go back to the queue, so that they do not hold back for long a job added meanwhile with a
    /// higher priority.
    static let reservationHoldMilliseconds: Int64 = 20
    public static let jobIDVariable = "JOBQ_JOB_ID"

    let configuration: Configuration
    let store: SQLiteStore
    let slots: [Slot]
    /// Its reservations carry its first slot.
    let reserver: Int
    let signals: SignalChannel
    let flusher: LogFlusher
    let logger = Logger(label: "jobq-worker")
    /// Commands from the daemon ('w' work may be ready, 'd' drain); EOF when it is gone.
    var daemonPipe: Int32
    var pendingEnds: [AttemptEnd] = []
    /// Reserved jobs started since the last step, noted in the journal only.
    var pendingStarts: [SQLiteStore.ReservedStart] = []
    /// Reservations `jobq cancel` took back (through the journal) since the last step.
    var cancelledReservations: [JobID] = []
    /// Reserved starts noted so far (the next one's entry in the journal's ring).
    var reservedStartsNoted = 0
    /// Flushed reservations, in claim order: each may start now.
    var reservations: [Job] = []
    /// Reservations the flush in flight covers.
    var flushingReservations: [Job] = []
    /// Reservations committed since that flush began: the next one covers them.
    var unflushedReservations: [Job] = []
    /// Whether the queue may hold jobs it could reserve (it did not find it empty since the
    /// last wake-up or the last job that others ran after).
    var queueMayHaveMore = true
    /// Jobs running in slots beyond --workers at the last step (an earlier daemon's): while
    /// there are any, starts are guarded (`startsMustBeGuarded`). Unknown until the first step.
    var runningBeyondCap = 1
    /// Its reserved starts and the cancels of its reservations (see `StartJournal`).
    let journal: StartJournal
    /// Whether the journal could be written so far (else starts are guarded).
    var journalWritable: Bool
    /// It gave back its first slot (draining): it reserves and cancels nothing any more, and
    /// leaves that slot's cancel pokes to its next owner.
    var gaveBackFirstSlot = false
    /// Since when starts or ends wait to be recorded.
    var unrecordedSince: Int64?
    /// Outcomes committed since the last flush began, which nobody was asked to flush yet.
    var outcomesNeedFlush = false
    /// Reservations to give back to the queue (after a failed flush, or a failed release).
    var releaseDue = false
    var wakePending = true
    var draining = false
    /// Draining because the daemon went away or told it to: no job will be claimed for its
    /// slots any more, so an idle slot can be given back (`giveBackIdleSlots`).
    var noMoreClaims = false
    /// Whether, since draining began, it looked once for jobs the daemon had already claimed
    /// for its free slots (which it must run rather than abandon).
    var checkedForAssignedJobs = false
    /// After a failed write (disk full, …): when to try again, and the next pause.
    var retryAt: Int64?
    var retryPause: Int64 = 250
    var idleTrim = IdleTrim()
    /// The last job's environment without its JOBQ_JOB_ID: the next job usually has the same.
    var lastEnvironment: [String]?
    var lastFilteredEnvironment: [String] = []
    let programs = ProgramPaths()
    /// The daemon's wake-up FIFO, kept open: the supervisor asks it to flush outcomes (see `step`).
    let flushRequests: PokeSender

    /// Takes over the slot locks (inherited from the daemon as descriptors 3, 4, …) and the
    /// daemon's pipe.
    public init(configuration: Configuration, firstLockFD: Int32, daemonPipe: Int32) throws {
        precondition(!configuration.slots.isEmpty)
        self.configuration = configuration
        signals = try SignalChannel([SIGCHLD, SIGTERM, SIGINT, SIGHUP])
        let home = configuration.home
        let bootNote = Reconciler.bootNote
        slots = try configuration.slots.enumerated().map { index, number in
            let lock = LockFile(adopting: firstLockFD + Int32(index), path: home.slotLockPath(number))
            lock.recordHolder(getpid(), note: bootNote)
            return Slot(
                number: number, lock: lock, cancelPoke: try Poke(listeningAt: home.slotPokePath(number)),
                logs: SlotLogs(home: home, slot: number))
        }
        reserver = configuration.slots[0]
        // Read by the reconciler before this supervisor got the slot: emptied now.
        journal = StartJournal(path: home.slotStartsPath(configuration.slots[0]))
        journalWritable = journal.reset()
        self.daemonPipe = daemonPipe
        _ = jq_set_cloexec(daemonPipe)
        _ = jq_set_nonblocking(daemonPipe)
        flushRequests = PokeSender(path: home.wakePath)
        // Never creates it: the daemon did, and a supervisor starting after its home was
        // deleted must fail rather than leave an empty database behind.
        store = try SQLiteStore(path: home.databasePath, create: false, cacheKilobytes: 256)
        // After the signal mask is set (SignalChannel): the thread inherits it.
        flusher = try LogFlusher(logPath: store.database.logPath)
    }

    /// Runs jobs until told to stop (or the daemon goes away) and every job it ran is recorded.
    public func run() -> Int32 {
        if !journalWritable { logger.error("cannot write \(journal.path): starting jobs with a transaction each") }
        _ = jq_set_child_subreaper()
        IdleTrim.keepFreedMemoryUntilIdle()
        while true {
            startReservations()
            if retryAt == nil && stepIsUrgent {
                step()
                continue
            }
            let unrecorded = !(pendingEnds.isEmpty && pendingStarts.isEmpty)
            if draining && noMoreClaims && checkedForAssignedJobs && !unrecorded { giveBackIdleSlots() }
            if draining && retryAt == nil && !unrecorded && slots.allSatisfy({ $0.running == nil }) && !flusher.isBusy {
                do { try store.flush() } catch { logger.error("cannot flush to disk: \(error)") }
                return 0
            }
            // Starts and ends are recorded in batches while reservations keep the slots busy:
            // once a batch is full, or the oldest waited `recordDelay`. A slot left free is
            // recorded at once: until its job's end is, the daemon cannot give it the next job
            // added.
            let now = WallClock.monotonic()
            if unrecorded && unrecordedSince == nil { unrecordedSince = now }
            let recordNow = pendingStarts.count >= Self.recordBatch
                || (!pendingEnds.isEmpty && anySlotFree)
            let recordBy = unrecorded && retryAt == nil ? (recordNow ? now : unrecordedSince! + Self.recordDelay) : nil
            if !waitForEvents(until: recordBy), let recordBy, WallClock.monotonic() >= recordBy { step() }
        }
    }

    var freeSlots: [Slot] { slots.filter { $0.running == nil } }
    var anySlotFree: Bool { slots.contains { $0.running == nil } }

    /// Reservations not started yet, flushed or not.
    var heldReservations: Int { reservations.count + flushingReservations.count + unflushedReservations.count }

    /// A step that cannot wait until nothing else is to be done.
    private var stepIsUrgent: Bool {
        if pendingStarts.count >= StartJournal.startCapacity { return true }
        if draining { return anySlotFree && !checkedForAssignedJobs }
        if wakePending { return true }
        // Guarded, reservations start only in steps: one whose flush completed starts now.
        if startsMustBeGuarded && !releaseDue && !reservations.isEmpty && anySlotFree { return true }
        // Reservations run low while the queue may hold more: reserve now (a flush takes time).
        return queueMayHaveMore && !releaseDue && !everySlotRunsLong
            && heldReservations <= Self.reservationsPerSlot * slots.count / 2
    }

    /// Draining with no more claims to expect, each slot whose job is recorded is given back at
    /// once (its lock dropped), and the home's daemon told: a daemon started meanwhile uses it
    /// while the other slots' jobs still run.
    private func giveBackIdleSlots() {
        var gaveBack = false
        for slot in slots where slot.running == nil && slot.lock.isLocked {
            // Its first slot names its reservations and journal: kept until they are given back.
            if slot === slots[0] {
                guard !releaseDue && heldReservations == 0 else { continue }
                gaveBackFirstSlot = true
            }
            slot.lock.unlock()
            gaveBack = true
        }
        if gaveBack { _ = flushRequests.send(Daemon.slotReleased) }
    }

    // MARK: Events

    /// Waits for and handles what is ready, waiting no longer than `until`; returns whether
    /// anything was.
    @discardableResult
    private func waitForEvents(until: Int64? = nil) -> Bool {
        // (A flush thread that ended leaves its descriptor readable for good: not waited on.)
        // (A slot given back leaves its cancel pokes to its next owner.)
        var fds = [signals.fd, flusher.isGone ? -1 : flusher.fd] + slots.map { $0.lock.isLocked ? $0.cancelPoke.fd : -1 }
        let daemonIndex = fds.count
        if daemonPipe >= 0 { fds.append(daemonPipe) }
        var execReports: [(index: Int, slot: Slot)] = []
        for slot in slots {
            guard let exec = slot.running?.exec else { continue }
            execReports.append((fds.count, slot))
            fds.append(exec.fd)
        }
        let now = WallClock.monotonic()
        var timers = [retryAt, releaseAt, until]
        for slot in slots {
            guard let running = slot.running else { continue }
            timers += [running.stopping == nil ? running.deadline : nil, running.killAt, running.recordPIDAt]
        }
        let timeout = timers.compactMap { $0 }.min().map { $0 - now }
        let ready = EventWait.wait(for: fds, timeout: [timeout, idleTrim.timeout].compactMap { $0 }.min())
        if ready.isEmpty, let until, WallClock.monotonic() >= until { return false }
        if ready.isEmpty { idleTrim.runIfDue() } else { idleTrim.noteActivity() }

        for report in execReports where ready.contains(report.index) { execReported(report.slot) }
        if ready.contains(0) {
            for signal in signals.drain() {
                if signal == SIGCHLD {
                    reapChildren()
                } else {
                    logger.info(
                        "supervisor of slots \(slotList) got signal \(signal): finishing its jobs, then exiting")
                    beginDrain()
                }
            }
        }
        if ready.contains(1) { flushDone() }
        var cancelPoked = false
        for (index, slot) in slots.enumerated() where ready.contains(2 + index) {
            slot.cancelPoke.drain()
            cancelPoked = true
        }
        // A poke of any slot: a cancel of a reserved job pokes the first slot, whichever slot
        // the job runs in.
        if cancelPoked {
            for slot in slots { checkCancellation(slot) }
            if !gaveBackFirstSlot { _ = journal.withLock { dropCancelledReservations() } }
        }
        if daemonPipe >= 0 && ready.contains(daemonIndex) { readDaemonPipe() }
        checkTimers()
        return !ready.isEmpty
    }

    var slotList: String { slots.map { String($0.number) }.joined(separator: ",") }

    func beginDrain() {
        guard !draining else { return }
        draining = true
        releaseReservations()
    }

    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if let slot = slots.first(where: { $0.running?.pid == pid }) { ended(slot, status: status) }
        }
    }

    /// Reads everything there is: a wake-up that arrives together with the daemon's exit (EOF)
    /// must not start a new job.
    private func readDaemonPipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        var wake = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(daemonPipe, $0.baseAddress, $0.count) }
            if n > 0 {
                if buffer[0..<n].contains(UInt8(ascii: "w")) { wake = true }
                if buffer[0..<n].contains(UInt8(ascii: "d")) {
                    noMoreClaims = true
                    beginDrain()
                }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { break }
            // The daemon is gone: finish these jobs, record them, and exit — and flush whatever
            // outcome was left to it.
            close(daemonPipe)
            daemonPipe = -1
            noMoreClaims = true
            beginDrain()
            do { try store.flush() } catch { logger.error("cannot flush to disk: \(error)") }
            break
        }
        if wake && !draining {
            wakePending = true
            queueMayHaveMore = true
        }
    }

    private func checkTimers() {
        let now = WallClock.monotonic()
        if let retry = retryAt, now >= retry {
            retryAt = nil
            if releaseDue { releaseReservations() }
            flushWhatNeedsIt()
        }
        if let release = releaseAt, now >= release { releaseReservations() }
        for slot in slots { checkTimers(of: slot, now: now) }
    }
}
