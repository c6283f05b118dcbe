#!/usr/bin/env python3
"""report.py --raw RAW.tsv --meta META.tsv --out DIR — results.md and results.json from a run.

RAW.tsv has one measured number a line: ROUND, WORKLOAD, TOOL, METRIC, VALUE (tool `_order`
records the order the tools ran in). Every ratio is taken per round, between numbers measured
in the same round, and then summarised: median over the rounds [min–max]. Nothing here is
measured or assumed: a number that is not in RAW.tsv is reported as n/a.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
from collections import defaultdict

MIB = 1024.0

# --- what each workload reports --------------------------------------------------------------

# Tool labels, as people know them.
LABELS = {
    "jobq": "jobq",
    "jobq_recorded": "jobq, to the last `finished_at` it recorded (not its `wait`; information only)",
    "tsp": "task-spooler (tsp)",
    "nq": "nq (1 slot)",
    "sqlite_insert": "C: one SQLite row per process (baseline)",
    "xargs": "xargs -P2",
    "spawn_loop": "C: posix_spawn loop, 2 in flight (baseline)",
    "durable": "C: durable queue — an fdatasync per enqueue, nothing else (floor)",
    "direct": "running the job directly (baseline)",
    "jobq_list": "jobq list",
    "tsp_l": "tsp -l (baseline)",
    "list50": "jobq list --limit 50",
    "errors50": "jobq errors --limit 50",
    "list50_json": "jobq list --limit 50 --json",
    "version": "jobq --version (process start, reference)",
}


RECORDED_NOTE = ("The row “to the last `finished_at` it recorded” ends the clock at the newest "
                 "`finished_at` in jobq's database instead of when `jobq wait` returned: the difference is "
                 "what `jobq wait` took to notice. Targets use the `jobq wait` row, as a user would see it.")


# Precision and suffix per unit; `plain` leaves the suffix out (the min–max column names its unit).
SUFFIXES = {"ms": " ms", "jobs/s": "/s", "MiB": " MiB"}


def fmt(value, unit, plain=False):
    if value is None:
        return "n/a"
    if unit == "ms":
        text = f"{value:.2f}" if value < 100 else f"{value:.0f}"
    elif unit == "jobs/s":
        text = f"{value:,.0f}"
    elif unit == "MiB":
        text = f"{value:.1f}"
    else:
        return f"{value:g}"
    return text if plain else text + SUFFIXES[unit]


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


class Run:
    def __init__(self, raw_path, meta_path):
        self.values = defaultdict(dict)  # (workload, tool, metric) -> {round: value}
        self.samples = defaultdict(lambda: defaultdict(list))  # (workload, tool) -> round -> [..]
        self.orders = defaultdict(dict)  # workload -> {round: "a b c"}
        self.rows = []
        with open(raw_path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 5:
                    continue
                rnd, workload, tool, metric, value = parts
                rnd = int(rnd)
                self.rows.append({"round": rnd, "workload": workload, "tool": tool, "metric": metric, "value": value})
                if tool == "_order":
                    self.orders[workload][rnd] = metric
                    continue
                number = float(value)
                if metric == "sample_ms":
                    self.samples[(workload, tool)][rnd].append(number)
                else:
                    self.values[(workload, tool, metric)][rnd] = number
        self.meta = {}
        with open(meta_path) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("\t")
                self.meta[key] = value
        self.rounds = sorted({row["round"] for row in self.rows})

    def per_round(self, workload, tool, metric, scale=1.0):
        got = self.values.get((workload, tool, metric), {})
        return {r: got[r] * scale for r in self.rounds if r in got}

    def ratio(self, a, b):
        """Per-round a/b for two per-round dicts; only rounds where both exist."""
        return {r: a[r] / b[r] for r in a if r in b and b[r]}

    def diff(self, a, b):
        return {r: a[r] - b[r] for r in a if r in b}


def met(value, op, threshold):
    if value is None:
        return None
    return value <= threshold if op == "<=" else value >= threshold


def met_text(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**no**")


# --- the report ----------------------------------------------------------------------------------


class Table:
    def __init__(self, key, title, unit, baseline_label, description):
        self.key, self.title, self.unit = key, title, unit
        self.baseline_label = baseline_label
        self.description = description
        self.lines = []  # markdown rows
        self.notes = []
        self.json_rows = []
        self.targets = []  # rows of the Targets table, in the order the rows were written

    def add_target(self, name, target, unit, s, ok):
        """A row with a target also goes to the Targets table, when it has a name there."""
        if target is None or name is None:
            return
        op, threshold = target
        self.targets.append({"workload": self.key, "target": name, "op": op, "threshold": threshold, "unit": unit,
                             "median": s["median"] if s else None, "met": ok})

    def tool_row(self, label, per_round, ratio_per_round=None, target=None, note="", target_name=None):
        s = summary(per_round.values())
        r = summary(ratio_per_round.values()) if ratio_per_round is not None else None
        ratio_text = "—" if ratio_per_round is None else (
            "n/a" if r is None else f"{r['median']:.2f}× [{r['min']:.2f}–{r['max']:.2f}]")
        target_text, met_cell, ok = "", "", None
        if target is not None:
            op, threshold = target
            ok = met(s["median"] if s else None, op, threshold)
            target_text = f"{op.replace('<=', '≤').replace('>=', '≥')} {fmt(threshold, self.unit)}"
            met_cell = met_text(ok)
        self.lines.append(
            f"| {label}{(' — ' + note) if note else ''} | {fmt(s['median'], self.unit) if s else 'n/a'} | "
            f"{(fmt(s['min'], self.unit, plain=True) + '–' + fmt(s['max'], self.unit, plain=True)) if s else 'n/a'} | "
            f"{ratio_text} | {target_text} | {met_cell} |")
        self.json_rows.append({
            "label": label, "note": note, "per_round": per_round, "summary": s,
            "ratio_to_baseline_per_round": ratio_per_round, "ratio_summary": r,
            "target": list(target) if target else None, "met": ok})
        self.add_target(target_name, target, self.unit, s, ok)

    def ratio_row(self, label, per_round, target=None, target_name=None):
        s = summary(per_round.values())
        target_text, ok = "", None
        if target is not None:
            op, threshold = target
            ok = met(s["median"] if s else None, op, threshold)
            target_text = f"{op.replace('<=', '≤').replace('>=', '≥')} {threshold:.1f}×"
        median_text = f"{s['median']:.3f}×" if s else "n/a"
        range_text = f"{s['min']:.2f}–{s['max']:.2f}" if s else "n/a"
        met_cell = met_text(ok) if target else ""
        self.lines.append(f"| **{label}** | {median_text} | {range_text} | — | {target_text} | {met_cell} |")
        self.json_rows.append({"label": label, "ratio_per_round": per_round, "summary": s,
                               "target": list(target) if target else None, "met": ok})
        self.add_target(target_name, target, "×", s, ok)

    def na_row(self, label, why):
        self.lines.append(f"| {label} | n/a | n/a | n/a | | |")
        self.notes.append(f"{label}: n/a — {why}")
        self.json_rows.append({"label": label, "na": why})

    def markdown(self):
        out = [f"### {self.title}", "", self.description, "",
               f"| | median | min–max ({self.unit}) | ratio to {self.baseline_label}, per round: median [min–max] | target | met? |",
               "|---|---|---|---|---|---|"]
        out += self.lines
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        out.append("")
        return "\n".join(out)


def build(run):
    tables, panels = [], []
    count = lambda w, t: run.per_round(w, t, "count")

    def bars(workload, metric, tools, ref):
        """Chart bars: each tool's per-round value over `ref`'s value in the same round."""
        refv = run.per_round(workload, ref, metric)
        out = []
        for tool in tools:
            v = run.per_round(workload, tool, metric)
            s = summary(run.ratio(v, refv).values())
            if s:
                out.append({"label": tool, "median": s["median"], "min": s["min"], "max": s["max"]})
        return out

    # W1 -----------------------------------------------------------------------------------
    w = "w1"
    t = Table(w, "W1 — enqueue cost (one `true` per enqueue process, no slot free)", "ms",
              "the C SQLite insert",
              "Time of a bash loop of single enqueues divided by their number, while both slots are held "
              "by gate jobs so that every job stays queued. The baseline is a C program that opens a WAL "
              "database with `synchronous=FULL` and inserts one ~200-byte row per process run, from the "
              "same kind of loop.")
    base = run.per_round(w, "sqlite_insert", "ms_per_enqueue")
    jq = run.per_round(w, "jobq", "ms_per_enqueue")
    ts = run.per_round(w, "tsp", "ms_per_enqueue")
    for tool in ["jobq", "tsp", "nq", "sqlite_insert"]:
        v = run.per_round(w, tool, "ms_per_enqueue")
        n = summary(count(w, tool).values())
        note = f"{n['median']:.0f} enqueues" if n else ""
        if tool == "tsp" and n:
            note += " (tsp holds at most ~993 waiting jobs)"
        if tool == "nq":
            note += "; each job a waiting process"
        t.tool_row(LABELS[tool], v, run.ratio(v, base), note=note)
    t.ratio_row("jobq / tsp", run.ratio(jq, ts), ("<=", 1.0), "W1 enqueue: jobq/tsp")
    t.ratio_row("jobq / C insert", run.ratio(jq, base))
    tables.append(t)
    panels.append({"title": "W1 enqueue cost (time, ÷ tsp)", "ylabel": "× tsp (lower is better)",
                   "bars": bars(w, "ms_per_enqueue", ["jobq", "tsp", "nq", "sqlite_insert"], "tsp"),
                   "targets": [{"value": 1.0, "label": "target: jobq ≤ 1.0× tsp"}]})

    # W2 -----------------------------------------------------------------------------------
    for w, title, job in [("w2_true", "W2 — end to end, `true` jobs", "true"),
                          ("w2_sleep", "W2 — end to end, `sleep 0.01` jobs", "sleep 0.01")]:
        t = Table(w, title, "jobs/s", "the C spawn loop",
                  f"Jobs enqueued one process each from a bash loop into an idle queue with 2 slots, then "
                  f"waited for; jobs per second from the first enqueue to the last completion (as seen by "
                  f"the tool's own wait command). Job: `{job}`. Baselines in the same round: "
                  f"`seq N | xargs -P2 -I{{}} {job}` and a C posix_spawn loop with 2 in flight (no queue at all).")
        base = run.per_round(w, "spawn_loop", "jobs_per_s")
        floor = ["durable"] if w == "w2_true" else []
        for tool in ["jobq", "jobq_recorded", "tsp", "nq", "xargs", "spawn_loop"] + floor:
            v = run.per_round(w, tool, "jobs_per_s")
            t.tool_row(LABELS[tool], v, run.ratio(v, base))
        jq, ts = run.per_round(w, "jobq", "jobs_per_s"), run.per_round(w, "tsp", "jobs_per_s")
        if w == "w2_true":
            t.ratio_row("jobq / tsp", run.ratio(jq, ts), (">=", 1.2), "W2 e2e (true): jobq/tsp")
            dq = run.per_round(w, "durable", "jobs_per_s")
            t.ratio_row("durable floor / tsp", run.ratio(dq, ts))
            t.ratio_row("jobq / durable floor", run.ratio(jq, dq))
            t.notes.append("The durable floor (bench/baselines/durable_queue.c) is a C server that appends each "
                           "enqueued command to a preallocated file and fdatasyncs it before it answers, then runs "
                           "the jobs 2 at a time: what any queue that keeps an enqueue's promise pays per job on "
                           "this disk, with no database, log files or crash recovery. Its ratio to tsp is the most "
                           "such a queue could reach here.")
        else:
            t.ratio_row("jobq / tsp", run.ratio(jq, ts))
            t.notes.append("No target for this variant: with 10 ms jobs every tool is bounded by "
                           "2 slots × 100 jobs/s; it shows the per-job overhead on top of real work.")
        t.ratio_row("jobq / xargs -P2", run.ratio(jq, run.per_round(w, "xargs", "jobs_per_s")))
        t.notes.append(RECORDED_NOTE)
        tables.append(t)
        panels.append({"title": f"{title.split(' — ')[0]} e2e `{job}` (jobs/s, ÷ tsp)",
                       "ylabel": "× tsp (higher is better)",
                       "bars": bars(w, "jobs_per_s", ["jobq", "tsp", "nq", "xargs", "spawn_loop"] + floor, "tsp"),
                       "targets": [{"value": 1.2, "label": "target: jobq ≥ 1.2× tsp"}] if w == "w2_true" else []})

    w = "w2_drain"
    t = Table(w, "W2 — drain (jobs queued behind 2 gates, then released)", "jobs/s",
              "the C spawn loop",
              "`true` jobs queued while both slots are held by gate jobs (nq: one gate), then the gates "
              "are released (their FIFOs opened and closed); jobs per second from the release to the last "
              "completion. Baseline: the C posix_spawn loop running as many `true`, 2 in flight.")
    base = run.per_round(w, "spawn_loop", "jobs_per_s")
    for tool in ["jobq", "jobq_recorded", "tsp", "nq", "spawn_loop"]:
        v = run.per_round(w, tool, "jobs_per_s")
        t.tool_row(LABELS[tool], v, run.ratio(v, base))
    jq, ts = run.per_round(w, "jobq", "jobs_per_s"), run.per_round(w, "tsp", "jobs_per_s")
    t.ratio_row("jobq / tsp", run.ratio(jq, ts), (">=", 1.5), "W2 drain: jobq/tsp")
    t.ratio_row("jobq / C spawn loop", run.ratio(jq, base), (">=", 0.6), "W2 drain: jobq/spawn loop")
    t.notes.append(RECORDED_NOTE)
    t.notes.append("nq runs one job at a time (each job waits for all earlier ones); it is shown, "
                   "not compared against a target.")
    tables.append(t)
    spawn_over_tsp = summary(run.ratio(base, ts).values())
    panels.append({"title": "W2 drain (jobs/s, ÷ tsp)", "ylabel": "× tsp (higher is better)",
                   "bars": bars(w, "jobs_per_s", ["jobq", "tsp", "nq", "spawn_loop"], "tsp"),
                   "targets": [{"value": 1.5, "label": "target: jobq ≥ 1.5× tsp"}] + (
                       [{"value": 0.6 * spawn_over_tsp["median"], "label": "target: jobq ≥ 0.6× spawn loop",
                         "style": "dotted"}] if spawn_over_tsp else [])})

    # W3 -----------------------------------------------------------------------------------
    w = "w3"
    t = Table(w, "W3 — dispatch latency (idle queue)", "ms", "running it directly",
              "From the start of the enqueue command to the job's first instruction: `latency.c` takes "
              "CLOCK_REALTIME, runs the enqueue command (posix_spawn + waitpid), then waits (inotify) for the "
              "stamp file that the job `stamp.c` writes (CLOCK_REALTIME first thing in main, written to "
              "FILE.tmp then renamed). Per round: the median of the samples; the queue is idle before "
              "each sample. Baseline: the enqueue command is the stamp program itself.")
    base = run.per_round(w, "direct", "median_ms")
    for tool in ["jobq", "tsp", "nq", "direct"]:
        v = run.per_round(w, tool, "median_ms")
        all_samples = [x for xs in run.samples[(w, tool)].values() for x in xs]
        note = ""
        if all_samples:
            q = statistics.quantiles(all_samples, n=10) if len(all_samples) >= 10 else None
            note = f"{len(all_samples)} samples" + (f", p90 {q[-1]:.2f} ms" if q else "")
        t.tool_row(LABELS[tool], v, run.ratio(v, base), note=note)
    jq, ts = run.per_round(w, "jobq", "median_ms"), run.per_round(w, "tsp", "median_ms")
    t.ratio_row("jobq / tsp", run.ratio(jq, ts), ("<=", 1.0), "W3 latency: jobq/tsp")
    tables.append(t)
    panels.append({"title": "W3 dispatch latency (median, ÷ tsp)", "ylabel": "× tsp (lower is better)",
                   "bars": bars(w, "median_ms", ["jobq", "tsp", "nq", "direct"], "tsp"),
                   "targets": [{"value": 1.0, "label": "target: jobq ≤ 1.0× tsp"}]})

    # W4 -----------------------------------------------------------------------------------
    w = "w4"
    t = Table(w, "W4 — resident memory of the queue's own processes", "MiB",
              "tsp's server in the same state",
              "Sum of VmRSS (and of PSS, from /proc/PID/smaps_rollup) over jobq's daemon and its supervisor "
              "process (not the jobs), and over tsp's server process, read 1.5 s after the last event (jobq "
              "gives memory back after a quiet second: freed heap, and the code pages the work mapped). "
              "*idle*: a fresh daemon/server. "
              "*queued*: after W1's enqueue loop (gates excluded). *history*: after N finished `true` jobs "
              "(jobq: one `add --stdin`; tsp: one client per job, `TS_MAXFINISHED=20000`).")
    m = lambda tool, metric: run.per_round(w, tool, metric, 1 / MIB)
    for kind in ["rss", "pss"]:
        K = kind.upper()
        idle, queued, hist = m("jobq", f"idle_{kind}_kib"), m("jobq", f"queued_{kind}_kib"), m("jobq", f"history_{kind}_kib")
        w1_idle = m("jobq", f"w1_idle_{kind}_kib")
        t_idle, t_queued, t_hist = m("tsp", f"idle_{kind}_kib"), m("tsp", f"queued_{kind}_kib"), m("tsp", f"history_{kind}_kib")
        t.tool_row(f"jobq idle ({K}, daemon + supervisor)", idle, run.ratio(idle, t_idle), ("<=", 10.0),
                   target_name=f"W4 jobq idle {K}")
        t.tool_row(f"jobq, W1's jobs queued ({K})", queued, run.ratio(queued, t_queued))
        delta = run.diff(queued, w1_idle)
        t.tool_row(f"jobq: growth from W1's queued jobs ({K})", delta, None, ("<=", 2.0),
                   target_name=f"W4 jobq growth from queued jobs {K}")
        t.tool_row(f"jobq after the finished history ({K})", hist, run.ratio(hist, t_hist))
        busy = m("jobq", f"history_busy_{kind}_kib")
        if busy:
            t.tool_row(f"jobq just as the history finished, before its idle trim ({K}; information only)", busy,
                       run.ratio(busy, t_hist))
        growth = run.diff(hist, idle)
        t.tool_row(f"jobq: growth from the history ({K})", growth, None, ("<=", 1.0),
                   target_name=f"W4 jobq growth from history {K}")
        t.tool_row(f"tsp server idle ({K}; baseline)", t_idle)
        t.tool_row(f"tsp server, W1's jobs queued ({K}; baseline)", t_queued)
        t.tool_row(f"tsp server after the finished history ({K}; baseline)", t_hist)
    procs = summary(run.per_round(w, "tsp_clients", "queued_procs").values())
    t.tool_row("tsp's waiting client processes, W1's jobs queued (PSS)", m("tsp_clients", "queued_pss_kib"), None,
               note=f"{procs['median']:.0f} processes" if procs else "")
    procs = summary(run.per_round(w, "nq_procs", "queued_procs").values())
    t.tool_row("nq's waiting processes, W1's jobs queued (PSS)", m("nq_procs", "queued_pss_kib"), None,
               note=f"{procs['median']:.0f} processes" if procs else "")
    t.na_row("nq server memory", "nq has no server: its queue is one or two waiting processes per job (row above)")
    t.notes.append("“No growth with history size” is read as: growth after the history ≤ 1 MiB (RSS); "
                   "the 10 MiB and 2 MiB targets are checked on RSS and PSS alike.")
    tables.append(t)
    mem_bars = []
    for label, tool, metric in [("jobq idle", "jobq", "idle_rss_kib"), ("jobq queued", "jobq", "queued_rss_kib"),
                                ("jobq history", "jobq", "history_rss_kib"), ("tsp idle", "tsp", "idle_rss_kib"),
                                ("tsp queued", "tsp", "queued_rss_kib"), ("tsp history", "tsp", "history_rss_kib")]:
        s = summary(m(tool, metric).values())
        if s:
            mem_bars.append({"label": label, **{k: s[k] for k in ("median", "min", "max")}})
    panels.append({"title": "W4 memory of daemon + helpers (RSS, MiB)", "ylabel": "MiB (lower is better)",
                   "bars": mem_bars, "targets": [{"value": 10.0, "label": "target: jobq idle ≤ 10 MiB"}],
                   "absolute": True})

    # W5 -----------------------------------------------------------------------------------
    w = "w5_hist"
    t = Table(w, "W5 — list the whole finished history (W4's queues)", "ms", "tsp -l",
              "hyperfine `-N` (no shell), output through a pipe, warmup then timed runs; per round the "
              "median run. jobq: `jobq list` (the table, every job); tsp: `tsp -l` over its finished jobs.")
    base = run.per_round(w, "tsp_l", "median_ms")
    jq = run.per_round(w, "jobq_list", "median_ms")
    t.tool_row(LABELS["jobq_list"], jq, run.ratio(jq, base))
    t.tool_row(LABELS["tsp_l"], base, run.ratio(base, base))
    t.na_row("nq", "nq has no list command (its history is a folder of output files); left out rather than "
                   "timing `ls`, which is not the same work")
    t.ratio_row("jobq / tsp", run.ratio(jq, base), ("<=", 0.5), "W5 list history: jobq/tsp")
    tables.append(t)
    panels.append({"title": "W5 list the history (time, ÷ tsp -l)", "ylabel": "× tsp (lower is better)",
                   "bars": bars(w, "median_ms", ["jobq_list", "tsp_l"], "tsp_l"),
                   "targets": [{"value": 0.5, "label": "target: jobq ≤ 0.5× tsp"}]})

    w = "w5_big"
    jobs = run.meta.get("big_history_jobs", "?")
    t = Table(w, f"W5 — newest 50 of a {int(jobs):,}-job history" if jobs.isdigit() else "W5 — large history",
              "ms", "jobq --version (process start)",
              "hyperfine `-N`, output through a pipe; per round the median run. The history is built once per "
              f"run: `jobq add --stdin` in batches of 100,000 (one transaction each; {run.meta.get('big_history_add_s', '?')} s), "
              "then jobs are marked done (95 %) or failed with reason `exit` (5 %) directly in SQLite by "
              f"`bench/lib/mark_history.py` (whole build {run.meta.get('big_history_total_s', '?')} s). No daemon runs.")
    base = run.per_round(w, "version", "median_ms")
    for tool, tgt in [("list50", ("<=", 20.0)), ("errors50", ("<=", 20.0)), ("list50_json", None), ("version", None)]:
        v = run.per_round(w, tool, "median_ms")
        t.tool_row(LABELS[tool], v, run.ratio(v, base), tgt, target_name=f"W5 {LABELS[tool]} at {jobs} jobs")
    tables.append(t)
    big_bars = []
    for tool in ["list50", "errors50", "list50_json", "version"]:
        s = summary(run.per_round(w, tool, "median_ms").values())
        if s:
            big_bars.append({"label": tool, **{k: s[k] for k in ("median", "min", "max")}})
    panels.append({"title": f"W5 newest 50 of {jobs} jobs (ms)", "ylabel": "ms (lower is better)",
                   "bars": big_bars, "targets": [{"value": 20.0, "label": "target: ≤ 20 ms"}], "absolute": True})

    # Bulk ---------------------------------------------------------------------------------
    w = "bulk"
    t = Table(w, "Bulk — one `jobq add --stdin`", "jobs/s",
              "the C one-transaction insert",
              "One `jobq add --stdin` of N distinct command lines (~75 bytes), one transaction: into a home "
              "whose daemon runs with both slots busy (the queue holds the jobs, as in W1; the add leaves "
              "copying the write-ahead log into the database file to the daemon, which logs how long it took: "
              "the second row adds that time), and into a fresh home with no daemon (the add leaves that copy "
              "to a detached `jobq copy-log`, which removes the log when it is done: the fourth row counts "
              "until then). Baseline: the C program inserting N ~200-byte rows "
              "in one transaction into a fresh WAL database (`synchronous=FULL`; it copies the log when it "
              "closes).")
    base = run.per_round(w, "sqlite_insert", "jobs_per_s")
    with_daemon = run.per_round(w, "jobq_daemon", "jobs_per_s")
    alone = run.per_round(w, "jobq", "jobs_per_s")
    with_copy = run.per_round(w, "jobq_daemon_with_copy", "jobs_per_s")
    t.tool_row("jobq add --stdin, daemon running", with_daemon, run.ratio(with_daemon, base), (">=", 250000.0),
               target_name="Bulk add --stdin (daemon running)")
    if with_copy:
        t.tool_row("the same, counting the daemon's log copy afterwards", with_copy, run.ratio(with_copy, base))
    t.tool_row("jobq add --stdin, no daemon", alone, run.ratio(alone, base), (">=", 250000.0),
               target_name="Bulk add --stdin (no daemon)")
    alone_with_copy = run.per_round(w, "jobq_with_copy", "jobs_per_s")
    if alone_with_copy:
        t.tool_row("the same, until its detached log copy is done", alone_with_copy, run.ratio(alone_with_copy, base))
    t.tool_row("C: rows in one transaction (baseline)", base, run.ratio(base, base))
    tables.append(t)
    bulk_bars = []
    for label, tool in [("jobq,\ndaemon", "jobq_daemon"), ("jobq, daemon,\n+ its copy", "jobq_daemon_with_copy"),
                        ("jobq,\nno daemon", "jobq"), ("jobq, no daemon,\n+ its copy", "jobq_with_copy"),
                        ("C, one\ntransaction", "sqlite_insert")]:
        s = summary(run.per_round(w, tool, "jobs_per_s").values())
        if s:
            bulk_bars.append({"label": label, **{k: s[k] / 1000 for k in ("median", "min", "max")}})
    panels.append({"title": "Bulk add (thousand jobs/s)", "ylabel": "k jobs/s (higher is better)",
                   "bars": bulk_bars, "targets": [{"value": 250.0, "label": "target: jobq ≥ 250k/s"}], "absolute": True})

    targets = [tg for t in tables for tg in t.targets]
    return tables, targets, panels


def markdown(run, tables, targets):
    m = run.meta
    lines = [
        "# jobq benchmark results",
        "",
        f"- **Date**: {m.get('date', 'n/a')}; **run time** {m.get('duration_s', '?')} s; "
        f"**rounds**: {len(run.rounds)}{' (quick: small counts, a smoke check, not a result)' if m.get('quick') == '1' else ''}",
        f"- **Command**: `{m.get('command', 'n/a')}`",
        f"- **Machine**: {m.get('nproc', '?')} cores, {m.get('cpu', '?')}, {m.get('memory', '?')} RAM, "
        f"kernel {m.get('kernel', '?')}, {m.get('os', '?')}; load average before {m.get('load_before', '?')}, "
        f"after {m.get('load_after', '?')}",
        f"- **jobq**: commit {m.get('jobq_commit', '?')}"
        f"{' plus uncommitted changes to its sources' if m.get('jobq_dirty') == '1' else ''}, `jobq --version` {m.get('jobq_version', '?')}, built with `{m.get('jobq_build', '?')}`; "
        f"{m.get('swift', '?')}",
        f"- **Peers**: {m.get('tsp_version', '?').split(' - ')[0]}; packages: {m.get('dpkg', '?')}; {m.get('hyperfine', '?')}; "
        f"SQLite {m.get('sqlite', '?')}",
        f"- **Counts**: {m.get('counts', '?')}",
        "",
        "Every tool gets 2 job slots (nq has none: it runs one job at a time). Each queue lives in its own "
        "temporary home/socket/folder. Within a round the tools run one after another in a random order "
        "(shuffled per workload and round), and a **ratio** is always between two numbers from the same "
        "round; the tables give the median over the rounds and the min–max. "
        "See [bench/README.md](../README.md) for what each workload measures and its caveats.",
        "",
        "## Targets",
        "",
        "| target | median | goal | met? |",
        "|---|---|---|---|",
    ]
    for tg in targets:
        unit = tg["unit"]
        value = tg["median"]
        if unit == "×":
            shown = "n/a" if value is None else f"{value:.3f}×"
            goal = f"{'≤' if tg['op'] == '<=' else '≥'} {tg['threshold']:.1f}×"
        else:
            shown = fmt(value, unit)
            goal = f"{'≤' if tg['op'] == '<=' else '≥'} {fmt(tg['threshold'], unit)}"
        lines.append(f"| {tg['target']} | {shown} | {goal} | {met_text(tg['met'])} |")
    lines += ["", "## Workloads", ""]
    for t in tables:
        lines.append(t.markdown())
    orders = []
    # In the order the workloads ran (the order of their first `_order` row in RAW.tsv).
    for workload, by_round in run.orders.items():
        if workload == "load":
            continue
        orders.append(f"- {workload}: " + "; ".join(f"round {r}: {o}" for r, o in sorted(by_round.items())))
    loads = "; ".join(f"round {r}: {o}" for r, o in sorted(run.orders.get("load", {}).items()))
    lines += ["## Order the tools ran in", ""] + orders
    lines += ["", f"Load average (1, 5, 15 min) at the start of each round: {loads or 'n/a'}. The machine is "
              "shared (another engineer builds and tests on it): a high load means noisier numbers, which the "
              "per-round ratios and the min–max columns are there to show.", "",
              "![ratios per workload](chart.png)", ""]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--raw", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    run = Run(a.raw, a.meta)
    if not run.rounds:
        sys.exit("report.py: no measurements in " + a.raw)
    tables, targets, panels = build(run)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(markdown(run, tables, targets))
    data = {
        "meta": run.meta,
        "rounds": run.rounds,
        "targets": targets,
        "tables": {t.key: {"title": t.title, "unit": t.unit, "baseline": t.baseline_label, "rows": t.json_rows,
                           "notes": t.notes} for t in tables},
        "chart": panels,
        "orders": {w: {str(r): o for r, o in by.items()} for w, by in run.orders.items()},
        "samples": {f"{w}/{tool}": {str(r): xs for r, xs in by.items()} for (w, tool), by in run.samples.items()},
        "raw": run.rows,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(data, f, indent=1, default=lambda o: o)
        f.write("\n")


if __name__ == "__main__":
    main()
