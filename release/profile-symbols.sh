#!/usr/bin/env bash
# release/profile-symbols.sh — regenerates release/symbol-order.txt: the functions that a daemon,
# its supervisor and the common commands run, as recorded by valgrind's callgrind while they do a
# small, typical piece of work. release/build.sh links those functions next to each other.
#
# Usage: release/profile-symbols.sh            (needs valgrind: apt-get install valgrind)
#
# Every function callgrind saw run in a jobq process is listed, once, if the binary defines
# exactly one symbol of that name (a name that several local symbols share cannot be placed
# precisely, and lld would move all of them): first those of `jobq add -- true`, the command
# that starts most often, then the others.
set -euo pipefail
export LC_ALL=C  # sort, uniq and comm: the same order everywhere

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v valgrind >/dev/null || { echo "profile-symbols.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/jobq-profile.XXXXXX")
cleanup() {
    [[ -n ${DAEMON:-} ]] && kill "$DAEMON" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

BIN=$("$ROOT/release/build.sh" --scratch-path "$ROOT/.build-release")
# valgrind 3.19 cannot read the DWARF 5 debug information Swift writes: profile a copy without
# it (same code, same symbols).
strip -g -o "$WORK/jobq" "$BIN"
J="$WORK/jobq"
HOME_DIR="$WORK/home"
CG=(valgrind --tool=callgrind --demangle=no --trace-children=yes
    "--trace-children-skip=/usr/*,/bin/*" "--callgrind-out-file=$WORK/out/%p.callgrind")
mkdir -p "$WORK/out"

echo "profiling: daemon with 2 worker slots (one supervisor), add (argv, options, --stdin, task file), list, show, errors, status, log, wait" >&2
"${CG[@]}" "$J" --home "$HOME_DIR" daemon --workers 2 2>"$WORK/daemon.log" &
DAEMON=$!
for _ in $(seq 600); do [[ -S $HOME_DIR/run/daemon.sock ]] && break; sleep 0.1; done
[[ -S $HOME_DIR/run/daemon.sock ]] || { cat "$WORK/daemon.log" >&2; echo "the daemon did not start" >&2; exit 1; }

run() { "${CG[@]}" "$J" --home "$HOME_DIR" "$@" >/dev/null 2>&1 || true; }
run add -- true
run add -- true
run add --name demo --priority 3 --retries 1 -- sh -c 'echo out; echo err >&2; exit 3'
printf 'true\ntrue\n' | "${CG[@]}" "$J" --home "$HOME_DIR" add --stdin >/dev/null 2>&1 || true
printf '#JOBQ name=from-spool\necho spooled\n' >"$HOME_DIR/spool/demo.task"
run wait
run list
run list --limit 5 --json
run show 3
run errors
run status
run log 3
"$J" --home "$HOME_DIR" stop >/dev/null 2>&1 || kill "$DAEMON"
wait "$DAEMON" 2>/dev/null || true
DAEMON=
# The workers leave after the daemon, each writing its profile as it exits: wait for them.
for _ in $(seq 600); do pgrep -f "$J" >/dev/null || break; sleep 0.1; done
! pgrep -f "$J" >/dev/null || { echo "profile-symbols.sh: jobq processes still running" >&2; exit 1; }

# Names defined exactly once in the binary (T/t/W/w: code).
nm --defined-only "$J" | awk '$2 ~ /^[TtWw]$/ { print $3 }' | sort | uniq -u >"$WORK/unique"
functions() { cat "$@" | sed -nE 's/^c?fn=\([0-9]+\) (.*)$/\1/p' | sort -u | comm -12 - "$WORK/unique"; }
# First what `jobq add -- COMMAND` runs (a process start per enqueue: its code packed tightest),
# then everything else the daemon, the workers and the other commands ran.
grep -l '^cmd: .* add -- true$' "$WORK"/out/*.callgrind >"$WORK/add-profiles" || true
[[ -s $WORK/add-profiles ]] || { echo "profile-symbols.sh: no profile of \`jobq add -- true\`" >&2; exit 1; }
mapfile -t add_profiles <"$WORK/add-profiles"
functions "${add_profiles[@]}" >"$WORK/add"
functions "$WORK"/out/*.callgrind | comm -23 - "$WORK/add" >"$WORK/rest"
cat "$WORK/add" "$WORK/rest" >"$ROOT/release/symbol-order.txt"
echo "wrote release/symbol-order.txt: $(wc -l <"$WORK/add") functions of \`jobq add\`, then" \
    "$(wc -l <"$WORK/rest") more, from $(find "$WORK/out" -name '*.callgrind' | wc -l) jobq processes" >&2
