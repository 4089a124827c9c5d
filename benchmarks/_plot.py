"""The benchmark's plot: latency and throughput per client, as a PNG beside RESULTS.md.

Drawn with matplotlib (in the ``bench`` extra) on its non-interactive Agg backend; imported
only by ``run.py`` when it writes the plot. Every value is a median with its range drawn as an
error bar, from the same runs as the tables.
"""

from __future__ import annotations

from pathlib import Path

from _harness import Section, Spread


def _errors(values: list[Spread]) -> list[list[float]]:
    return [[v.median - v.low for v in values], [v.high - v.median for v in values]]


def write_plot(sections: list[Section], path: Path, *, title: str) -> bool:
    """Draw what sections a and b measured; False when they did not run (nothing written).

    Args:
        sections: the suite's sections; those with ``plot`` data are drawn.
        path: the PNG to write.
        title: the figure's title (machine and date).

    Returns:
        Whether the plot was written.
    """
    latency: dict[str, dict[str, Spread]] = {}
    throughput: dict[str, dict[str, Spread]] = {}
    for section in sections:
        for client, values in section.plot.get("latency", {}).items():
            latency.setdefault(client, {}).update(values)
        throughput.update(section.plot.get("throughput", {}))
    if not latency and not throughput:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
    clients = list(latency)
    ops = sorted({op for values in latency.values() for op in values})
    width = 0.8 / max(1, len(ops))
    for index, op in enumerate(ops):
        values = [latency[c].get(op, Spread(0, 0, 0)) for c in clients]
        positions = [i + (index - (len(ops) - 1) / 2) * width for i in range(len(clients))]
        left.bar(
            positions,
            [v.median for v in values],
            width,
            yerr=_errors(values),
            capsize=3,
            label=f"sessions.{op}",
        )
    left.set_xticks(range(len(clients)), clients, rotation=25, ha="right")
    left.set_ylabel("µs per call, one at a time (lower is better)")
    left.set_title("Latency, sequential")
    left.legend()
    left.grid(axis="y", alpha=0.3)
    for series, points in throughput.items():
        levels = list(points)
        values = [points[level] for level in levels]
        right.errorbar(
            [int(level) for level in levels],
            [v.median for v in values],
            yerr=_errors(values),
            marker="o",
            capsize=3,
            label=series,
        )
    right.set_xscale("log", base=2)
    right.set_xlabel("calls in flight on one event loop (pool: 100 connections)")
    right.set_ylabel("calls per second (higher is better)")
    right.set_title("Throughput, AsyncBpcPay vs raw aiohttp")
    right.legend(fontsize="small")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
