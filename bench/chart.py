#!/usr/bin/env python3
"""chart.py RESULTS.json OUT.png — one panel per workload, from the "chart" part of results.json.

Ratio panels show each tool over task-spooler in the same round (median bar, min–max whisker),
so jobq, its peers and the baselines sit on one scale with the target line drawn; the memory,
large-history and bulk panels are absolute, with their absolute target. jobq's bar is the
dark one.
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {
    "jobq": "jobq", "tsp": "tsp", "nq": "nq\n(1 slot)", "sqlite_insert": "C insert", "xargs": "xargs\n-P2",
    "spawn_loop": "spawn\nloop", "durable": "durable\nfloor", "direct": "direct", "jobq_list": "jobq\nlist", "tsp_l": "tsp -l",
    "list50": "list\n--limit 50", "errors50": "errors\n--limit 50", "list50_json": "list 50\n--json",
    "version": "--version\n(start)",
}


def colour(label):
    if label.startswith("jobq") or label in ("list50", "errors50", "list50_json"):
        return "#1f4e79"
    if label.startswith("tsp"):
        return "#c55a11"
    if label == "nq":
        return "#7f7f7f"
    return "#a9c4e4"  # baselines and references


def main(src, dst):
    with open(src) as f:
        data = json.load(f)
    panels = data["chart"]
    cols = 3
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.1 * rows))
    axes = list(axes.flat) if hasattr(axes, "flat") else [axes]
    for ax, panel in zip(axes, panels):
        bars = panel["bars"]
        labels = [NAMES.get(b["label"], b["label"]) for b in bars]
        medians = [b["median"] for b in bars]
        low = [b["median"] - b["min"] for b in bars]
        high = [b["max"] - b["median"] for b in bars]
        x = range(len(bars))
        ax.bar(x, medians, yerr=[low, high], capsize=3, color=[colour(b["label"]) for b in bars],
               edgecolor="black", linewidth=0.5)
        # The scale follows the medians and targets; a whisker far above them (one noisy round)
        # is cut at the top and its maximum written there, rather than squashing every bar.
        targets = [t["value"] for t in panel.get("targets", [])]
        top = max(medians + targets + [1.0]) * 1.35
        top = min(top, max([b["max"] for b in bars] + targets + [1.0]) * 1.12)
        for i, b in enumerate(bars):
            v = b["median"]
            text = f"{v:.2f}" if v < 10 else f"{v:.0f}"
            if v > top * 0.12:  # the median inside its bar, clear of whiskers and lines
                ax.text(i, v / 2, text, ha="center", va="center", fontsize=8, color="white", fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": "black", "alpha": 0.35, "linewidth": 0})
            else:  # too short a bar: above its whisker
                ax.annotate(text, (i, b["max"]), textcoords="offset points", xytext=(0, 2), ha="center",
                            va="bottom", fontsize=8)
            if b["max"] > top:
                ax.annotate(f"max {b['max']:.2f} ↑" if b["max"] < 10 else f"max {b['max']:.0f} ↑", (i, top),
                            textcoords="offset points", xytext=(0, -2), ha="center", va="top", fontsize=7)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
        for target in panel.get("targets", []):
            ax.axhline(target["value"], color="#c00000", linestyle=":" if target.get("style") == "dotted" else "--",
                       linewidth=1.2, label=target["label"])
        if not panel.get("absolute"):
            ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_ylim(0, top)
        # Targets named under the title (red lines: dashed, or dotted for a second one), so that
        # no legend box hides a bar.
        names = [("dotted: " if t.get("style") == "dotted" else "dashed: ") + t["label"].replace("target: ", "")
                 for t in panel.get("targets", [])]
        subtitle = ("target (red " + "; ".join(names) + ")") if names else "no target"
        ax.set_title(panel["title"] + "\n" + subtitle, fontsize=9)
        ax.set_ylabel(panel["ylabel"], fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.axis("off")
    meta = data.get("meta", {})
    fig.suptitle(f"jobq {meta.get('jobq_commit', '')} vs task-spooler, nq and raw baselines — "
                 f"{meta.get('nproc', '?')} cores, {len(data.get('rounds', []))} round(s), "
                 f"median [min–max] over the rounds: per-round ratios, or absolute values where the axis gives a unit",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
