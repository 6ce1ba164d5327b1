"""Plots of a scaling run: throughput and efficiency against workers, and a timeline of the tasks.

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot: no
GUI backend or display is needed (PNG output uses Agg), nothing pops up, and
a notebook shows the returned figure exactly once (as the cell's value).
"""

from __future__ import annotations

import weakref
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from matplotlib.transforms import Bbox, offset_copy

from labapp.bench import BenchRecords
from labapp.engine.heartbeat import natural_key
from labapp.engine.this_process import in_notebook, usable_cores
from labapp.i18n import _, ngettext

MEASURED = "#1f5fa8"
IDEAL = "#8a8a8a"
CORES = "#c0392b"
TASK_COLORS = ("#1f5fa8", "#e08a1e", "#2e8b57", "#8e44ad", "#c0392b", "#17a2b8", "#7f6a00", "#d35f8d")
LABEL_BOX = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8)
POINT_LABEL = "labapp-point-label"  # the gid of a point's value label, which _place_labels moves
LABEL_GAP = 6  # points between a data point and its label
# where a label may go around its point, best first: (x, y) direction, alignment of the text
SPOTS = {
    "above": ((0, 1), "center", "bottom"),
    "below": ((0, -1), "center", "top"),
    "left": ((-1, 0), "right", "center"),
    "right": ((1, 0), "left", "center"),
    "above left": ((-1, 1), "right", "bottom"),
    "above right": ((1, 1), "left", "bottom"),
    "below left": ((-1, -1), "right", "top"),
    "below right": ((1, -1), "left", "top"),
}
THROUGHPUT_SPOTS = ("above", "above left", "below right", "left", "right", "above right", "below", "below left")
EFFICIENCY_SPOTS = ("below", "below left", "below right", "above", "above left", "above right", "left", "right")
_SPOT_ORDER: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # axes -> its spots, best first
LEGEND_DROP = 38  # points from the bottom of an axes to a legend below it: clears ticks and x label


def kind_text(kind: str) -> str:
    """A benchmark's kind of task as its plots name it, in the reader's language."""
    return {"sleep": _("sleep tasks (waiting: I/O-bound)"), "cpu": _("CPU tasks (computing: CPU-bound)")}.get(
        kind, kind
    )


def _kind_short(kind: str) -> str:
    """A kind of task without its explanation: "sleep tasks"."""
    return {"sleep": _("sleep tasks"), "cpu": _("CPU tasks")}.get(kind, kind)


def _meta(records) -> tuple[str | None, float | None, int]:
    """kind, duration and cores of the records; a plain list of points says no kind or duration
    (nothing is invented), and its cores are this machine's."""
    return (
        getattr(records, "kind", None),
        getattr(records, "duration_ms", None),
        getattr(records, "cores", None) or usable_cores(),
    )


def _what(records) -> str:
    kind, duration, _cores = _meta(records)
    what = kind_text(kind) if kind else _("tasks")
    return what if duration is None else _("{what} of {duration:g} ms").format(what=what, duration=duration)


def _batch_text(records) -> str:
    sizes = [p["tasks"] for p in records]
    if len(set(sizes)) == 1:
        return ngettext("{n} tasks per point", "{n} tasks per point", sizes[0]).format(n=sizes[0])
    per_worker = {p["tasks"] / p["workers"] for p in records}
    if len(per_worker) == 1:
        share = sizes[0] // records[0]["workers"]
        return ngettext("{n} tasks per worker at each point", "{n} tasks per worker at each point", share).format(
            n=share
        )
    return _("{low}–{high} tasks per point").format(low=min(sizes), high=max(sizes))


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
    ax.set_xlabel(_("workers (processes, one task at a time each)"))
    ax.axvline(
        cores,
        color=CORES,
        linestyle=":",
        linewidth=1.6,
        zorder=1.5,
        label=ngettext("{n} CPU core on this machine", "{n} CPU cores on this machine", cores).format(n=cores),
    )
    ax.grid(True, alpha=0.3)


def _worker_series(records, ax):
    """The figure and axes to draw on, the core count, and the points sorted by workers."""
    fig, ax = _new_axes(ax)
    cores = _meta(records)[2]
    return fig, ax, cores, sorted(records, key=lambda p: p["workers"])


def throughput_plot(records, ax=None, *, title: str | None = None) -> Figure:
    """Throughput (tasks/s) against workers, with the ideal linear line and the core count."""
    alone = ax is None
    fig, ax, cores, points = _worker_series(records, ax)
    _SPOT_ORDER[ax] = THROUGHPUT_SPOTS
    xs, ys = [p["workers"] for p in points], [p["throughput"] for p in points]
    per_worker = ys[0] / xs[0]
    top = max(xs + [cores]) * 1.08 + 0.2
    ax.plot(
        [0, top],
        [0, per_worker * top],
        color=IDEAL,
        linestyle="--",
        linewidth=1.4,
        label=_("ideal: N × {rate:.1f} tasks/s per worker").format(rate=per_worker),
    )
    ax.plot(xs, ys, "o-", color=MEASURED, linewidth=2.2, markersize=7, label=_("measured"), zorder=3)
    for x, y, p in zip(xs, ys, points):
        _point_label(ax, f"{y:.1f}/s\n({p['efficiency']:.0%})", (x, y))
    _worker_axis(ax, points, cores)
    ax.set_ylim(0, max(max(ys), per_worker * max(xs)) * 1.22)
    ax.set_ylabel(_("throughput (tasks per second)"))
    ax.set_title(
        title
        or _("Throughput vs workers: {what}\n{batch}; in brackets: efficiency").format(
            what=_what(records), batch=_batch_text(points)
        ),
        fontsize=10.5,
    )
    _legend_below(ax)
    if alone:  # in a bigger figure, its maker places the labels once the layout is complete
        _place_labels(fig)
    return fig


def efficiency_plot(records, ax=None, *, title: str | None = None) -> Figure:
    """Efficiency (speedup / workers) against workers; 100% means every worker added its full share."""
    alone = ax is None
    fig, ax, cores, points = _worker_series(records, ax)
    _SPOT_ORDER[ax] = EFFICIENCY_SPOTS
    xs, ys = [p["workers"] for p in points], [p["efficiency"] for p in points]
    ax.axhline(1.0, color=IDEAL, linestyle="--", linewidth=1.4, label=_("ideal: 100%"))
    ax.plot(xs, ys, "o-", color=MEASURED, linewidth=2.2, markersize=7, label=_("measured"), zorder=3)
    for x, y in zip(xs, ys):
        _point_label(ax, f"{y:.0%}", (x, y))
    _worker_axis(ax, points, cores)
    ax.set_ylim(0, max(1.15, max(ys) * 1.15))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(_("efficiency (speedup ÷ workers)"))
    ax.set_title(title or _("Efficiency vs workers: {what}").format(what=_what(records)), fontsize=10.5)
    _legend_below(ax)
    if alone:
        _place_labels(fig)
    return fig


def _point_label(ax, text: str, xy) -> None:
    """A value label beside a data point; _place_labels moves it where it covers nothing."""
    label = ax.annotate(
        text,
        xy,
        textcoords="offset points",
        xytext=(0, LABEL_GAP),
        ha="center",
        va="bottom",
        fontsize=8.5,
        color=MEASURED,
        bbox=LABEL_BOX,
        zorder=4,
        gid=POINT_LABEL,
    )
    label.set_in_layout(False)  # it stays inside the axes: the layout must not depend on where


def _legend_below(ax, ncols: int = 2) -> None:
    """The legend under the axes, below the x label: inside, it would cover points or labels
    wherever the data happen to fall."""
    below = offset_copy(ax.transAxes, fig=ax.figure, y=-LEGEND_DROP, units="points")
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, ncols=ncols, fontsize=8.5, frameon=False
    )


def _place_labels(fig: Figure) -> None:
    """Move every point label of fig to the first of its axes' spots where it crosses no line,
    covers no data point or other label and stays inside the axes. Where a label fits only
    past the edge of its plot, the plot's limits grow to make room, and all are placed again."""
    for _attempt in range(4):
        fig.draw_without_rendering()  # lay the figure out: labels are placed in display space
        grown = False
        for ax in fig.axes:
            placed: list[Bbox] = []
            for label in [t for t in ax.texts if t.get_gid() == POINT_LABEL]:
                box, overflow = _place(label, ax, _SPOT_ORDER.get(ax, tuple(SPOTS)), placed)
                placed.append(box)
                if overflow is not None:
                    _grow_limits(ax, overflow)
                    grown = True
                    break
        if not grown:
            return


def _spots(order):
    """Every spot to try, best first: the near ones in order, then farther out."""
    return [(name, distance) for distance in (1, 2.5, 4) for name in order]


def _put(label, name: str, distance: float) -> Bbox:
    (dx, dy), ha, va = SPOTS[name]
    label.xyann = (dx * LABEL_GAP * distance, dy * LABEL_GAP * distance)
    label.set_horizontalalignment(ha)
    label.set_verticalalignment(va)
    return label_box(label)


def _place(label, ax, order, placed: list[Bbox]):
    """Put one label at its best spot; return its box, and how far past each edge of the plot
    (left, right, bottom, top pixels) it needs room if it fits nowhere inside."""
    frame = ax.get_window_extent()
    fallback = None
    for name, distance in _spots(order):
        box = _put(label, name, distance)
        if not obstacles_hit(box, ax, placed):
            overflow = _overflow(box, frame)
            if not any(overflow):
                return box, None
            fallback = fallback or (name, distance, overflow)
    if fallback is None:  # crowded everywhere, even past the edges: the first spot it is
        return _put(label, *_spots(order)[0]), None
    name, distance, overflow = fallback
    return _put(label, name, distance), overflow


def _overflow(box: Bbox, frame: Bbox) -> tuple[float, float, float, float]:
    """Pixels by which box sticks out of frame on the left, right, bottom and top."""
    return (
        max(0.0, frame.x0 - box.x0),
        max(0.0, box.x1 - frame.x1),
        max(0.0, frame.y0 - box.y0),
        max(0.0, box.y1 - frame.y1),
    )


def _grow_limits(ax, overflow) -> None:
    """Widen the (linear) limits of ax so that overflow pixels, and a few more, fit inside."""
    frame = ax.get_window_extent()
    left, right, bottom, top = (px + 4 if px else 0 for px in overflow)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    per_x = (x1 - x0) / max(1.0, frame.width - left - right)
    per_y = (y1 - y0) / max(1.0, frame.height - bottom - top)
    ax.set_xlim(x0 - left * per_x, x1 + right * per_x)
    ax.set_ylim(y0 - bottom * per_y, y1 + top * per_y)


def label_box(label) -> Bbox:
    """The display box of a point label with its rounded background."""
    pad = label.get_bbox_patch().get_boxstyle().pad * label.get_fontsize() * label.figure.dpi / 72
    return label.get_window_extent().padded(pad + 1)


def obstacles_hit(box: Bbox, ax, others: list[Bbox]) -> list[str]:
    """What box would cross or cover in ax: its lines, its data points, the other boxes."""
    hit = []
    for line in ax.lines:
        path = line.get_transform().transform_path(line.get_path())
        half = line.get_linewidth() * ax.figure.dpi / 72 / 2
        if path.intersects_bbox(box.padded(half), filled=False):
            hit.append(f"line {line.get_label()!r}")
        if line.get_marker() not in (None, "None", "", " "):
            radius = line.get_markersize() * ax.figure.dpi / 72 / 2
            for x, y in line.get_transform().transform(line.get_xydata()):
                if box.padded(radius).contains(x, y):
                    hit.append(f"point ({x:.0f}, {y:.0f}) of {line.get_label()!r}")
    hit += [f"label at {other.bounds}" for other in others if box.overlaps(other)]
    return hit


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
        spans = sorted((t["started"], max(t["finished"] - t["started"], 0.0)) for t in timings if t["worker"] == name)
        color = TASK_COLORS[row[name] % len(TASK_COLORS)]
        # alternate shades so back-to-back tasks on one worker stay distinguishable
        for shade, part in ((1.0, spans[0::2]), (0.6, spans[1::2])):
            if part:
                ax.broken_barh(
                    part, (row[name] - 0.38, 0.76), facecolors=color, alpha=shade, edgecolor=color, linewidth=0.4
                )
    wall = point["wall_s"]
    ax.axvline(
        wall,
        color="black",
        linestyle="--",
        linewidth=1.1,
        label=_("last result read: {seconds:.2f} s").format(seconds=wall),
    )
    last_sent = max(t["submitted"] for t in timings)
    ax.axvspan(
        0, last_sent, color=IDEAL, alpha=0.15, label=_("sending the batch: {seconds:.2f} s").format(seconds=last_sent)
    )
    ax.set_yticks(range(len(names)), [labels[n] for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, wall * 1.04)
    ax.set_xlabel(_("time since the first task was sent (s)"))
    ax.set_ylabel(_("worker"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _position: f"{v:g}"))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12))
    ax.grid(True, axis="x", alpha=0.3)
    what = _kind_short(kind) if kind is not None else _("tasks")
    if kind is not None and duration_ms is not None:
        batch = _("{n} {what} of {duration:g} ms").format(n=point["tasks"], what=what, duration=duration_ms)
    else:
        batch = _("{n} {what}").format(n=point["tasks"], what=what)
    n = point["workers"]
    runs = [t["finished"] - t["started"] for t in timings]
    ax.set_title(
        ngettext(
            "Which worker ran which task: {batch} on {n} worker: {throughput:.1f} tasks/s, "
            "each task ran {average:.0f} ms on average",
            "Which worker ran which task: {batch} on {n} workers: {throughput:.1f} tasks/s, "
            "each task ran {average:.0f} ms on average",
            n,
        ).format(batch=batch, n=n, throughput=point["throughput"], average=sum(runs) / len(runs) * 1000),
        fontsize=10.5,
    )
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22 if len(names) > 3 else -0.35),
        ncols=2,
        fontsize=8.5,
        frameon=False,
    )
    return fig


def response_time_plot(loads, blocking: dict, queued: dict) -> Figure:
    """Lesson 01: the slowest and fastest response against simultaneous clients, for the blocking
    and the queued endpoint (seconds per client, keyed by the number of clients), log scale."""
    fig, ax = _new_axes(None, size=(7, 4.6))
    loads = sorted(loads)
    for slowest, fastest, times, color in (
        (_("blocking: POST /blocking/factorial (200 when done): slowest"), _("blocking: fastest"), blocking, "#c62828"),
        (_("queued: POST /factorial (202 at once): slowest"), _("queued: fastest"), queued, "#1565c0"),
    ):
        ax.plot(loads, [max(times[n]) for n in loads], "o-", color=color, label=slowest)
        ax.plot(loads, [min(times[n]) for n in loads], "o:", color=color, alpha=0.5, label=fastest)
    ax.set_yscale("log")
    ax.set_xticks(loads)
    ax.set_xlabel(_("clients sending at the same moment"))
    ax.set_ylabel(_("response time (s, log scale)"))
    ax.set_title(_("20000! per request: response time against load"), fontsize=10.5)
    ax.grid(True, alpha=0.3)
    _legend_below(ax, ncols=1)
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
    throughput_plot(
        records,
        fig.add_subplot(grid[0, 0]),
        title=_("Throughput vs workers ({batch}; in brackets: efficiency)").format(batch=_batch_text(points)),
    )
    efficiency_plot(
        records,
        fig.add_subplot(grid[0, 1]),
        title=_("Efficiency vs workers (100% = each added worker adds its full share)"),
    )
    timeline_plot(chosen, fig.add_subplot(grid[1, :]), kind=kind, duration_ms=duration)
    fig.suptitle(
        ngettext("Scaling benchmark: {what}, {n} CPU core", "Scaling benchmark: {what}, {n} CPU cores", cores).format(
            what=_what(records), n=cores
        ),
        fontsize=13,
        fontweight="bold",
    )
    _place_labels(fig)  # again: the layout moved when the other plots came
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
