#!/usr/bin/env bash
# release/build.sh — builds the jobq binary to install: release mode, fully static, with the
# code that jobq runs laid out together. Prints the binary's path on stdout.
#
# Usage: release/build.sh [--scratch-path DIR]      (default DIR: .build-release)
#
# Every `jobq add` is a process start, and an idle daemon keeps the pages it touched, so the
# binary is built for start-up and resident memory:
#   -static-executable   no dynamic loader, no shared-library relocations at start;
#   function sections + lld's --symbol-ordering-file=release/symbol-order.txt
#                        the ~3,500 functions that the daemon, its workers and the common
#                        commands run (profiled by release/profile-symbols.sh), those of
#                        `jobq add` first, are linked next to each other instead of spread over
#                        the 11 MiB of code. Measured here against the same code linked the
#                        usual way (perf stat, 300 runs each, against one daemon): a `jobq add`
#                        takes 100 page faults instead of 128 and 1.09 ms instead of 1.37; an idle
#                        daemon with two workers takes 8.6 MiB (PSS) instead of 9.7.
# A symbol-order file that has fallen behind the code is harmless: functions it does not name
# are laid out as usual. Regenerate it with release/profile-symbols.sh after large changes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=.build-release
while (($#)); do
    case "$1" in
    --scratch-path)
        [[ $# -ge 2 ]] || { echo "usage: release/build.sh [--scratch-path DIR]" >&2; exit 64; }
        SCRATCH=$2; shift 2 ;;
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "release/build.sh: unknown argument: $1" >&2; exit 64 ;;
    esac
done

cd "$ROOT"
case $SCRATCH in
/*) BINARY="$SCRATCH/release/jobq" ;;
*) BINARY="$ROOT/$SCRATCH/release/jobq" ;;
esac
# SwiftPM relinks only when a compiled input changed; the symbol order is not one of them.
# Without the old binary, it links again (a few seconds), so the order file always applies.
rm -f "$BINARY"
# The static link warns that getpwnam/dlopen need glibc's shared libraries at run time (jobq
# calls neither on its own paths); that warning is expected.
swift build -c release --scratch-path "$SCRATCH" \
    -Xswiftc -static-executable \
    -Xswiftc -Xfrontend -Xswiftc -function-sections \
    -Xswiftc -use-ld=lld \
    -Xlinker --symbol-ordering-file="$ROOT/release/symbol-order.txt" \
    -Xlinker --no-warn-symbol-ordering >&2
# The binary reads its argv through cposix.c's _swift_stdlib_getUnsafeArgvArgc, not the runtime's
# (see there): make sure both FastPath and the argument parser see the arguments.
if ! "$BINARY" --version >/dev/null || ! "$BINARY" add --help | grep -q -- "--stdin"; then
    echo "release/build.sh: $BINARY does not read its arguments" >&2
    exit 1
fi
echo "$BINARY"
