"""Plots of a scaling run: throughput and efficiency against workers, and a timeline of the tasks.

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot: no
GUI backend or display is needed (PNG output uses Agg), nothing pops up, and
a notebook shows the returned figure exactly once (as the cell's value).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from .bench_records import BenchRecords
from .heartbeat import natural_key
from .host import in_notebook, usable_cores

MEASURED = "#1f5fa8"
IDEAL = "#8a8a8a"
CORES = "#c0392b"
TASK_COLORS = ("#1f5fa8", "#e08a1e", "#2e8b57", "#8e44ad", "#c0392b", "#17a2b8", "#7f6a00", "#d35f8d")
LABEL_BOX = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8)
KIND_TEXT = {"sleep": "sleep tasks (waiting: I/O-bound)", "cpu": "CPU tasks (computing: CPU-bound)"}


def _meta(records) -> tuple[str | None, float | None, int]:
    """kind, duration and cores of the records; a plain list of points says no kind or duration
    (nothing is invented), and its cores are this machine's."""
    return (getattr(records, "kind", None), getattr(records, "duration_ms", None),
            getattr(records, "cores", None) or usable_cores())


def _what(records) -> str:
    kind, duration, _ = _meta(records)
    what = KIND_TEXT.get(kind, kind) if kind else "tasks"
    return what if duration is None else f"{what} of {duration:g} ms"


def _batch_text(records) -> str:
    sizes = [p["tasks"] for p in records]
    if len(set(sizes)) == 1:
        return f"{sizes[0]} tasks per point"
    per_worker = {p["tasks"] / p["workers"] for p in records}
    if len(per_worker) == 1:
        return f"{sizes[0] // records[0]['workers']} tasks per worker at each point"
    return f"{min(sizes)}–{max(sizes)} tasks per point"


def _notebook_display() -> None:
    """In a Jupyter kernel, make returned figures show as images, not as '<Figure ...>' text."""
    if not in_notebook():
        return
    from IPython import get_ipython
    from IPython.core.pylabtools import print_figure

    # the inline backend registers this formatter only when pyplot loads it, and our
    # figures never go through pyplot (which is also why none is shown twice)
    png = get_ipython().display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        png.for_type(Figure, lambda fig: print_figure(fig, "png"))


def _new_figure(size) -> Figure:
    _notebook_display()
    return Figure(figsize=size, layout="constrained")


def _new_axes(ax, size=(7, 4.5)):
    if ax is not None:
        return ax.figure, ax
    fig = _new_figure(size)
    return fig, fig.add_subplot()


def _worker_axis(ax, records, cores: int) -> None:
    counts = sorted({p["workers"] for p in records})
    ax.set_xticks(counts)
    ax.set_xlim(0, max(counts + [cores]) * 1.08 + 0.2)
    ax.set_xlabel("workers (processes, one task at a time each)")
    ax.axvline(cores, color=CORES, linestyle=":", linewidth=1.6,
               label=f"{cores} CPU core{'s' if cores > 1 else ''} on this machine")
    ax.grid(True, alpha=0.3)


def _worker_series(records, ax):
    """The figure and axes to draw on, the core count, and the points sorted by workers."""
    fig, ax = _new_axes(ax)
    _, _, cores = _meta(records)
    return fig, ax, cores, sorted(records, key=lambda p: p["workers"])


def throughput_plot(records, ax=None, *, title: str | None = None) -> Figure:
    """Throughput (tasks/s) against workers, with the ideal linear line and the core count."""
    fig, ax, cores, points = _worker_series(records, ax)
    xs, ys = [p["workers"] for p in points], [p["throughput"] for p in points]
    per_worker = ys[0] / xs[0]
    top = max(xs + [cores]) * 1.08 + 0.2
    ax.plot([0, top], [0, per_worker * top], color=IDEAL, linestyle="--", linewidth=1.4,
            label=f"ideal: N × {per_worker:.1f} tasks/s per worker")
    ax.plot(xs, ys, "o-", color=MEASURED, linewidth=2.2, markersize=7, label="measured", zorder=3)
    for x, y, p in zip(xs, ys, points):
        ax.annotate(f"{y:.1f}/s\n({p['efficiency']:.0%})", (x, y), textcoords="offset points",
                    xytext=(0, 9), ha="center", fontsize=8.5, color=MEASURED, bbox=LABEL_BOX)
    _worker_axis(ax, points, cores)
    ax.set_ylim(0, max(max(ys), per_worker * max(xs)) * 1.22)
    ax.set_ylabel("throughput (tasks per second)")
    ax.set_title(title or f"Throughput vs workers: {_what(records)}\n{_batch_text(points)}; "
                          "in brackets: efficiency", fontsize=10.5)
    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.9)
    return fig


def efficiency_plot(records, ax=None, *, title: str | None = None) -> Figure:
    """Efficiency (speedup / workers) against workers; 100% means every worker added its full share."""
    fig, ax, cores, points = _worker_series(records, ax)
    xs, ys = [p["workers"] for p in points], [p["efficiency"] for p in points]
    ax.axhline(1.0, color=IDEAL, linestyle="--", linewidth=1.4, label="ideal: 100%")
    ax.plot(xs, ys, "o-", color=MEASURED, linewidth=2.2, markersize=7, label="measured", zorder=3)
    for x, y in zip(xs, ys):
        ax.annotate(f"{y:.0%}", (x, y), textcoords="offset points", xytext=(0, -17),
                    ha="center", fontsize=8.5, color=MEASURED, bbox=LABEL_BOX)
    _worker_axis(ax, points, cores)
    ax.set_ylim(0, max(1.15, max(ys) * 1.1))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("efficiency (speedup ÷ workers)")
    ax.set_title(title or f"Efficiency vs workers: {_what(records)}", fontsize=10.5)
    ax.legend(loc="lower left", fontsize=8.5, framealpha=0.9)
    return fig


def _short_names(names: list[str]) -> dict[str, str]:
    hosts = {name.split("@", 1)[1] for name in names if "@" in name}
    return {name: name.split("@", 1)[0] if len(hosts) <= 1 else name for name in names}


def timeline_plot(point: dict, ax=None, *, kind: str | None = None, duration_ms: float | None = None) -> Figure:
    """Gantt chart of one point: a row per worker, a bar per task from its start to its end."""
    fig, ax = _new_axes(ax, size=(9, 1.2 + 0.38 * max(2, len(point.get("workers_seen", [])))))
    timings = point["timings"]
    names = sorted({t["worker"] for t in timings}, key=natural_key)
    labels = _short_names(names)
    row = {name: i for i, name in enumerate(names)}
    for name in names:
        spans = sorted((t["started"], max(t["finished"] - t["started"], 0.0))
                       for t in timings if t["worker"] == name)
        color = TASK_COLORS[row[name] % len(TASK_COLORS)]
        # alternate shades so back-to-back tasks on one worker stay distinguishable
        for shade, part in ((1.0, spans[0::2]), (0.6, spans[1::2])):
            if part:
                ax.broken_barh(part, (row[name] - 0.38, 0.76), facecolors=color, alpha=shade,
                               edgecolor=color, linewidth=0.4)
    wall = point["wall_s"]
    ax.axvline(wall, color="black", linestyle="--", linewidth=1.1,
               label=f"last result read: {wall:.2f} s")
    last_sent = max(t["submitted"] for t in timings)
    ax.axvspan(0, last_sent, color=IDEAL, alpha=0.15, label=f"sending the batch: {last_sent:.2f} s")
    ax.set_yticks(range(len(names)), [labels[n] for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, wall * 1.04)
    ax.set_xlabel("time since the first task was sent (s)")
    ax.set_ylabel("worker")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12))
    ax.grid(True, axis="x", alpha=0.3)
    what = ""
    if kind is not None:
        what = f" {KIND_TEXT.get(kind, kind).split(' (')[0]}"
        if duration_ms is not None:
            what += f" of {duration_ms:g} ms"
    n = point["workers"]
    runs = [t["finished"] - t["started"] for t in timings]
    ax.set_title(f"Which worker ran which task: {point['tasks']}{what or ' tasks'} on {n} "
                 f"worker{'s' if n > 1 else ''}: {point['throughput']:.1f} tasks/s, "
                 f"each task ran {sum(runs) / len(runs) * 1000:.0f} ms on average", fontsize=10.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 if len(names) > 3 else -0.35),
              ncols=2, fontsize=8.5, frameon=False)
    return fig


def summary_figure(records, timeline_workers: int | None = None) -> Figure:
    """Throughput and efficiency side by side, and the timeline of the largest point below."""
    kind, duration, cores = _meta(records)
    points = sorted(records, key=lambda p: p["workers"])
    chosen = next((p for p in points if p["workers"] == timeline_workers), points[-1])
    rows = max(2, len(chosen.get("workers_seen", [])) or chosen["workers"])
    fig = _new_figure((12, 5.2 + 0.3 * rows))
    grid = fig.add_gridspec(2, 2, height_ratios=[4.2, 0.9 + 0.3 * rows])
    records = points_with_meta(records)
    throughput_plot(records, fig.add_subplot(grid[0, 0]),
                    title=f"Throughput vs workers ({_batch_text(points)}; in brackets: efficiency)")
    efficiency_plot(records, fig.add_subplot(grid[0, 1]),
                    title="Efficiency vs workers (100% = each added worker adds its full share)")
    timeline_plot(chosen, fig.add_subplot(grid[1, :]), kind=kind, duration_ms=duration)
    fig.suptitle(f"Scaling benchmark: {_what(records)}, {cores} CPU core{'s' if cores > 1 else ''}",
                 fontsize=13, fontweight="bold")
    return fig


def points_with_meta(records):
    """The records themselves if they carry kind/duration/cores, else wrapped with defaults."""
    if hasattr(records, "kind"):
        return records
    return BenchRecords(records)


def save_summary(records, path, dpi: int = 120) -> Path:
    """Render summary_figure to a PNG (or any format matplotlib knows by the suffix); return the path."""
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")  # what matplotlib would write; return the real name
    summary_figure(records).savefig(path, dpi=dpi)
    return path
