"""Scaling benchmark: run the same kind of batch at several worker counts and measure throughput.

Definitions (what the records and plots report):

- wall_s: from the first task sent to the last result read, on this machine's clock;
- throughput: tasks / wall_s;
- speedup: throughput relative to the point with the fewest workers, scaled as if
  that point were perfectly efficient (with a 1-worker point: throughput / throughput(1));
- efficiency: speedup / workers (1.0 = every added worker added its full share).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from celery.result import ResultSet

from labapp.engine.heartbeat import natural_key
from labapp.engine.this_process import in_notebook, usable_cores
from labapp.i18n import _, ngettext

# usable_cores is part of what a notebook measures with: lessons import it from here
__all__ = [
    "BenchRecords",
    "Progress",
    "batch_size",
    "column_labels",
    "default_rounds",
    "kind_label",
    "parse_workers",
    "run_batch",
    "run_scaling",
    "summarize",
    "usable_cores",
    "warm_up",
]

TASKS = {"sleep": "labapp.tasks.sleep_ms", "cpu": "labapp.tasks.cpu_ms"}
COLUMNS = (
    ("workers", "workers", "{:d}"),
    ("tasks", "tasks", "{:d}"),
    ("wall_s", "wall s", "{:.2f}"),
    ("throughput", "tasks/s", "{:.1f}"),
    ("speedup", "speedup", "{:.2f}"),
    ("efficiency", "efficiency", "{:.0%}"),
)


def column_labels() -> list[str]:
    """The scaling table's column headers in the reader's language (COLUMNS keeps the English)."""
    return [_("workers"), _("tasks"), _("wall s"), _("tasks/s"), _("speedup"), _("efficiency")]


class BenchRecords(list):
    """The points of one scaling run (dicts), with what was measured; prints as a table."""

    def __init__(
        self, points=(), *, kind: str | None = None, duration_ms: float | None = None, cores: int | None = None
    ):
        super().__init__(points)
        self.kind = kind
        self.duration_ms = duration_ms
        self.cores = cores or usable_cores()

    @property
    def title(self) -> str:
        """What was measured, in one line."""
        what = _("{kind} tasks").format(kind=self.kind) if self.kind else _("tasks")
        if self.duration_ms is not None:
            what = _("{what} of {duration:g} ms").format(what=what, duration=self.duration_ms)
        return _("{what} on {cores} CPU cores").format(what=what, cores=self.cores)

    def table(self) -> str:
        """The records as a plain-text table."""
        rows = [column_labels()]
        rows += [[fmt.format(p[key]) for key, _label, fmt in COLUMNS] for p in self]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
        return "\n".join([_("Scaling benchmark: {what}").format(what=self.title), *lines])

    __str__ = __repr__ = table

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{label}</th>" for label in column_labels())
        body = "".join(
            "<tr>" + "".join(f"<td>{fmt.format(p[key])}</td>" for key, _label, fmt in COLUMNS) + "</tr>" for p in self
        )
        title = _("<b>Scaling benchmark</b>: {what}").format(what=self.title)
        return f"<p>{title}</p><table><tr>{head}</tr>{body}</table>"

    def to_dict(self) -> dict:
        """Everything, JSON-ready: what was measured, where, and the points."""
        import celery

        return {
            "kind": self.kind,
            "task": TASKS.get(self.kind),
            "duration_ms": self.duration_ms,
            "cores": self.cores,
            "python": platform.python_version(),
            "celery": celery.__version__,
            "platform": platform.platform(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "points": list(self),
        }

    def save_json(self, path) -> Path:
        """Write to_dict() as JSON; return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load_json(cls, path) -> "BenchRecords":
        """Read records written by save_json."""
        data = json.loads(Path(path).read_text())
        return cls(data["points"], kind=data["kind"], duration_ms=data["duration_ms"], cores=data.get("cores"))


def kind_label(kind: str) -> str:
    """A benchmark kind as `labapp bench` names it: "sleep (waiting, I/O-bound)"."""
    return {"sleep": _("sleep (waiting, I/O-bound)"), "cpu": _("cpu (computing, CPU-bound)")}.get(kind, kind)


TARGET_POINT_S = 1.5  # the default batch keeps every worker busy this long at each point
MIN_ROUNDS, MAX_ROUNDS = 3, 200
SMALLEST_TASK_S = 0.005  # what a sleep-0 task costs end to end, roughly, to size default batches
WARMUP_MS = 100
PROGRESS_INTERVAL_S = 0.1


# ------------------------------------------------------------------ arithmetic
def default_rounds(duration_ms: float) -> int:
    """Tasks per worker so that each point lasts about TARGET_POINT_S."""
    per_task = max(duration_ms / 1000, SMALLEST_TASK_S)
    return max(MIN_ROUNDS, min(MAX_ROUNDS, round(TARGET_POINT_S / per_task)))


def batch_size(workers: int, tasks: int | None, duration_ms: float) -> int:
    """Tasks in the batch of one point: ``tasks`` if given, else a few rounds per worker."""
    if tasks is not None:
        return tasks
    return max(1, workers) * default_rounds(duration_ms)


def summarize(points: list[dict]) -> list[dict]:
    """Add throughput, speedup and efficiency to points that carry workers, tasks and wall_s."""
    if not points:
        return []
    out = [dict(p, throughput=p["tasks"] / p["wall_s"]) for p in points]
    base = min(out, key=lambda p: p["workers"])
    per_worker = base["throughput"] / base["workers"]
    for point in out:
        point["speedup"] = point["throughput"] / per_worker
        point["efficiency"] = point["speedup"] / point["workers"]
    return out


def parse_workers(text: str) -> list[int]:
    """Parse "1,2,4,8" into worker counts (positive, duplicates dropped, in order)."""
    counts = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise ValueError(
                _("worker counts must be positive integers, got {part} in {text}").format(
                    part=repr(part), text=repr(text)
                )
            )
        if int(part) not in counts:
            counts.append(int(part))
    if not counts:
        raise ValueError(_("no worker count in {text}: write e.g. 1,2,4,8").format(text=repr(text)))
    return counts


# -------------------------------------------------------------------- progress
class Progress:
    """A progress bar over all tasks of a run: a widget in a notebook, tqdm in a terminal.

    Updated only from the thread that runs the benchmark (never from background threads).
    """

    def __init__(self, total: int, enabled: bool = True):
        self._bar = self._widget = self._label = None
        self._count = 0
        self._total = total
        self._text = ""
        self._shown_at = 0.0
        if not enabled:
            return
        if in_notebook():
            import ipywidgets
            from IPython.display import display

            # ipywidgets draws IntProgress as plain divs that a screen reader does not see:
            # the label next to it says the same in text ("12/40 tasks done").
            self._widget = ipywidgets.IntProgress(value=0, min=0, max=total, description=_("bench"))
            self._label = ipywidgets.Label(value="")
            display(ipywidgets.HBox([self._widget, self._label]))
        else:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal (CI logs, pytest)
            self._bar = tqdm(total=total, unit="task", file=sys.stderr, disable=None, dynamic_ncols=True, leave=False)

    def describe(self, text: str) -> None:
        """Show what is being measured now."""
        if self._bar is not None:
            self._bar.set_description(text)
        self._text = text
        self._show_label()

    def _show_label(self, suffix: str = "") -> None:
        if self._label is not None:
            done = _("{done}/{total} tasks done").format(done=self._count, total=self._total)
            self._label.value = (f"{self._text} · {done}" if self._text else done) + suffix

    def advance(self, count: int = 1) -> None:
        """Count finished tasks (the widget is redrawn at most every PROGRESS_INTERVAL_S)."""
        self._count += count
        if self._bar is not None:
            self._bar.update(count)
        if self._widget is not None:
            now = time.monotonic()
            if now - self._shown_at >= PROGRESS_INTERVAL_S or self._count >= self._widget.max:
                self._widget.value = self._count
                self._show_label()
                self._shown_at = now

    def close(self, ok: bool = True) -> None:
        """Finish the bar: green when the run completed, red when it stopped early."""
        if self._bar is not None:
            self._bar.close()
        if self._widget is not None:
            self._widget.value = self._count
            self._widget.bar_style = "success" if ok else "danger"
            self._show_label("" if ok else " " + _("(stopped)"))


# ----------------------------------------------------------------- measurement
def run_batch(
    app, task_name: str, kwargs: dict, count: int, *, progress: Progress | None = None, timeout: float | None = None
) -> dict:
    """Send count tasks, read every result; return tasks, wall_s, t0 and per-task timings.

    Every result is read (join_native over the result channel): a publisher that
    never reads what it subscribed to grows without bound (celery#3808).
    Timings are seconds since t0 (the epoch time of the first send).
    """
    if timeout is None:
        timeout = 60 + count * (kwargs.get("ms", 0) / 1000 + 0.05)
    sent_at: dict[str, float] = {}
    results = []
    t0 = time.time()
    start = time.perf_counter()
    for _index in range(count):
        result = app.send_task(task_name, kwargs=kwargs)
        sent_at[result.id] = time.time()
        results.append(result)
    received: dict[str, tuple[float, dict]] = {}

    def on_result(task_id, value):
        received[task_id] = (time.time(), value)
        if progress is not None:
            progress.advance()

    # interval: join_native first polls the backend once and then sleeps `interval`
    # (default 0.5 s) before listening on the result channel; that sleep would be a
    # fixed half second added to every short batch.
    ResultSet(results, app=app).join_native(timeout=timeout, callback=on_result, propagate=True, interval=0.005)
    wall = time.perf_counter() - start
    timings = []
    for result in results:
        got_at, value = received[result.id]
        timings.append(
            {
                "worker": value["worker"],
                "pid": value["pid"],
                "submitted": sent_at[result.id] - t0,
                "started": value["started"] - t0,
                "finished": value["finished"] - t0,
                "received": got_at - t0,
            }
        )
    return {"tasks": count, "wall_s": wall, "t0": t0, "timings": timings}


def warm_up(app, task_name: str, workers: int, ms: int = WARMUP_MS, attempts: int = 3) -> set[str]:
    """Run one task per worker (until every worker has run one); return the workers seen."""
    seen: set[str] = set()
    for _attempt in range(attempts):
        batch = run_batch(app, task_name, {"ms": ms}, workers)
        seen |= {t["worker"] for t in batch["timings"]}
        if len(seen) >= workers:
            break
    return seen


def _describe_timings(timings: list[dict]) -> dict:
    runs = sorted(t["finished"] - t["started"] for t in timings)
    waits = sorted(t["started"] - t["submitted"] for t in timings)
    return {
        "task_s_mean": sum(runs) / len(runs) if runs else 0.0,
        "queue_s_median": waits[len(waits) // 2] if waits else 0.0,
        "workers_seen": sorted({t["worker"] for t in timings}, key=natural_key),
    }


def run_scaling(
    cluster,
    workers=(1, 2, 4, 8),
    kind: str = "sleep",
    tasks: int | None = None,
    duration_ms: int = 100,
    *,
    progress: bool = True,
    warmup: bool = True,
) -> "BenchRecords":
    """Scale the cluster to each worker count, warm up, run a batch, and return the records.

    ``tasks`` is the batch size at every point; None gives each worker the same
    number of tasks (so every point lasts about TARGET_POINT_S when there are
    cores to spare). The cluster is left at the last worker count.
    """
    if kind not in TASKS:
        raise ValueError(_("kind must be one of {kinds}, got {kind}").format(kinds=", ".join(TASKS), kind=repr(kind)))
    counts = list(workers)
    if not counts or any(int(n) < 1 for n in counts):
        raise ValueError(_("worker counts must be positive, got {counts}").format(counts=repr(counts)))
    if tasks is not None and tasks < 1:
        raise ValueError(_("tasks must be >= 1, got {value}").format(value=tasks))
    if duration_ms < 0:
        raise ValueError(_("duration_ms must be >= 0, got {value}").format(value=duration_ms))
    task_name = TASKS[kind]
    sizes = [batch_size(n, tasks, duration_ms) for n in counts]
    bar = Progress(sum(sizes), enabled=progress)
    raw = []
    completed = False
    try:
        for n, size in zip(counts, sizes):
            bar.describe(ngettext("{n} worker: scaling", "{n} workers: scaling", n).format(n=n))
            cluster.scale(n)
            if warmup:
                bar.describe(ngettext("{n} worker: warming up", "{n} workers: warming up", n).format(n=n))
                warm_up(cluster.celery, task_name, n)
            bar.describe(ngettext("{n} worker: {size} tasks", "{n} workers: {size} tasks", n).format(n=n, size=size))
            batch = run_batch(cluster.celery, task_name, {"ms": duration_ms}, size, progress=bar)
            point = {"workers": n, **batch, **_describe_timings(batch["timings"])}
            ours = {cluster.node_name(name) for name in cluster.workers}
            point["other_workers"] = [w for w in point["workers_seen"] if w not in ours]
            raw.append(point)
        completed = True
    finally:
        bar.close(ok=completed)
    return BenchRecords(summarize(raw), kind=kind, duration_ms=duration_ms, cores=usable_cores())
