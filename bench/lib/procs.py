#!/usr/bin/env python3
"""Process discovery and memory measurement for bench/run.sh (reads /proc only).

  procs.py mem PID...                  -> "RSS_KIB PSS_KIB NPROCS": sums of VmRSS (status) and
                                          Pss (smaps_rollup) over the live PIDs given
  procs.py children PPID [WORD]        -> PIDs whose parent is PPID (and whose command line
                                          contains WORD as an argument), one a line
  procs.py find [--env K=V] [--exe NAME] [--arg A]... [--argv A B ...] [--not PID...]
                                       -> PIDs whose environment has K=V exactly, whose
                                          executable's base name is NAME, whose argv holds
                                          each --arg, or is exactly --argv; one a line
  procs.py tagged K=V                  -> PIDs carrying K=V in their environment, except bash
                                          processes (the harness itself and its subshells)

The harness marks every process it starts with an environment variable, so `tagged`
finds exactly what this run started (daemons, servers, waiting clients, gate jobs) for
the clean-up, which then ends them by PID.
"""
import os
import sys


def pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def read(path, mode="rb"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def environ(pid):
    data = read(f"/proc/{pid}/environ")
    return data.split(b"\0") if data else []


def argv(pid):
    data = read(f"/proc/{pid}/cmdline")
    return [a.decode(errors="replace") for a in data.split(b"\0")[:-1]] if data else []


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def ppid(pid):
    data = read(f"/proc/{pid}/stat", "r")
    if not data:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return int(data[data.rindex(")") + 2:].split()[1])


def kib(text, key):
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def mem(pid_list):
    rss = pss = n = 0
    for pid in pid_list:
        status = read(f"/proc/{pid}/status", "r")
        rollup = read(f"/proc/{pid}/smaps_rollup", "r")
        if status is None or rollup is None:
            continue  # gone in the meantime
        rss += kib(status, "VmRSS:")
        pss += kib(rollup, "Pss:")
        n += 1
    return rss, pss, n


def main(args):
    if not args:
        sys.exit(__doc__)
    command, rest = args[0], args[1:]
    if command == "mem":
        rss, pss, n = mem(int(p) for p in rest)
        print(rss, pss, n)
    elif command == "children":
        parent = int(rest[0])
        word = rest[1] if len(rest) > 1 else None
        for pid in pids():
            if ppid(pid) == parent and (word is None or word in argv(pid)):
                print(pid)
    elif command == "find":
        env = exe = None
        want_argv = None
        want_args = []
        excluded = set()
        i = 0
        while i < len(rest):
            if rest[i] == "--env":
                env = rest[i + 1].encode()
                i += 2
            elif rest[i] == "--exe":
                exe = rest[i + 1]
                i += 2
            elif rest[i] == "--arg":
                want_args.append(rest[i + 1])
                i += 2
            elif rest[i] == "--argv":
                want_argv = []
                i += 1
                while i < len(rest) and not rest[i].startswith("--"):
                    want_argv.append(rest[i])
                    i += 1
            elif rest[i] == "--not":
                i += 1
                while i < len(rest) and not rest[i].startswith("--"):
                    excluded.add(int(rest[i]))
                    i += 1
            else:
                sys.exit(f"procs.py find: unknown option {rest[i]}")
        for pid in pids():
            if pid in excluded or pid == os.getpid():
                continue
            if env is not None and env not in environ(pid):
                continue
            if exe is not None and exe_name(pid) != exe:
                continue
            args_of = argv(pid)
            if want_argv is not None and args_of != want_argv:
                continue
            if any(a not in args_of for a in want_args):
                continue
            print(pid)
    elif command == "tagged":
        tag = rest[0].encode()
        for pid in pids():
            if pid == os.getpid() or exe_name(pid) == "bash":
                continue
            if tag in environ(pid):
                print(pid)
    else:
        sys.exit(f"procs.py: unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
