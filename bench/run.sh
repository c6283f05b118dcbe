#!/usr/bin/env bash
# bench/run.sh — jobq against task-spooler (tsp), nq and raw baselines, on this machine.
#
# Usage: bench/run.sh [--rounds N] [--quick] [--jobq PATH] [--out DIR] [--keep]
#
# Every workload is measured once per round for every tool, the tools in a new random order
# each round, and each tool's ratio is taken against the baseline measured in the SAME round
# (a noisy VM drifts between rounds; within a round the tools see the same machine). The
# report gives, per number, the median over the rounds and the min–max. See bench/README.md.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
COMMAND_LINE="$0${*:+ $*}"

usage() {
    cat <<'EOF'
Usage: bench/run.sh [--rounds N] [--quick] [--jobq PATH] [--out DIR] [--keep]

  --rounds N   rounds of every workload (default 5)
  --quick      1 round with small counts: a smoke check (about a minute; more when jobq is built from scratch)
  --jobq PATH  the jobq binary to measure (default: build it with
               release/build.sh --scratch-path .build-bench)
  --out DIR    where results.md, results.json and chart.png go (default bench/results);
               scratch queues live in DIR/tmp/ and are removed at the end
  --keep       keep the scratch folder (queues, logs, raw numbers) for a post-mortem
EOF
}

ROUNDS=5
QUICK=0
JOBQ=""
OUT="$BENCH/results"
KEEP=0
ROUNDS_SET=0
while (($#)); do
    case "$1" in
    --rounds)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 64; }
        ROUNDS=$2; ROUNDS_SET=1; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --jobq)
        [[ $# -ge 2 ]] || { usage >&2; exit 64; }
        JOBQ=$2; shift 2 ;;
    --out)
        [[ $# -ge 2 ]] || { usage >&2; exit 64; }
        OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 64 ;;
    esac
done
if ((QUICK && !ROUNDS_SET)); then ROUNDS=1; fi

# ---------------------------------------------------------------------------------------------
# Counts. The full run reproduces DESIGN.md's table; --quick only checks that everything works.
if ((QUICK)); then
    N_W1=200          # W1: single enqueues while no slot is free
    N_E2E=300         # W2: `true` jobs, one enqueue process each
    N_SLEEP=100       # W2: `sleep 0.01` jobs
    N_DRAIN=200       # W2: queued behind the gates, then released
    N_LAT=10          # W3: latency samples per tool per round
    N_HIST=1000       # W4/W5: finished jobs in the history
    N_BIG=100000      # W5: the large history (1,000,000 in a full run)
    N_BULK=20000      # bulk: one `add --stdin`
    HF_WARMUP=1 HF_RUNS=5
else
    N_W1=1000
    N_E2E=2000
    N_SLEEP=1000      # trimmed from 2,000 (nq runs them one by one): a run takes about 11 minutes on 2 cores
    N_DRAIN=900
    N_LAT=50
    N_HIST=10000
    N_BIG=1000000
    N_BULK=100000
    HF_WARMUP=3 HF_RUNS=20
fi
BIG_BATCH=100000      # the large history is added in batches of this many (one transaction each)
TSP_MAX_QUEUED=990    # tsp refuses more than ~993 waiting jobs (a connection limit built into it)
SLOTS=2

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Prerequisites: install nothing; say exactly what is missing.
check_prerequisites() {
    local apt=() pip=()
    command -v tsp >/dev/null || apt+=(task-spooler)
    command -v nq >/dev/null || apt+=(nq)
    command -v hyperfine >/dev/null || apt+=(hyperfine)
    command -v gcc >/dev/null || apt+=(gcc)
    command -v python3 >/dev/null || apt+=(python3)
    [[ -e /usr/include/sqlite3.h ]] || apt+=(libsqlite3-dev)
    if [[ -z $JOBQ ]] && ! command -v swift >/dev/null; then
        log "swift is not on PATH: install Swift 6.1+ or pass --jobq PATH"
        exit 2
    fi
    if command -v python3 >/dev/null && ! python3 -c 'import matplotlib' 2>/dev/null; then pip+=(matplotlib); fi
    if ((${#apt[@]})); then
        log "missing tools; install them with:"
        echo "apt-get install ${apt[*]}" >&2
        ((${#pip[@]})) && echo "pip install ${pip[*]}" >&2
        exit 2
    fi
    CHART=1
    if ((${#pip[@]})); then
        log "warning: python3 has no matplotlib, so there will be no chart (pip install matplotlib)"
        CHART=0
    fi
}

# ---------------------------------------------------------------------------------------------
# Scratch space and clean-up.
#
# Every process this run starts inherits JOBQ_BENCH_RUN=<scratch dir> (daemons, tsp's server
# and waiting clients, nq's waiting processes, gate jobs). At exit, whatever still carries it
# is ended by PID: nothing else on the machine is touched.
setup_scratch() {
    mkdir -p "$OUT/tmp"
    OUT=$(cd "$OUT" && pwd)
    SCRATCH=$(mktemp -d "$OUT/tmp/run.XXXXXX")
    [[ $SCRATCH != *[[:space:]]* ]] || die "the scratch path must not contain spaces: $SCRATCH"
    # tsp's socket lives in the scratch folder: a Unix socket path has at most 107 bytes.
    ((${#SCRATCH} < 60)) || die "--out path too long for Unix sockets inside it: $SCRATCH"
    export JOBQ_BENCH_RUN="$SCRATCH"
    BIN="$SCRATCH/bin"
    RAW="$SCRATCH/raw.tsv"
    META="$SCRATCH/meta.tsv"
    mkdir -p "$BIN"
    : >"$RAW"
    : >"$META"
}

PROCS="$BENCH/lib/procs.py"

kill_tagged() {
    local pids
    pids=$(python3 "$PROCS" tagged "JOBQ_BENCH_RUN=$SCRATCH" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    sleep 0.3
    pids=$(python3 "$PROCS" tagged "JOBQ_BENCH_RUN=$SCRATCH" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n ${SCRATCH:-} && -d $SCRATCH ]]; then
        kill_tagged
        if ((KEEP)); then
            log "scratch kept in $SCRATCH"
        else
            rm -rf "$SCRATCH"
            rmdir "$OUT/tmp" 2>/dev/null || true
        fi
    fi
    exit "$status"
}

# ---------------------------------------------------------------------------------------------
# Small tools.

# Microseconds since the epoch, as an integer (no fork: bash's own clock).
now_us() { REPLY=${EPOCHREALTIME/./}; }

# record ROUND WORKLOAD TOOL METRIC VALUE — one raw number, for report.py.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; }
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# The arguments in a random order, one a line.
shuffled() { printf '%s\n' "$@" | shuf; }

# shuffle_order ROUND WORKLOAD TOOL... — sets ORDER to the tools in a random order and records
# it: the report lists the order of every workload (bench/README.md).
shuffle_order() {
    local r=$1 w=$2
    shift 2
    mapfile -t ORDER < <(shuffled "$@")
    record "$r" "$w" _order "${ORDER[*]}" ""
}

# wait_until SECONDS DESCRIPTION COMMAND... — poll COMMAND every 10 ms (harness only).
wait_until() {
    local limit=$1 what=$2
    shift 2
    now_us
    local deadline=$((REPLY + limit * 1000000))
    until "$@"; do
        now_us
        ((REPLY < deadline)) || die "timed out after ${limit}s waiting for: $what"
        sleep 0.01
    done
}

# round_numbers ROUND WORKLOAD FORMAT — that round's numbers of WORKLOAD for the progress log,
# each printed with FORMAT (tool, value); the workload's `_order` row is not a number.
round_numbers() {
    awk -F'\t' -v r="$1" -v w="$2" -v f="$3" '$1 == r && $2 == w && $3 != "_order" { printf f, $3, $5 }' "$RAW"
}

# per_second N T0_US T1_US ; ms_each N T0_US T1_US
per_second() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", n * 1e6 / (b - a) }'; }
ms_each() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.4f", (b - a) / 1000 / n }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Gate FIFOs: a gate job blocks in `read x < FIFO` until release_gates opens every FIFO for
# writing and closes it again. One FIFO per gate: opening a FIFO for writing waits for its
# reader, so a release can never miss a gate that had not reached its open() yet.
make_gates() { mkfifo "$1/gate1" "$1/gate2"; }
GATE_SCRIPT='read x < "$1"; exit 0'
# gate_pids DIR — every process whose argv names one of DIR's gate FIFOs: the gate job (sh)
# and the tsp client or nq process it runs under, which memory figures must leave out.
gate_pids() {
    local gate
    for gate in "$1"/gate*; do
        python3 "$PROCS" find --arg "$gate"
    done
}
release_gates() { # DIR COUNT
    exec 7>"$1/gate1"
    if (($2 > 1)); then exec 8>"$1/gate2"; fi
    exec 7>&-
    if (($2 > 1)); then exec 8>&-; fi
}

# mem_of PID... -> records nothing, sets MEM_RSS MEM_PSS (KiB) and MEM_N (processes found).
mem_of() {
    local out
    out=$(python3 "$PROCS" mem "$@")
    read -r MEM_RSS MEM_PSS MEM_N <<<"$out"
}

# W4 reads memory "idle": this long after the last event. jobq's daemon and supervisor give
# memory back one second after things go quiet (freed heap, and the code pages the work
# mapped); tsp's server gets the same pause.
IDLE_SETTLE_S=1.5
settle_idle() { sleep "$IDLE_SETTLE_S"; }

# ---------------------------------------------------------------------------------------------
# jobq: a daemon with 2 worker slots (one supervisor process runs both) in its own home.

jobq_start() { # HOME
    JQ_HOME=$1
    mkdir -p "$(dirname "$JQ_HOME")"
    # Create the home's database first, alone (see bench/README.md, "Workarounds in the
    # harness": needed before commit 623bcfd, kept because it costs nothing).
    "$JOBQ" --home "$JQ_HOME" status >/dev/null
    "$JOBQ" --home "$JQ_HOME" daemon --workers "$SLOTS" 2>"$JQ_HOME.log" &
    JQ_PID=$!
    wait_until 15 "jobq daemon in $JQ_HOME" jobq_running_is true
    # The supervisor starts with the daemon: wait for it, so "idle" means idle.
    wait_until 15 "jobq's supervisor in $JQ_HOME" jobq_workers_are 1
}
jobq_running_is() { [[ $("$JOBQ" --home "$JQ_HOME" status --json 2>/dev/null) == *"\"running\": $1"* ]]; }
jobq_worker_pids() { python3 "$PROCS" children "$JQ_PID" worker; }
jobq_workers_are() { [[ $(jobq_worker_pids | wc -l) -eq $1 ]]; }
jobq_add() { "$JOBQ" --home "$JQ_HOME" add -- "$@" >/dev/null; }
jobq_wait_all() { "$JOBQ" --home "$JQ_HOME" wait >/dev/null; }
# The latest finished_at (ms since the epoch) in the database: when the last job really ended,
# whatever `jobq wait` took to notice (read-only, after the measurement).
jobq_last_finish_us() {
    python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT max(finished_at) FROM jobs").fetchone()[0] * 1000)' "$JQ_HOME/jobq.db"
}
jobq_gates() { # DIR — two gate jobs, both running
    make_gates "$1"
    jobq_add sh -c "$GATE_SCRIPT" gate "$1/gate1"
    jobq_add sh -c "$GATE_SCRIPT" gate "$1/gate2"
    wait_until 15 "jobq gates running" jobq_running_is 2
}
jobq_mem() { # daemon + its supervisor process (not the jobs: those are the supervisor's children)
    local workers
    workers=$(jobq_worker_pids)
    # At once (MEM_BUSY_*: what the last piece of work left mapped), then idle (MEM_*).
    # shellcheck disable=SC2086
    mem_of "$JQ_PID" $workers
    MEM_BUSY_RSS=$MEM_RSS MEM_BUSY_PSS=$MEM_PSS
    settle_idle
    # shellcheck disable=SC2086
    mem_of "$JQ_PID" $workers
    ((MEM_N == 2)) || log "warning: jobq: found $MEM_N of 2 daemon processes (daemon, supervisor)"
}
jobq_stop() {
    "$JOBQ" --home "$JQ_HOME" stop >/dev/null 2>&1 || true
    wait "$JQ_PID" 2>/dev/null || true
    # Workers outlive the daemon by design and end once idle; make sure they did.
    local pids
    for _ in $(seq 200); do
        pids=$(python3 "$PROCS" find --exe jobq --arg worker --arg "$JQ_HOME")
        [[ -n $pids ]] || return 0
        sleep 0.02
    done
    log "warning: jobq supervisor of $JQ_HOME still there after stop; killing $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# task-spooler: a server with 2 slots on its own socket; output files in its own TMPDIR;
# finished jobs kept (TS_MAXFINISHED) so that its history is comparable to jobq's.

tsp_start() { # DIR
    TSQ=$1
    mkdir -p "$TSQ"
    TSP_NEXT_ID=0
    tspq -S "$SLOTS" # the first client forks the server
    TSP_PID=$(python3 "$PROCS" find --env "TS_SOCKET=$TSQ/socket" --exe tsp --argv tsp -S "$SLOTS")
    [[ $TSP_PID =~ ^[0-9]+$ ]] || die "cannot find the tsp server of $TSQ (got: $TSP_PID)"
}
tspq() { TS_SOCKET="$TSQ/socket" TMPDIR="$TSQ" TS_MAXFINISHED=20000 TS_SLOTS="$SLOTS" tsp "$@"; }
tsp_state_is() { [[ $(tspq -s "$1") == "$2" ]]; }
tsp_gates() {
    make_gates "$1"
    tspq sh -c "$GATE_SCRIPT" gate "$1/gate1" >/dev/null
    tspq sh -c "$GATE_SCRIPT" gate "$1/gate2" >/dev/null
    TSP_NEXT_ID=$((TSP_NEXT_ID + 2))
    wait_until 15 "tsp gate 0 running" tsp_state_is 0 running
    wait_until 15 "tsp gate 1 running" tsp_state_is 1 running
}
# Waits for the last two jobs (ids are sequential from 0; with 2 slots they are the last to
# run); check_tsp_idle then verifies, outside the timing, that nothing else was left.
tsp_wait_all() {
    local last=$((TSP_NEXT_ID - 1))
    if ((last >= 1)); then tspq -w $((last - 1)) >/dev/null || true; fi
    tspq -w "$last" >/dev/null || true
}
check_tsp_idle() {
    local busy
    busy=$(tspq -l | awk 'NR > 1 && ($2 == "running" || $2 == "queued")' | wc -l)
    ((busy == 0)) || log "warning: tsp still had $busy jobs running/queued after its wait (timing too short)"
}
tsp_stop() {
    tspq -K >/dev/null 2>&1 || true
    for _ in $(seq 200); do
        [[ -d /proc/$TSP_PID ]] || return 0
        sleep 0.02
    done
    kill -KILL "$TSP_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# nq: no server and no slots; each job is a process that waits for all earlier ones, so the
# queue runs ONE job at a time. Its queue is a folder (NQDIR).

nq_start() { NQD=$1; mkdir -p "$NQD"; }
nqq() { NQDIR="$NQD" nq "$@"; }
nq_gate() { # one gate is enough: every later job waits behind it
    mkfifo "$1/gate1"
    nqq sh -c "$GATE_SCRIPT" gate "$1/gate1" >/dev/null
}
nq_waiting_pids() { # DIR — nq's own waiting processes, without the gate's
    # shellcheck disable=SC2046
    python3 "$PROCS" find --env "NQDIR=$NQD" --exe nq --not $(gate_pids "$1")
}

# ---------------------------------------------------------------------------------------------
# Build.

build_helpers() {
    log "compiling the C baselines into $BIN"
    local cc=(gcc -O2 -Wall)
    "${cc[@]}" -o "$BIN/sqlite_insert" "$BENCH/baselines/sqlite_insert.c" -lsqlite3
    "${cc[@]}" -o "$BIN/spawn_loop" "$BENCH/baselines/spawn_loop.c"
    "${cc[@]}" -o "$BIN/durable_queue" "$BENCH/baselines/durable_queue.c"
    "${cc[@]}" -o "$BIN/latency" "$BENCH/baselines/latency.c"
    # Static: the job's start should not include a dynamic loader (the same for every tool).
    "${cc[@]}" -static -o "$BIN/stamp" "$BENCH/baselines/stamp.c" 2>/dev/null ||
        "${cc[@]}" -o "$BIN/stamp" "$BENCH/baselines/stamp.c"
}

build_jobq() {
    if [[ -n $JOBQ ]]; then
        JOBQ=$(cd "$(dirname "$JOBQ")" && pwd)/$(basename "$JOBQ")
        [[ -x $JOBQ ]] || die "not an executable: $JOBQ"
        meta jobq_build "given with --jobq"
        return
    fi
    log "building jobq (release/build.sh --scratch-path .build-bench: static, hot code laid out together)"
    # Linker warnings about getpwnam/dlopen in a static binary are expected: show only the end.
    local build_log="$SCRATCH/swift-build.log" attempt
    for attempt in 1 2 3; do
        if JOBQ=$("$REPO/release/build.sh" --scratch-path .build-bench 2>"$build_log"); then
            break
        fi
        # Someone editing the sources while we build is no reason to give up: try again.
        if ((attempt < 3)) && grep -q 'was modified during the build' "$build_log"; then
            log "a source file changed during the build; building again"
            sleep 5
            continue
        fi
        tail -30 "$build_log" >&2
        die "release/build.sh failed"
    done
    tail -1 "$build_log" >&2
    meta jobq_build "release/build.sh (swift build -c release, -static-executable, function sections, lld with release/symbol-order.txt)"
}

describe_machine() {
    meta date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    meta command "$COMMAND_LINE"
    meta nproc "$(nproc)"
    meta cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    meta kernel "$(uname -r)"
    meta memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
    meta jobq_path "$JOBQ"
    meta jobq_commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    # Whether the measured source differs from that commit (only what goes into the binary counts).
    meta jobq_dirty "$(git -C "$REPO" status --porcelain -- Package.swift schema.sql Sources Plugins 2>/dev/null | grep -q . && echo 1 || echo 0)"
    meta jobq_version "$("$JOBQ" --version 2>&1 | head -1)"
    meta swift "$(if command -v swift >/dev/null; then swift --version 2>&1 | sed -n 1p; else echo unknown; fi)"
    meta tsp_version "$(tsp -V 2>&1 | sed -n 1p)"
    meta dpkg "$(dpkg-query -W nq task-spooler 2>/dev/null | tr '\t' ' ' | paste -sd ';' - | sed 's/;/; /g')"
    meta hyperfine "$(hyperfine --version)"
    meta sqlite "$(dpkg-query -W -f '${Package} ${Version}' libsqlite3-0 2>/dev/null || echo unknown) (C baseline); python3's sqlite3 $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)') (harness setup only)"
    meta counts "W1 $N_W1 enqueues (tsp: at most $TSP_MAX_QUEUED); W2 $N_E2E true, $N_SLEEP sleep 0.01, drain $N_DRAIN; W3 $N_LAT samples; W4/W5 history $N_HIST; large history $N_BIG; bulk $N_BULK; hyperfine warmup $HF_WARMUP runs $HF_RUNS"
    meta rounds "$ROUNDS"
    meta quick "$QUICK"
    meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------------------------------------
# W1 — enqueue cost: N single enqueues of `true` from a bash loop while no slot is free.

w1_jobq() {
    local r=$1 d=$2 t0 t1
    jobq_start "$d/home"
    jobq_mem
    record "$r" w4 jobq w1_idle_rss_kib "$MEM_RSS"
    record "$r" w4 jobq w1_idle_pss_kib "$MEM_PSS"
    jobq_gates "$d"
    now_us; t0=$REPLY
    for ((i = 0; i < N_W1; i++)); do "$JOBQ" --home "$JQ_HOME" add -- true >/dev/null; done
    now_us; t1=$REPLY
    LAST=$(ms_each "$N_W1" "$t0" "$t1")
    record "$r" w1 jobq ms_per_enqueue "$LAST"
    record "$r" w1 jobq count "$N_W1"
    # W4: memory with N queued jobs (the gates are the supervisor's children: not counted).
    jobq_mem
    record "$r" w4 jobq queued_rss_kib "$MEM_RSS"
    record "$r" w4 jobq queued_pss_kib "$MEM_PSS"
    release_gates "$d" 2
    jobq_wait_all
    jobq_stop
}

w1_tsp() {
    local r=$1 d=$2 t0 t1 n clients
    # tsp cannot hold N_W1 waiting jobs: its server stops accepting at ~993 connections.
    n=$((N_W1 < TSP_MAX_QUEUED ? N_W1 : TSP_MAX_QUEUED))
    tsp_start "$d"
    tsp_gates "$d"
    now_us; t0=$REPLY
    for ((i = 0; i < n; i++)); do TS_SOCKET="$TSQ/socket" TMPDIR="$TSQ" TS_MAXFINISHED=20000 tsp true >/dev/null; done
    now_us; t1=$REPLY
    TSP_NEXT_ID=$((TSP_NEXT_ID + n))
    LAST=$(ms_each "$n" "$t0" "$t1")
    record "$r" w1 tsp ms_per_enqueue "$LAST"
    record "$r" w1 tsp count "$n"
    settle_idle
    mem_of "$TSP_PID"
    record "$r" w4 tsp queued_rss_kib "$MEM_RSS"
    record "$r" w4 tsp queued_pss_kib "$MEM_PSS"
    # tsp keeps every queued job as a waiting client process: that is its queue's real cost.
    # The gates' clients are running jobs, not waiting ones: left out.
    # shellcheck disable=SC2046
    clients=$(python3 "$PROCS" find --env "TS_SOCKET=$TSQ/socket" --exe tsp --not "$TSP_PID" $(gate_pids "$d"))
    # shellcheck disable=SC2086
    mem_of $clients
    record "$r" w4 tsp_clients queued_pss_kib "$MEM_PSS"
    record "$r" w4 tsp_clients queued_procs "$MEM_N"
    release_gates "$d" 2
    tsp_wait_all
    check_tsp_idle
    tsp_stop
}

w1_nq() {
    local r=$1 d=$2 t0 t1 waiting
    nq_start "$d/nq"
    nq_gate "$d"
    now_us; t0=$REPLY
    for ((i = 0; i < N_W1; i++)); do NQDIR="$NQD" nq true >/dev/null; done
    now_us; t1=$REPLY
    LAST=$(ms_each "$N_W1" "$t0" "$t1")
    record "$r" w1 nq ms_per_enqueue "$LAST"
    record "$r" w1 nq count "$N_W1"
    # nq has no server: its queue is N waiting processes (two per job).
    waiting=$(nq_waiting_pids "$d")
    # shellcheck disable=SC2086
    mem_of $waiting
    record "$r" w4 nq_procs queued_pss_kib "$MEM_PSS"
    record "$r" w4 nq_procs queued_procs "$MEM_N"
    release_gates "$d" 1
    nqq -w
}

w1_sqlite_insert() {
    local r=$1 d=$2 t0 t1 db="$2/c.db"
    mkdir -p "$d"
    "$BIN/sqlite_insert" "$db" # create it first, as a queue's home exists before its first add
    now_us; t0=$REPLY
    for ((i = 0; i < N_W1; i++)); do "$BIN/sqlite_insert" "$db"; done
    now_us; t1=$REPLY
    LAST=$(ms_each "$N_W1" "$t0" "$t1")
    record "$r" w1 sqlite_insert ms_per_enqueue "$LAST"
    record "$r" w1 sqlite_insert count "$N_W1"
}

# ---------------------------------------------------------------------------------------------
# W2 — end to end: N jobs enqueued one process each, run with 2 slots; jobs/s from the
# first enqueue to the last completion (the server already up and idle). The job is JOB.

w2_e2e() { # ROUND DIR TOOL WORKLOAD N JOB...
    local r=$1 d=$2 tool=$3 w=$4 n=$5 t0 t1
    shift 5
    mkdir -p "$d"
    case $tool in
    jobq)
        jobq_start "$d/home"
        now_us; t0=$REPLY
        for ((i = 0; i < n; i++)); do "$JOBQ" --home "$JQ_HOME" add -- "$@" >/dev/null; done
        jobq_wait_all
        now_us; t1=$REPLY
        record "$r" "$w" jobq_recorded jobs_per_s "$(per_second "$n" "$t0" "$(jobq_last_finish_us)")"
        jobq_stop ;;
    tsp)
        tsp_start "$d"
        now_us; t0=$REPLY
        for ((i = 0; i < n; i++)); do TS_SOCKET="$TSQ/socket" TMPDIR="$TSQ" TS_MAXFINISHED=20000 tsp "$@" >/dev/null; done
        TSP_NEXT_ID=$((TSP_NEXT_ID + n))
        tsp_wait_all
        now_us; t1=$REPLY
        check_tsp_idle
        tsp_stop ;;
    nq)
        nq_start "$d/nq"
        now_us; t0=$REPLY
        for ((i = 0; i < n; i++)); do NQDIR="$NQD" nq "$@" >/dev/null; done
        nqq -w
        now_us; t1=$REPLY ;;
    xargs)
        now_us; t0=$REPLY
        seq "$n" | xargs -P "$SLOTS" -I{} "$@"
        now_us; t1=$REPLY ;;
    spawn_loop)
        now_us; t0=$REPLY
        "$BIN/spawn_loop" "$n" "$SLOTS" -- "$@" >/dev/null
        now_us; t1=$REPLY ;;
    durable)
        # The floor of a durable queue: a flush per enqueue, nothing else (baselines/durable_queue.c).
        "$BIN/durable_queue" serve "$d/dq.sock" "$d/dq.file" "$SLOTS" &
        local server=$!
        wait_until 15 "the durable queue's socket" test -S "$d/dq.sock"
        now_us; t0=$REPLY
        for ((i = 0; i < n; i++)); do "$BIN/durable_queue" add "$d/dq.sock" "$@" >/dev/null; done
        "$BIN/durable_queue" wait "$d/dq.sock"
        now_us; t1=$REPLY
        kill "$server"
        wait "$server" 2>/dev/null || true ;;
    esac
    LAST=$(per_second "$n" "$t0" "$t1")
    record "$r" "$w" "$tool" jobs_per_s "$LAST"
}

# Drain: N jobs queued while both slots are held by gates, then released; jobs/s from the
# release to the last completion.
w2_drain() { # ROUND DIR TOOL
    local r=$1 d=$2 tool=$3 n=$N_DRAIN t0 t1
    mkdir -p "$d"
    case $tool in
    jobq)
        jobq_start "$d/home"
        jobq_gates "$d"
        for ((i = 0; i < n; i++)); do jobq_add true; done
        now_us; t0=$REPLY
        release_gates "$d" 2
        jobq_wait_all
        now_us; t1=$REPLY
        record "$r" w2_drain jobq_recorded jobs_per_s "$(per_second "$n" "$t0" "$(jobq_last_finish_us)")"
        jobq_stop ;;
    tsp)
        tsp_start "$d"
        tsp_gates "$d"
        for ((i = 0; i < n; i++)); do tspq true >/dev/null; done
        TSP_NEXT_ID=$((TSP_NEXT_ID + n))
        now_us; t0=$REPLY
        release_gates "$d" 2
        tsp_wait_all
        now_us; t1=$REPLY
        check_tsp_idle
        tsp_stop ;;
    nq)
        nq_start "$d/nq"
        nq_gate "$d"
        for ((i = 0; i < n; i++)); do nqq true >/dev/null; done
        now_us; t0=$REPLY
        release_gates "$d" 1
        nqq -w
        now_us; t1=$REPLY ;;
    spawn_loop)
        now_us; t0=$REPLY
        "$BIN/spawn_loop" "$n" "$SLOTS" -- true >/dev/null
        now_us; t1=$REPLY ;;
    esac
    LAST=$(per_second "$n" "$t0" "$t1")
    record "$r" w2_drain "$tool" jobs_per_s "$LAST"
}

# ---------------------------------------------------------------------------------------------
# W3 — dispatch latency: from the start of the enqueue command to the job's first instruction
# (bench/baselines/latency.c + stamp.c), the queue idle before each sample.

w3_latency() { # ROUND DIR TOOL
    local r=$1 d=$2 tool=$3 samples="$2/samples" s enqueue=() vars=()
    mkdir -p "$d/stamps"
    : >"$samples"
    # The queue's variables go to `latency` itself (through env, before its clock starts),
    # so the enqueue command it times is the bare `tsp …` / `nq …` a user would type.
    case $tool in
    jobq) jobq_start "$d/home"; enqueue=("$JOBQ" --home "$JQ_HOME" add --) ;;
    tsp) tsp_start "$d"; vars=("TS_SOCKET=$TSQ/socket" "TMPDIR=$TSQ" TS_MAXFINISHED=20000); enqueue=(tsp) ;;
    nq) nq_start "$d/nq"; vars=("NQDIR=$NQD"); enqueue=(nq) ;;
    direct) enqueue=() ;;
    esac
    for ((i = 0; i < N_LAT; i++)); do
        s="$d/stamps/s$i"
        env "${vars[@]}" "$BIN/latency" "$s" -- "${enqueue[@]}" "$BIN/stamp" "$s" >>"$samples"
        # Back to idle before the next sample: the job has ended and been recorded.
        case $tool in
        jobq) jobq_wait_all ;;
        tsp) TSP_NEXT_ID=$((TSP_NEXT_ID + 1)); tspq -w "$((TSP_NEXT_ID - 1))" >/dev/null || true ;;
        nq) nqq -w ;;
        esac
        sleep 0.02
    done
    case $tool in
    jobq) jobq_stop ;;
    tsp) tsp_stop ;;
    esac
    while read -r ns; do record "$r" w3 "$tool" sample_ms "$(awk -v v="$ns" 'BEGIN { printf "%.4f", v / 1e6 }')"; done <"$samples"
    LAST=$(awk '{ printf "%.4f\n", $1 / 1e6 }' "$samples" | median)
    record "$r" w3 "$tool" median_ms "$LAST"
}

# ---------------------------------------------------------------------------------------------
# W4 + W5 (10k) — memory idle and after N_HIST finished `true` jobs; then list that history.

hist_jobq() { # ROUND DIR — leaves the daemon up for the list timing
    local r=$1 d=$2
    jobq_start "$d/home"
    jobq_mem
    record "$r" w4 jobq idle_rss_kib "$MEM_RSS"
    record "$r" w4 jobq idle_pss_kib "$MEM_PSS"
    "$JOBQ" --home "$JQ_HOME" add --stdin <"$SCRATCH/true-$N_HIST.txt" >/dev/null
    jobq_wait_all
    jobq_mem
    record "$r" w4 jobq history_busy_rss_kib "$MEM_BUSY_RSS"
    record "$r" w4 jobq history_busy_pss_kib "$MEM_BUSY_PSS"
    record "$r" w4 jobq history_rss_kib "$MEM_RSS"
    record "$r" w4 jobq history_pss_kib "$MEM_PSS"
    HIST_JQ_HOME=$JQ_HOME HIST_JQ_PID=$JQ_PID
}

hist_tsp() { # ROUND DIR — leaves the server up for the list timing
    local r=$1 d=$2
    tsp_start "$d"
    settle_idle
    mem_of "$TSP_PID"
    record "$r" w4 tsp idle_rss_kib "$MEM_RSS"
    record "$r" w4 tsp idle_pss_kib "$MEM_PSS"
    # tsp has no bulk add: one client per job (it holds ~990 waiting jobs at most; a client
    # that finds the queue full waits for room, which is fine here).
    for ((i = 0; i < N_HIST; i++)); do tspq true >/dev/null; done
    TSP_NEXT_ID=$((TSP_NEXT_ID + N_HIST))
    tsp_wait_all
    check_tsp_idle
    settle_idle
    mem_of "$TSP_PID"
    record "$r" w4 tsp history_rss_kib "$MEM_RSS"
    record "$r" w4 tsp history_pss_kib "$MEM_PSS"
    HIST_TSQ=$TSQ HIST_TSP_PID=$TSP_PID
}

# run_hyperfine JSON COMMAND... — no shell (-N), output through a pipe so that every tool really
# formats and writes all of it; its outlier warnings go to a log, not the progress output.
run_hyperfine() {
    local json=$1
    shift
    if ! hyperfine -N --output=pipe --style none --warmup "$HF_WARMUP" --runs "$HF_RUNS" \
        --export-json "$json" "$@" >/dev/null 2>>"$SCRATCH/hyperfine.log"; then
        tail -20 "$SCRATCH/hyperfine.log" >&2
        die "hyperfine failed: $*"
    fi
}

# hyperfine_record ROUND WORKLOAD JSON NAME... — median of each command, in the given order.
hyperfine_record() {
    local r=$1 w=$2 json=$3
    shift 3
    local i=0 name
    for name in "$@"; do
        record "$r" "$w" "$name" median_ms "$(python3 -c 'import json,sys; print("%.4f" % (json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"] * 1000))' "$json" "$i")"
        i=$((i + 1))
    done
}

w45_round() { # ROUND
    local r=$1 d="$SCRATCH/r$1/hist" tool names=() commands=()
    shuffle_order "$r" w4 jobq tsp
    for tool in "${ORDER[@]}"; do
        log "round $r/$ROUNDS W4: $tool, $N_HIST finished jobs"
        case $tool in
        jobq) hist_jobq "$r" "$d/jobq" ;;
        tsp) hist_tsp "$r" "$d/tsp" ;;
        esac
    done
    # W5: list the whole history.
    shuffle_order "$r" w5_hist jobq tsp
    for tool in "${ORDER[@]}"; do
        case $tool in
        jobq) names+=(jobq_list); commands+=("$JOBQ --home $HIST_JQ_HOME list") ;;
        tsp) names+=(tsp_l); commands+=("tsp -l") ;;
        esac
    done
    TS_SOCKET="$HIST_TSQ/socket" TMPDIR="$HIST_TSQ" run_hyperfine "$d/list.json" "${commands[@]}"
    hyperfine_record "$r" w5_hist "$d/list.json" "${names[@]}"
    log "round $r/$ROUNDS W5: list of $N_HIST: $(round_numbers "$r" w5_hist '%s %.1f ms  ')"
    JQ_HOME=$HIST_JQ_HOME JQ_PID=$HIST_JQ_PID
    jobq_stop
    TSQ=$HIST_TSQ TSP_PID=$HIST_TSP_PID
    tsp_stop
}

# command_lines true|items N — N command lines for `add --stdin`.
command_lines() {
    python3 -c '
import sys
kind, n = sys.argv[1], int(sys.argv[2])
out = sys.stdout
for i in range(n):
    out.write("true\n" if kind == "true" else f"./process-item --input data/item-{i:06d}.dat --output out/item-{i:06d}.json\n")
' "$1" "$2"
}

# ---------------------------------------------------------------------------------------------
# W5 (large) — `list --limit 50` and `errors --limit 50` over N_BIG jobs, built once per run.

build_big_history() {
    local home="$SCRATCH/big/home" t0 t1 b batches=$((N_BIG / BIG_BATCH))
    ((batches >= 1)) || batches=1
    BIG_HOME=$home
    mkdir -p "$SCRATCH/big"
    log "building a $N_BIG-job history ($batches × add --stdin of $BIG_BATCH, then marking it done/failed)"
    command_lines items "$BIG_BATCH" >"$SCRATCH/big/batch.txt"
    now_us; t0=$REPLY
    for ((b = 0; b < batches; b++)); do
        "$JOBQ" --home "$home" add --stdin <"$SCRATCH/big/batch.txt" >/dev/null
    done
    now_us; t1=$REPLY
    meta big_history_add_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
    python3 "$BENCH/lib/mark_history.py" "$home"
    now_us
    meta big_history_total_s "$(awk -v a="$t0" -v b="$REPLY" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
    meta big_history_jobs "$((batches * BIG_BATCH))"
    log "history built in $(awk -v a="$t0" -v b="$REPLY" 'BEGIN { printf "%.1f", (b - a) / 1e6 }') s"
}

w5_big_round() { # ROUND — no daemon: list/errors read the database directly either way
    local r=$1 json="$SCRATCH/r$1/big.json" tool names=() commands=()
    mkdir -p "$SCRATCH/r$r"
    shuffle_order "$r" w5_big list50 errors50 list50_json version
    for tool in "${ORDER[@]}"; do
        names+=("$tool")
        case $tool in
        list50) commands+=("$JOBQ --home $BIG_HOME list --limit 50") ;;
        errors50) commands+=("$JOBQ --home $BIG_HOME errors --limit 50") ;;
        list50_json) commands+=("$JOBQ --home $BIG_HOME list --limit 50 --json") ;;
        version) commands+=("$JOBQ --version") ;; # the process-start floor, for reference
        esac
    done
    run_hyperfine "$json" "${commands[@]}"
    hyperfine_record "$r" w5_big "$json" "${names[@]}"
    log "round $r/$ROUNDS W5 large: $(round_numbers "$r" w5_big '%s %.1f ms  ')"
}

# ---------------------------------------------------------------------------------------------
# Bulk — one `jobq add --stdin` of N_BULK commands, against a C program that inserts as many
# ~200-byte rows in one transaction (WAL, synchronous=FULL). jobq twice: into a home whose daemon
# runs with both slots held by gates (the queue holds the jobs, as in W1; the add leaves copying
# the write-ahead log into the database file to the daemon), and into a fresh home with no
# daemon (the add leaves that copy to a detached `jobq copy-log`; the C program does it when it
# closes). Both jobq figures are also given counting the copy.

bulk_jobq_daemon() { # DIR — sets LAST to "t0 t1 COPY_MS" (times in microseconds; COPY_MS: the
    # daemon's log copy as it logged it, or empty when none was asked for)
    local d=$1 t0 t1 copy_ms=""
    jobq_start "$d/home"
    jobq_gates "$d"
    now_us; t0=$REPLY
    "$JOBQ" --home "$JQ_HOME" add --stdin <"$SCRATCH/bulk-$N_BULK.txt" >/dev/null
    now_us; t1=$REPLY
    # The copy runs on in the daemon after the add returned. --quick's add stays under the
    # 1,000-page threshold and asks for none.
    if ! ((QUICK)); then
        wait_until 30 "the jobq daemon's log copy" grep -q "write-ahead log copied" "$JQ_HOME.log"
        copy_ms=$(sed -n 's/.*write-ahead log copied into the database: .* in \([0-9]*\) ms.*/\1/p' "$JQ_HOME.log" | tail -1)
    fi
    LAST="$t0 $t1 $copy_ms"
    # Stop the daemon before the gates open, so the queued jobs never run: its supervisor then
    # settles the gate jobs and exits.
    "$JOBQ" --home "$JQ_HOME" stop >/dev/null 2>&1 || true
    wait "$JQ_PID" 2>/dev/null || true
    release_gates "$d" 2
    jobq_stop
}

bulk_round() { # ROUND
    local r=$1 d="$SCRATCH/r$1/bulk" tool t0 t1 copy_ms
    mkdir -p "$d"
    shuffle_order "$r" bulk jobq_daemon jobq sqlite_insert
    for tool in "${ORDER[@]}"; do
        case $tool in
        jobq_daemon)
            bulk_jobq_daemon "$d/daemon"
            read -r t0 t1 copy_ms <<<"$LAST"
            if [[ -n $copy_ms ]]; then
                record "$r" bulk jobq_daemon_with_copy jobs_per_s "$(per_second "$N_BULK" "$t0" "$((t1 + copy_ms * 1000))")"
            fi ;;
        jobq)
            now_us; t0=$REPLY
            "$JOBQ" --home "$d/home" add --stdin <"$SCRATCH/bulk-$N_BULK.txt" >/dev/null
            now_us; t1=$REPLY
            # The copy of the log into the database file runs on in a detached `jobq copy-log`,
            # which removes the log when it is done (--quick's add stays under the 1,000-page
            # threshold and leaves no copy for later: its log goes when its connection closes).
            wait_until 30 "jobq copy-log" test ! -e "$d/home/jobq.db-wal"
            now_us
            ((QUICK)) || record "$r" bulk jobq_with_copy jobs_per_s "$(per_second "$N_BULK" "$t0" "$REPLY")" ;;
        sqlite_insert)
            now_us; t0=$REPLY
            "$BIN/sqlite_insert" "$d/c.db" "$N_BULK"
            now_us; t1=$REPLY ;;
        esac
        record "$r" bulk "$tool" jobs_per_s "$(per_second "$N_BULK" "$t0" "$t1")"
    done
    log "round $r/$ROUNDS bulk: $(round_numbers "$r" bulk '%s %.0f/s  ')"
    ((KEEP)) || rm -rf "$d"
}

# ---------------------------------------------------------------------------------------------

run_round() {
    local r=$1 tool d="$SCRATCH/r$1"
    mkdir -p "$d"
    record "$r" load _order "$(cut -d' ' -f1-3 /proc/loadavg)" ""

    shuffle_order "$r" w1 jobq tsp nq sqlite_insert
    for tool in "${ORDER[@]}"; do
        "w1_$tool" "$r" "$d/w1-$tool"
        log "round $r/$ROUNDS W1 $tool: $LAST ms per enqueue"
    done

    shuffle_order "$r" w2_true jobq tsp nq xargs spawn_loop durable
    for tool in "${ORDER[@]}"; do
        w2_e2e "$r" "$d/w2t-$tool" "$tool" w2_true "$N_E2E" true
        log "round $r/$ROUNDS W2 $N_E2E × true, $tool: $LAST jobs/s"
    done

    shuffle_order "$r" w2_sleep jobq tsp nq xargs spawn_loop
    for tool in "${ORDER[@]}"; do
        w2_e2e "$r" "$d/w2s-$tool" "$tool" w2_sleep "$N_SLEEP" sleep 0.01
        log "round $r/$ROUNDS W2 $N_SLEEP × sleep 0.01, $tool: $LAST jobs/s"
    done

    shuffle_order "$r" w2_drain jobq tsp nq spawn_loop
    for tool in "${ORDER[@]}"; do
        w2_drain "$r" "$d/w2d-$tool" "$tool"
        log "round $r/$ROUNDS W2 drain of $N_DRAIN, $tool: $LAST jobs/s"
    done

    shuffle_order "$r" w3 jobq tsp nq direct
    for tool in "${ORDER[@]}"; do
        w3_latency "$r" "$d/w3-$tool" "$tool"
        log "round $r/$ROUNDS W3 $tool: median $LAST ms"
    done

    w45_round "$r"
    w5_big_round "$r"
    bulk_round "$r"
    ((KEEP)) || rm -rf "$d" # the next round starts from fresh homes; keeps the disk small
}

main() {
    check_prerequisites
    setup_scratch
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    unset TS_SAVELIST TS_ONFINISH TS_ENV TS_MAILTO TS_SOCKET TS_MAXFINISHED TS_SLOTS NQDIR JOBQ_HOME

    now_us
    local started=$REPLY
    build_helpers
    build_jobq
    describe_machine
    log "jobq: $JOBQ ($(awk -F'\t' '$1 == "jobq_version" { print $2 }' "$META")); $ROUNDS round(s); scratch $SCRATCH"

    # Inputs for the --stdin adds, made once: W4's history is N × `true`; the bulk add and the
    # large history get distinct, realistic command lines (~75 bytes).
    command_lines true "$N_HIST" >"$SCRATCH/true-$N_HIST.txt"
    command_lines items "$N_BULK" >"$SCRATCH/bulk-$N_BULK.txt"
    build_big_history

    for ((round = 1; round <= ROUNDS; round++)); do
        log "=== round $round of $ROUNDS"
        run_round "$round"
    done

    now_us
    meta duration_s "$(awk -v a="$started" -v b="$REPLY" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')"
    meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$BENCH/report.py" --raw "$RAW" --meta "$META" --out "$OUT"
    if ((CHART)); then
        python3 "$BENCH/chart.py" "$OUT/results.json" "$OUT/chart.png"
    else
        # An older run's chart next to these results would show that run's numbers.
        rm -f "$OUT/chart.png"
    fi
    log "wrote $OUT/results.md, $OUT/results.json$( ((CHART)) && echo ", $OUT/chart.png")"
}

main
