import Glibc
import TestSupport
import Testing

@testable import JobStore

/// One supervisor runs all of a daemon's slots: its jobs stay apart (each stops alone, with
/// everything it started), and the jobs it reserved ahead survive its crash.
@Suite struct SupervisorTests {
    func pids(_ path: String) -> [Int32] {
        (readFile(path) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// Two jobs side by side, each with a grandchild that left its session and whose parent
    /// exited (re-parented to the supervisor): cancelling one ends its processes only.
    @Test func cancellingOneJobLeavesTheOtherJobsProcessesAlone() throws {
        let test = DaemonTestCase("cancel-one")
        try #require(test.daemon.start(["--workers", "2"]))
        let files = [test.folder.file("pids0"), test.folder.file("pids1")]
        let ids = try files.map { file in
            try test.addShell("setsid sh -c 'sleep 60 & echo $! >> \(file)'; echo $$ >> \(file); sleep 60")
        }
        #expect(test.daemon.workerPIDs().count == 1, "one supervisor for both slots")
        for (id, file) in zip(ids, files) {
            try test.waitFor(id, .running)
            #expect(waitUntil { pids(file).count == 2 }, "job \(id) did not start fully")
        }
        #expect(test.jobq(["cancel", "\(ids[0])"]).status == 0)
        #expect(try test.waitFor(ids[0]).reason == .cancelled)
        for pid in pids(files[0]) { #expect(waitUntil { isGone(pid) }, "process \(pid) of the cancelled job survived") }
        for pid in pids(files[1]) { #expect(!isGone(pid), "process \(pid) of the other job was stopped too") }
        #expect(try test.job(ids[1]).state == .running)
        #expect(test.jobq(["cancel", "\(ids[1])"]).status == 0)
        for pid in pids(files[1]) { #expect(waitUntil { isGone(pid) }, "process \(pid) survived") }
    }

    /// An orphan that cleared its environment carries no JOBQ_JOB_ID: it is stopped with the
    /// job that alone was running when it started.
    @Test func anOrphanWithoutEnvironmentIsStoppedWithItsJob() throws {
        let test = DaemonTestCase("cancel-env-less")
        try #require(test.daemon.start(["--workers", "2"]))
        let file = test.folder.file("pids")
        let id = try test.addShell(
            "setsid env -i /bin/sh -c 'sleep 60 & echo $! >> \(file)'; echo $$ >> \(file); sleep 60")
        try test.waitFor(id, .running)
        #expect(waitUntil { pids(file).count == 2 }, "job \(id) did not start fully")
        #expect(test.jobq(["cancel", "\(id)"]).status == 0)
        #expect(try test.waitFor(id).reason == .cancelled)
        for pid in pids(file) { #expect(waitUntil { isGone(pid) }, "process \(pid) survived") }
    }

    /// A job knows its id (JOBQ_JOB_ID), also when it was added from inside another job, whose
    /// environment it captured.
    @Test func aJobSeesItsOwnID() throws {
        let test = DaemonTestCase("job-id")
        try #require(test.daemon.start(["--workers", "1"]))
        let out = test.folder.file("out")
        let id = try test.add([
            "--env", "JOBQ_JOB_ID=999", "--", "/bin/sh", "-c", "env | grep '^JOBQ_JOB_ID=' > \(out)",
        ])
        #expect(try test.waitFor(id).state == .done)
        #expect(test.lines("out") == ["JOBQ_JOB_ID=\(id)"])
    }

    /// The supervisor killed while it holds reservations (a queue of short jobs draining): the
    /// jobs it reserved and did not start go back to the queue and run. Lost are only the jobs
    /// that were running and those it had started without recording it yet (its slot file
    /// names them) — and nothing runs twice.
    /// A daemon with two slots held by gate jobs and `count` short jobs queued behind them, each
    /// appending `tN` to the file "out"; released, the queue drains. Returns the gate jobs.
    func drainShortJobs(_ test: DaemonTestCase, count: Int) throws -> [JobID] {
        try #require(test.daemon.start(["--workers", "2"]))
        let out = test.folder.file("out")
        let gates = [test.folder.file("g0"), test.folder.file("g1")]
        for gate in gates { #expect(mkfifo(gate, 0o600) == 0) }
        let gateJobs = try gates.map { try test.addShell("read x < \($0)") }
        #expect(waitUntil { (try? test.running().count) == 2 })
        let lines = (0..<count).map { "echo t\($0) >> \(out)" }.joined(separator: "\n") + "\n"
        #expect(test.jobq(["add", "--stdin"], stdin: lines).status == 0)
        for gate in gates {
            let fd = open(gate, O_WRONLY)
            close(fd)
        }
        return gateJobs
    }

    /// A cancel of a job the supervisor reserved, while it drains short jobs: the supervisor
    /// answers at once — cancelled before it started (then it never runs), or, when it had just
    /// started it, stopped or already ended. Nothing runs twice. (Which of these happens depends
    /// on timing; each is checked for what it must mean.)
    @Test func cancellingAReservedJobIsAnsweredByItsSupervisor() throws {
        let test = DaemonTestCase("cancel-reserved")
        let count = 300
        let gates = try drainShortJobs(test, count: count)
        #expect(gates.map(\.rawValue) == [1, 2])  // The jobs writing t0, t1, … are 3, 4, ….
        let store = try test.store()
        var reserved: [JobID] = []
        try #require(try waitUntil(seconds: 30) {
            reserved = try store.reservations(of: 0)
            return !reserved.isEmpty
        })
        let target = try #require(reserved.last)
        let cancel = test.jobq(["cancel", "\(target)"])
        try #require(
            try waitUntil(seconds: 60) {
                let counts = try store.counts()
                return counts[.queued] == 0 && counts[.running] == 0
            }, "log:\n\(test.daemon.log.suffix(3000))")
        let job = try #require(try store.job(target))
        let ran = test.lines("out").filter { $0 == "t\(target.rawValue - 3)" }.count
        if cancel.status != 0 {
            // It had ended by then (a slow machine): nothing to cancel.
            #expect(cancel.stderr.contains("only queued or running jobs can be cancelled") && job.state == .done)
        } else if cancel.stdout.contains("cancelled (it had not started)") {
            #expect(job.state == .failed && job.reason == .cancelled && job.startedAt == nil && ran == 0)
        } else {
            // (Or it had started, and its start was recorded, by the time the cancel came.)
            #expect(
                cancel.stdout.contains("had just started") || cancel.stdout.contains("is being stopped"),
                "\(cancel.stdout)")
            #expect(job.startedAt != nil && ran <= 1)
        }
        #expect(Dictionary(test.lines("out").map { ($0, 1) }, uniquingKeysWith: +).values.allSatisfy { $0 == 1 })
    }

    /// While every slot runs a long job, reservations are given back and not made again until
    /// a slot frees: the supervisor of a queue held back by long jobs stays idle (it once
    /// reserved and gave back in a loop).
    @Test func aQueueHeldBackByLongJobsLeavesTheSupervisorIdle() throws {
        let test = DaemonTestCase("held-back")
        try #require(test.daemon.start(["--workers", "2"]))
        let gates = [test.folder.file("g0"), test.folder.file("g1")]
        for gate in gates { #expect(mkfifo(gate, 0o600) == 0) }
        // One add: the gates start, and the supervisor is woken to reserve the rest.
        let lines = gates.map { "read x < \($0)\n" }.joined() + String(repeating: "true\n", count: 100)
        #expect(test.jobq(["add", "--stdin"], stdin: lines).status == 0)
        #expect(waitUntil { (try? test.running().count) == 2 })
        let store = try test.store()
        let supervisors = test.daemon.workerPIDs()
        try #require(supervisors.count == 1)
        func cpuTicks() -> Int {
            let stat = readFile("/proc/\(supervisors[0])/stat") ?? ""
            let fields = stat[stat.lastIndex(of: ")")!...].split(separator: " ")
            return Int(fields[12])! + Int(fields[13])!  // utime, stime (fields 14 and 15)
        }
        // Reservations made at the wake-up go back 20 ms after the gates started …
        #expect(try waitUntil(seconds: 10) { try store.reservations(of: 0).isEmpty })
        // … and are not made again: the supervisor stays idle, whatever the deadline allows.
        let before = cpuTicks()
        let busy = try waitUntil(seconds: 0.5) { try !store.reservations(of: 0).isEmpty || cpuTicks() - before > 5 }
        #expect(!busy, "the supervisor reserved again, or was busy, while its slots ran long jobs")
        for gate in gates {
            let fd = open(gate, O_WRONLY)
            close(fd)
        }
        #expect(try waitUntil(seconds: 30) { try store.counts()[.done] == 100 })  // (The gates fail: EOF.)
    }

    /// Two `true` jobs in `test`'s home, reserved by the supervisor of slot 1 (which does not run).
    func twoJobsReservedBySlotOne(_ test: DaemonTestCase) throws -> (Home, SQLiteStore, [JobID]) {
        let home = Home(path: test.home)
        let store = try SQLiteStore(home: home)
        let ids = try store.insert(
            (0..<2).map { _ in JobSpec(payload: .command(["true"]), cwd: "/", environment: []) }, now: WallClock.now())
        var step = SQLiteStore.SupervisorStep(reserver: 1, maxRunning: 2, logDirectory: home.logsDirectory)
        step.mayReserve = true
        step.reserveUpTo = 2
        #expect(try store.supervisorStep(step, now: WallClock.now()).reserved.map(\.id) == ids)
        return (home, store, ids)
    }

    /// A supervisor that cannot write its journal starts each job in a guarded write before the
    /// spawn: a queue drains all the same, also when each reservation's flush completes after
    /// the step that made it (nothing else happens then to start it).
    @Test func withoutAJournalJobsStartInGuardedWrites() throws {
        let test = DaemonTestCase("no-journal")
        let home = Home(path: test.home)
        _ = try SQLiteStore(home: home)
        #expect(mkdir(home.slotStartsPath(0), 0o700) == 0)  // (It cannot be opened as a file.)
        try #require(test.daemon.start(["--workers", "2"]))
        let out = test.folder.file("out")
        let lines = (0..<60).map { "echo t\($0) >> \(out)" }.joined(separator: "\n") + "\n"
        #expect(test.jobq(["add", "--stdin"], stdin: lines).status == 0)
        let store = try test.store()
        try #require(
            try waitUntil(seconds: 30) { try store.counts()[.done] == 60 }, "log:\n\(test.daemon.log.suffix(3000))")
        #expect(Set(test.lines("out")).count == 60 && test.lines("out").count == 60)
        #expect(test.daemon.log.contains("starting jobs with a transaction each"))
    }

    /// A cancel of a job reserved by a supervisor that is gone settles that supervisor's
    /// reservations itself: the job is cancelled, the others go back to the queue.
    @Test func cancellingAJobReservedByAGoneSupervisor() throws {
        let test = DaemonTestCase("cancel-reserved-gone")
        let (home, store, ids) = try twoJobsReservedBySlotOne(test)
        try LockFile(path: home.slotLockPath(1)).recordHolder(4242, note: Reconciler.bootNote)
        let cancel = test.jobq(["cancel", "\(ids[0])"])
        #expect(cancel.status == 0 && cancel.stdout.contains("cancelled (it had not started)"), "\(cancel.stdout)")
        #expect(try store.job(ids[0])?.reason == .cancelled)
        let other = try #require(try store.job(ids[1]))
        #expect(other.state == .queued && other.worker == nil)
    }

    /// With its supervisor alive (here: the test holds the slot's lock), `cancel` asks the
    /// journal: a reservation no start names is cancelled there and then (and listed for the
    /// supervisor to drop); one it names has started: it is left to the supervisor to stop.
    @Test func theJournalDecidesWhetherACancelledReservationStarted() throws {
        let test = DaemonTestCase("cancel-journal")
        let (home, store, ids) = try twoJobsReservedBySlotOne(test)
        let lock = try LockFile(path: home.slotLockPath(1))
        #expect(lock.tryLock())
        let journal = StartJournal(path: home.slotStartsPath(1))
        #expect(journal.reset() && journal.noteStart(entry: 0, ids[1], attempt: 1, process: nil))

        let notStarted = test.jobq(["cancel", "\(ids[0])"])
        #expect(notStarted.status == 0 && notStarted.stdout.contains("cancelled (it had not started)"))
        #expect(try store.job(ids[0])?.reason == .cancelled && journal.takeCancels().map(\.id) == [ids[0]])

        let started = test.jobq(["cancel", "\(ids[1])"])
        #expect(started.status == 0 && started.stdout.contains("will be cancelled or stopped by its supervisor"))
        let job = try #require(try store.job(ids[1]))
        #expect(job.state == .queued && job.cancelRequestedAt != nil && journal.takeCancels().isEmpty)
    }

    @Test func killingTheSupervisorPutsItsReservationsBackInTheQueue() throws {
        let test = DaemonTestCase("reservations")
        let count = 300
        let gateJobs = try drainShortJobs(test, count: count)
        let store = try test.store()
        // Once jobs are reserved, with a good part of the queue left.
        try #require(try waitUntil(seconds: 30) { try !store.reservations(of: 0).isEmpty })
        let supervisors = test.daemon.workerPIDs()
        try #require(supervisors.count == 1)
        kill(supervisors[0], SIGKILL)
        try #require(
            try waitUntil(seconds: 60) {
                let counts = try store.counts()
                return counts[.queued] == 0 && counts[.running] == 0
            }, "log:\n\(test.daemon.log.suffix(3000))")
        let jobs = try store.jobs(state: nil, limit: nil).filter { !gateJobs.contains($0.id) }
        let runs = Dictionary(test.lines("out").map { ($0, 1) }, uniquingKeysWith: +)
        let lost = jobs.filter { $0.reason == .lost }
        #expect(
            lost.count <= 2 + StartJournal.startCapacity,
            "only the running jobs and the unrecorded starts may be lost: \(lost.map(\.id))")
        #expect(runs.values.allSatisfy { $0 == 1 }, "a job ran twice")
        #expect(jobs.count == count)
        #expect(jobs.filter { $0.state == .done }.count + lost.count == count)
        #expect(runs.count >= count - lost.count)
    }
}

/// What a daemon finds at start: jobs reserved by a supervisor that is gone, also one of a slot
/// this daemon does not run (`--workers` lowered).
@Suite struct ReservationRestartTests {
    /// Reserved by slot 1's supervisor; the daemon runs one slot. In the same boot the jobs never
    /// started: they run now. In a slot file of another boot (a crash of the machine) they may
    /// have: settled as lost, and never run again.
    @Test(arguments: [false, true])
    func reservationsOfAGoneSupervisorAreSettledFirst(machineWentDown: Bool) throws {
        let test = DaemonTestCase(machineWentDown ? "reserved-other-boot" : "reserved-same-boot")
        let home = Home(path: test.home)
        let store = try SQLiteStore(home: home)
        let out = test.folder.file("out")
        let ids = try store.insert(
            (0..<2).map {
                JobSpec(payload: .command(["/bin/sh", "-c", "echo \($0) >> \(out)"]), cwd: "/", environment: [])
            }, now: WallClock.now())
        var step = SQLiteStore.SupervisorStep(reserver: 1, maxRunning: 2, logDirectory: home.logsDirectory)
        step.mayReserve = true
        step.reserveUpTo = 2
        #expect(try store.supervisorStep(step, now: WallClock.now()).reserved.map(\.id) == ids)
        try store.flush()
        let lock = try LockFile(path: home.slotLockPath(1))
        lock.recordHolder(4242, note: machineWentDown ? "boot 00000000-0000-0000-0000-000000000000" : Reconciler.bootNote)

        try #require(test.daemon.start(["--workers", "1"]))
        for id in ids {
            let job = try test.waitFor(id)
            #expect(job.state == (machineWentDown ? .failed : .done))
            #expect(job.reason == (machineWentDown ? .lost : nil))
        }
        #expect(test.lines("out").count == (machineWentDown ? 0 : 2))
        #expect(try store.reservations(of: 1).isEmpty)
    }
}
