"""``labapp bench``: measure throughput against the number of workers, from a terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from labapp.bench import kind_label, parse_workers, run_scaling
from labapp.cli.common import fail
from labapp.engine.this_process import usable_cores
from labapp.i18n import _
from labapp.settings import DELIVERIES, Settings


def cmd_bench(args) -> int:
    """``labapp bench``: start a cluster (or use --broker), run the scaling benchmark, report."""
    from labapp.cluster import Cluster, ClusterError

    try:
        counts = parse_workers(args.workers)
        limit = Settings.from_env().bench_max_ms
        if not 0 <= args.duration <= limit:
            raise ValueError(
                _("--duration must be from 0 to {limit} ms, got {value}").format(limit=limit, value=args.duration)
            )
        if args.tasks is not None and args.tasks < 1:
            raise ValueError(_("--tasks must be >= 1, got {value}").format(value=args.tasks))
        json_path = _output_path(args.json, "--json") if args.json else None
        plot_path = _plot_path(args.plot) if args.plot else None
        cluster = Cluster(
            workers=counts[0], name="bench", broker_url=args.broker, delivery=getattr(args, "delivery", None)
        )
        for count in counts:  # refuse 1,2,64 before starting anything, not at the third point
            cluster._check_worker_count(count)
    except ValueError as exc:  # bad arguments or LABAPP_* settings
        return fail(exc, 2)
    if args.broker:
        print(_("starting a cluster with broker {url}...").format(url=cluster.safe_broker_url), flush=True)
    else:
        print(_("starting a cluster with an embedded broker..."), flush=True)
    try:
        cluster.start()
        print(
            _("benchmarking {kind} tasks of {duration} ms at {counts} workers ({cores} CPU cores usable)").format(
                kind=kind_label(args.kind),
                duration=args.duration,
                counts=", ".join(map(str, counts)),
                cores=usable_cores(),
            ),
            flush=True,
        )
        records = run_scaling(cluster, counts, kind=args.kind, tasks=args.tasks, duration_ms=args.duration)
    except ClusterError as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("\n" + _("interrupted"), file=sys.stderr)
        return 130
    except Exception as exc:  # a task failed or timed out (a worker died mid-run, broker lost...)
        return fail(
            _("the benchmark stopped: {error}\n       the cluster's logs are in {folder}").format(
                error=f"{type(exc).__name__}: {exc}", folder=cluster.dir
            )
        )
    finally:
        cluster.stop()
    print(records.table())
    for point in records:
        if point["other_workers"]:
            print(
                _(
                    "warning: at {workers} workers, tasks also ran on {others} "
                    "(other workers on this broker): the figures include them"
                ).format(workers=point["workers"], others=point["other_workers"]),
                file=sys.stderr,
            )
    if json_path:
        print(_("records written to {file}").format(file=records.save_json(json_path)))
    if plot_path:
        from labapp.plots import save_summary

        print(_("plot written to {file}").format(file=save_summary(records, plot_path)))
    return 0


def _output_path(text: str, option: str) -> Path:
    """A file path whose folder exists and is writable, checked before minutes of measuring."""
    path = Path(text).expanduser()
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise ValueError(
            _("{option} {path}: the folder {folder} does not exist").format(option=option, path=text, folder=folder)
        )
    if not os.access(folder, os.W_OK):
        raise ValueError(
            _("{option} {path}: the folder {folder} is not writable").format(option=option, path=text, folder=folder)
        )
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
            _("--plot {path}: matplotlib cannot write .{suffix} files; use one of {formats}").format(
                path=text, suffix=path.suffix[1:], formats=", ".join("." + f for f in sorted(formats))
            )
        )
    return path


def register(sub) -> None:
    """Add ``labapp bench`` to the ``labapp`` parser."""
    bench = sub.add_parser(
        "bench",
        help=_("measure throughput against the number of workers"),
        description=_(
            "Run the same batch of tasks at each worker count and report throughput, speedup and efficiency."
        ),
    )
    bench.add_argument("--workers", default="1,2,4,8", help=_("worker counts, comma-separated (default 1,2,4,8)"))
    bench.add_argument(
        "--kind",
        choices=("sleep", "cpu"),
        default="sleep",
        help=_("sleep: waiting (I/O-bound); cpu: busy computing (CPU-bound)"),
    )
    bench.add_argument(
        "--tasks",
        type=int,
        help=_("tasks per point (default: the same share per worker, so every point lasts about as long)"),
    )
    bench.add_argument("--duration", type=int, default=100, metavar="MS", help=_("work per task in ms (default 100)"))
    bench.add_argument("--broker", metavar="URL", help=_("benchmark against this Redis instead of an embedded one"))
    bench.add_argument(
        "--delivery",
        choices=DELIVERIES,
        help=_(
            "at_least_once (the lab's default: ack after the task, prefetch 1) or "
            "early_ack (Celery's defaults: faster, a killed worker's tasks are lost)"
        ),
    )
    bench.add_argument("--json", metavar="FILE", help=_("write the records as JSON"))
    bench.add_argument("--plot", metavar="FILE.png", help=_("write the throughput plot as PNG"))
    bench.set_defaults(func=cmd_bench)
