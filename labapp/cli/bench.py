"""``labapp bench``: measure throughput against the number of workers, from a terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from labapp.bench import KIND_LABELS, parse_workers, run_scaling
from labapp.cli.common import fail
from labapp.engine.this_process import usable_cores
from labapp.settings import DELIVERIES, Settings


def cmd_bench(args) -> int:
    """``labapp bench``: start a cluster (or use --broker), run the scaling benchmark, report."""
    from labapp.cluster import Cluster, ClusterError

    try:
        counts = parse_workers(args.workers)
        limit = Settings.from_env().bench_max_ms
        if not 0 <= args.duration <= limit:
            raise ValueError(f"--duration must be from 0 to {limit} ms, got {args.duration}")
        if args.tasks is not None and args.tasks < 1:
            raise ValueError(f"--tasks must be >= 1, got {args.tasks}")
        json_path = _output_path(args.json, "--json") if args.json else None
        plot_path = _plot_path(args.plot) if args.plot else None
        cluster = Cluster(
            workers=counts[0], name="bench", broker_url=args.broker, delivery=getattr(args, "delivery", None)
        )
        for count in counts:  # refuse 1,2,64 before starting anything, not at the third point
            cluster._check_worker_count(count)
    except ValueError as exc:  # bad arguments or LABAPP_* settings
        return fail(exc, 2)
    where = f"broker {cluster.safe_broker_url}" if args.broker else "an embedded broker"
    print(f"starting a cluster with {where}...", flush=True)
    try:
        cluster.start()
        print(
            f"benchmarking {KIND_LABELS[args.kind]} tasks of {args.duration} ms at "
            f"{', '.join(map(str, counts))} workers ({usable_cores()} CPU cores usable)",
            flush=True,
        )
        records = run_scaling(cluster, counts, kind=args.kind, tasks=args.tasks, duration_ms=args.duration)
    except ClusterError as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a task failed or timed out (a worker died mid-run, broker lost...)
        return fail(
            f"the benchmark stopped: {type(exc).__name__}: {exc}\n       the cluster's logs are in {cluster.dir}"
        )
    finally:
        cluster.stop()
    print(records.table())
    for point in records:
        if point["other_workers"]:
            print(
                f"warning: at {point['workers']} workers, tasks also ran on {point['other_workers']} "
                "(other workers on this broker): the figures include them",
                file=sys.stderr,
            )
    if json_path:
        print(f"records written to {records.save_json(json_path)}")
    if plot_path:
        from labapp.plots import save_summary

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
        raise ValueError(
            f"--plot {text}: matplotlib cannot write .{path.suffix[1:]} files; "
            f"use one of {', '.join('.' + f for f in sorted(formats))}"
        )
    return path


def register(sub) -> None:
    """Add ``labapp bench`` to the ``labapp`` parser."""
    bench = sub.add_parser(
        "bench",
        help="measure throughput against the number of workers",
        description="Run the same batch of tasks at each worker count and report throughput, speedup and efficiency.",
    )
    bench.add_argument("--workers", default="1,2,4,8", help="worker counts, comma-separated (default 1,2,4,8)")
    bench.add_argument(
        "--kind",
        choices=("sleep", "cpu"),
        default="sleep",
        help="sleep: waiting (I/O-bound); cpu: busy computing (CPU-bound)",
    )
    bench.add_argument(
        "--tasks",
        type=int,
        help="tasks per point (default: the same share per worker, so every point lasts about as long)",
    )
    bench.add_argument("--duration", type=int, default=100, metavar="MS", help="work per task in ms (default 100)")
    bench.add_argument("--broker", metavar="URL", help="benchmark against this Redis instead of an embedded one")
    bench.add_argument(
        "--delivery",
        choices=DELIVERIES,
        help="at_least_once (the lab's default: ack after the task, prefetch 1) or "
        "early_ack (Celery's defaults: faster, a killed worker's tasks are lost)",
    )
    bench.add_argument("--json", metavar="FILE", help="write the records as JSON")
    bench.add_argument("--plot", metavar="FILE.png", help="write the throughput plot as PNG")
    bench.set_defaults(func=cmd_bench)
