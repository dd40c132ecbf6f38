"""``atomicmetrics bench --plot``: ns/op by candidate and thread count, grouped.

One panel per group, one horizontal bar per (candidate, thread count) on a
log scale, the floor drawn as a dotted line per thread count. matplotlib is
imported lazily (it is an optional dependency: the ``bench`` extra).
"""

from __future__ import annotations

import importlib
from typing import Any

from atomicmetrics.bench.harness import Measurement, Report

__all__ = ["plot"]


def plot(report: Report, path: str) -> None:
    """Draw ``report`` into the PNG at ``path`` (ImportError without matplotlib)."""
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")

    groups: dict[str, list[Measurement]] = {}
    for m in report.ordered():
        if m.candidate.kind != "floor":
            groups.setdefault(m.candidate.group, []).append(m)
    threads = sorted({m.threads for m in report.measurements})
    palette = plt.get_cmap("tab10")
    color_of = {t: palette(i % 10) for i, t in enumerate(threads)}
    heights = [len(ms) + len({m.candidate.name for m in ms}) for ms in groups.values()]
    fig, axes = plt.subplots(
        len(groups) or 1,
        1,
        figsize=(11, 1.2 + 0.16 * sum(heights) + 0.5 * len(groups)),
        gridspec_kw={"height_ratios": heights or [1]},
        squeeze=False,
    )
    env = report.environment
    build = "free-threaded" if env["free_threaded_build"] else "GIL"
    fig.suptitle(
        f"atomicmetrics bench: ns per operation per thread (log scale, lower is better)\n"
        f"Python {env['python'].split()[0]} ({build} build), {env['cpu_count']} CPUs, "
        f"{env['cpu_model']}",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    for ax, (group, ms) in zip(axes[:, 0], groups.items(), strict=False):
        ticks: list[float] = []
        names: list[str] = []
        row = 0
        for name in dict.fromkeys(m.candidate.name for m in ms):
            mine = [m for m in ms if m.candidate.name == name]
            ticks.append(-(row + (len(mine) - 1) / 2))
            names.append(name)
            for m in mine:
                ax.barh(
                    -row,
                    m.ns_per_op,
                    height=0.85,
                    color=color_of[m.threads],
                    edgecolor="black" if m.candidate.kind == "ours" else "none",
                    linewidth=0.8,
                )
                ax.text(m.ns_per_op, -row, f" {_short_ns(m.ns_per_op)}", va="center", fontsize=7)
                row += 1
            row += 1
        ax.set_xscale("log")
        ax.set_yticks(ticks)
        ax.set_yticklabels(names, fontsize=8)
        ax.set_title(group, loc="left", fontsize=9, fontweight="bold")
        for t in sorted({m.threads for m in ms}):
            f = report.floor(t)
            if f is not None:
                ax.axvline(f.ns_per_op, color=color_of[t], linestyle=":", linewidth=1)
        ax.grid(axis="x", which="major", alpha=0.3)
        ax.margins(x=0.15)
    handles = [plt.Rectangle((0, 0), 1, 1, color=color_of[t]) for t in threads]
    fig.legend(
        handles,
        [f"{t} thread{'s' if t > 1 else ''}" for t in threads],
        loc="upper right",
        ncol=min(4, len(threads)),
        fontsize=8,
        title="bars: ours outlined; dotted lines: the floor",
        title_fontsize=7,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"
