"""Scaling benchmark: run the same kind of batch at several worker counts and measure throughput.

Definitions (what the records and plots report):

- wall_s: from the first task sent to the last result read, on this machine's clock;
- throughput: tasks / wall_s;
- speedup: throughput relative to the point with the fewest workers, scaled as if
  that point were perfectly efficient (with a 1-worker point: throughput / throughput(1));
- efficiency: speedup / workers (1.0 = every added worker added its full share).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from celery.result import ResultSet

# BenchRecords, COLUMNS and usable_cores live apart so that plots need not import this
# module; they stay importable from here (labapp.bench.BenchRecords)
from .bench_records import COLUMNS, TASKS, BenchRecords  # noqa: F401
from .heartbeat import natural_key
from .host import in_notebook, usable_cores  # noqa: F401

KIND_LABELS = {"sleep": "sleep (waiting, I/O-bound)", "cpu": "cpu (computing, CPU-bound)"}
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
            raise ValueError(f"worker counts must be positive integers, got {part!r} in {text!r}")
        if int(part) not in counts:
            counts.append(int(part))
    if not counts:
        raise ValueError(f"no worker count in {text!r}: write e.g. 1,2,4,8")
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
            self._widget = ipywidgets.IntProgress(value=0, min=0, max=total, description="bench")
            self._label = ipywidgets.Label(value="")
            display(ipywidgets.HBox([self._widget, self._label]))
        else:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal (CI logs, pytest)
            self._bar = tqdm(total=total, unit="task", file=sys.stderr, disable=None,
                             dynamic_ncols=True, leave=False)

    def describe(self, text: str) -> None:
        """Show what is being measured now."""
        if self._bar is not None:
            self._bar.set_description(text)
        self._text = text
        self._show_label()

    def _show_label(self, suffix: str = "") -> None:
        if self._label is not None:
            done = f"{self._count}/{self._total} tasks done"
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
            self._show_label("" if ok else " (stopped)")


# ----------------------------------------------------------------- measurement
def run_batch(app, task_name: str, kwargs: dict, count: int, *, progress: Progress | None = None,
              timeout: float | None = None) -> dict:
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
    for _ in range(count):
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
    ResultSet(results, app=app).join_native(timeout=timeout, callback=on_result, propagate=True,
                                            interval=0.005)
    wall = time.perf_counter() - start
    timings = []
    for result in results:
        got_at, value = received[result.id]
        timings.append({
            "worker": value["worker"], "pid": value["pid"],
            "submitted": sent_at[result.id] - t0, "started": value["started"] - t0,
            "finished": value["finished"] - t0, "received": got_at - t0,
        })
    return {"tasks": count, "wall_s": wall, "t0": t0, "timings": timings}


def warm_up(app, task_name: str, workers: int, ms: int = WARMUP_MS, attempts: int = 3) -> set[str]:
    """Run one task per worker (until every worker has run one); return the workers seen."""
    seen: set[str] = set()
    for _ in range(attempts):
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


def run_scaling(cluster, workers=(1, 2, 4, 8), kind: str = "sleep", tasks: int | None = None,
                duration_ms: int = 100, *, progress: bool = True, warmup: bool = True) -> "BenchRecords":
    """Scale the cluster to each worker count, warm up, run a batch, and return the records.

    ``tasks`` is the batch size at every point; None gives each worker the same
    number of tasks (so every point lasts about TARGET_POINT_S when there are
    cores to spare). The cluster is left at the last worker count.
    """
    if kind not in TASKS:
        raise ValueError(f"kind must be one of {', '.join(TASKS)}, got {kind!r}")
    counts = list(workers)
    if not counts or any(int(n) < 1 for n in counts):
        raise ValueError(f"worker counts must be positive, got {counts!r}")
    if tasks is not None and tasks < 1:
        raise ValueError(f"tasks must be >= 1, got {tasks}")
    if duration_ms < 0:
        raise ValueError(f"duration_ms must be >= 0, got {duration_ms}")
    task_name = TASKS[kind]
    sizes = [batch_size(n, tasks, duration_ms) for n in counts]
    bar = Progress(sum(sizes), enabled=progress)
    raw = []
    completed = False
    try:
        for n, size in zip(counts, sizes):
            bar.describe(f"{n} worker{'s' if n > 1 else ''}: scaling")
            cluster.scale(n)
            if warmup:
                bar.describe(f"{n} worker{'s' if n > 1 else ''}: warming up")
                warm_up(cluster.celery, task_name, n)
            bar.describe(f"{n} worker{'s' if n > 1 else ''}: {size} tasks")
            batch = run_batch(cluster.celery, task_name, {"ms": duration_ms}, size, progress=bar)
            point = {"workers": n, **batch, **_describe_timings(batch["timings"])}
            ours = {cluster.node_name(name) for name in cluster.workers}
            point["other_workers"] = [w for w in point["workers_seen"] if w not in ours]
            raw.append(point)
        completed = True
    finally:
        bar.close(ok=completed)
    return BenchRecords(summarize(raw), kind=kind, duration_ms=duration_ms, cores=usable_cores())


# ------------------------------------------------------------------------- CLI
def cli_main(args) -> int:
    """``labapp bench``: start a cluster (or use --broker), run the scaling benchmark, report."""
    from .cluster import Cluster, ClusterError
    from .settings import Settings

    try:
        counts = parse_workers(args.workers)
        limit = Settings.from_env().bench_max_ms
        if not 0 <= args.duration <= limit:
            raise ValueError(f"--duration must be from 0 to {limit} ms, got {args.duration}")
        if args.tasks is not None and args.tasks < 1:
            raise ValueError(f"--tasks must be >= 1, got {args.tasks}")
        json_path = _output_path(args.json, "--json") if args.json else None
        plot_path = _plot_path(args.plot) if args.plot else None
        cluster = Cluster(workers=counts[0], name="bench", broker_url=args.broker,
                          delivery=getattr(args, "delivery", None))
        for count in counts:  # refuse 1,2,64 before starting anything, not at the third point
            cluster._check_worker_count(count)
    except ValueError as exc:  # bad arguments or LABAPP_* settings
        print(f"error: {exc}", file=sys.stderr)
        return 2
    where = f"broker {cluster.safe_broker_url}" if args.broker else "an embedded broker"
    print(f"starting a cluster with {where}...", flush=True)
    try:
        cluster.start()
        print(f"benchmarking {KIND_LABELS[args.kind]} tasks of {args.duration} ms at "
              f"{', '.join(map(str, counts))} workers ({usable_cores()} CPU cores usable)", flush=True)
        records = run_scaling(cluster, counts, kind=args.kind, tasks=args.tasks,
                              duration_ms=args.duration)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a task failed or timed out (a worker died mid-run, broker lost...)
        print(f"error: the benchmark stopped: {type(exc).__name__}: {exc}\n"
              f"       the cluster's logs are in {cluster.dir}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    print(records.table())
    for point in records:
        if point["other_workers"]:
            print(f"warning: at {point['workers']} workers, tasks also ran on {point['other_workers']} "
                  "(other workers on this broker): the figures include them", file=sys.stderr)
    if json_path:
        print(f"records written to {records.save_json(json_path)}")
    if plot_path:
        from .plots import save_summary

        print(f"plot written to {save_summary(records, plot_path)}")
    return 0


def _output_path(text: str, option: str) -> Path:
    """A file path whose folder exists and is writable, checked before minutes of measuring."""
    path = Path(text).expanduser()
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise ValueError(f"{option} {text}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{option} {text}: the folder {folder} is not writable")
    return path


def _plot_path(text: str) -> Path:
    """The --plot path: PNG when it has no suffix, else a format matplotlib can write."""
    from matplotlib.figure import Figure

    path = _output_path(text, "--plot")
    if not path.suffix:
        return path.with_suffix(".png")
    formats = Figure().canvas.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise ValueError(f"--plot {text}: matplotlib cannot write .{path.suffix[1:]} files; "
                         f"use one of {', '.join('.' + f for f in sorted(formats))}")
    return path
