"""Measure the lab's cluster against a bare Celery + Redis setup, in one process and one run.

    .venv/bin/python -m benchmarks.compare_bare_celery [--trials 3] [--json FILE]

(a) the labapp cluster (Cluster: hardened settings, heartbeats) and
(b) the bare setup of the original class (benchmarks/bare_tasks.py, default
settings except JSON, ``celery -A bare_tasks worker -c 1`` processes) run the
same batches, alternately, on the same kind of embedded broker; the script
prints the ratios and the issue's targets next to them. It also measures cold
start, scale-up latency, API latency and the lab's scaling figures.
Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

from labapp import Cluster
from labapp.bench import run_batch, run_scaling, usable_cores, warm_up
from labapp.engine import processes
from labapp.engine.broker import BrokerServer

HERE = Path(__file__).resolve().parent

LAB_SLEEP = "labapp.tasks.sleep_ms"
BARE_SLEEP = "bare_tasks.sleep_ms"
TINY_ROUNDS = 500  # sleep-0 tasks per worker in one batch (about 1-2 s)


# ----------------------------------------------------------------- bare Celery
class BareCelery:
    """An embedded valkey broker and N ``celery -A bare_tasks worker -c 1`` processes."""

    def __init__(self, workdir: Path, reliable: bool = False):
        self.dir = workdir
        self.reliable = reliable  # workers with the lab's acks_late + prefetch 1 (BARE_RELIABLE=1)
        self.broker = BrokerServer(data_dir=workdir / "broker-data", log_path=workdir / "broker.log")
        self.workers: list = []
        self.app = None

    def start_broker(self) -> None:
        """Start the broker and make a client app for it (sending by task name, like the class's API)."""
        self.broker.start()
        self.app = Celery("bare_tasks", broker=self.broker.url, backend=self.broker.url, set_as_current=False)
        self.app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])

    def add_workers(self, count: int) -> None:
        """Start count more worker processes and wait until each answers a ping."""
        env = dict(os.environ, BARE_BROKER_URL=self.broker.url, BARE_RELIABLE=str(int(self.reliable)))
        names = []
        for _ in range(count):
            name = f"{self.dir.name}{len(self.workers) + 1}@{socket.gethostname()}"
            log = self.dir / f"{name.split('@')[0]}.log"
            proc = processes.spawn(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "bare_tasks",
                    "worker",
                    "-c",
                    "1",
                    "-n",
                    name,
                    "--loglevel",
                    "INFO",
                ],
                log,
                env=env,
                cwd=str(HERE),
            )
            self.workers.append(proc)
            names.append(name)
        pending = set(names)
        deadline = time.monotonic() + 60
        while pending:
            for reply in self.app.control.ping(destination=list(pending), timeout=0.25):
                pending -= set(reply)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"bare workers {sorted(pending)} did not answer; see {self.dir}")

    def stop_workers(self) -> None:
        """Stop every worker (the broker stays)."""
        processes.stop_children(self.workers, timeout=5)
        self.workers.clear()

    def stop(self) -> None:
        """Stop every worker and the broker."""
        self.stop_workers()
        if self.app is not None:
            self.app.close()
        self.broker.stop()


# --------------------------------------------------------------- measurements
def first_result_s(app, task_name: str, since: float) -> float:
    """Seconds from ``since`` (perf_counter) until a sleep-0 task's result is read."""
    app.send_task(task_name, kwargs={"ms": 0}).get(timeout=60)
    return time.perf_counter() - since


def scale_up_latency(cluster, rounds: int = 3, hold_ms: int = 3000) -> list[dict]:
    """With every worker busy and tasks queued, scale(+1): time until the new worker starts one."""
    out = []
    for _ in range(rounds):
        n = len(cluster.workers)
        busy = [cluster.celery.send_task(LAB_SLEEP, kwargs={"ms": hold_ms}) for _ in range(n)]
        processes.wait_until(lambda: cluster.queue_length() == 0, 10, what="every worker to be busy")
        time.sleep(0.1)  # they took their task: the next ones can only go to the new worker
        markers = [cluster.celery.send_task(LAB_SLEEP, kwargs={"ms": 0}) for _ in range(3)]
        t0_epoch, t0 = time.time(), time.perf_counter()
        cluster.scale(n + 1)
        returned = time.perf_counter() - t0
        started = min(m.get(timeout=30)["started"] for m in markers)
        for result in busy:
            result.get(timeout=30)
        out.append({"from": n, "to": n + 1, "first_task_s": started - t0_epoch, "scale_returned_s": returned})
    return out


def api_latency(cluster, requests: int = 500) -> dict:
    """POST /longtask {"x": 0} ``requests`` times in a row; latency percentiles in ms."""
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        cluster.client.submit_longtask(0)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "requests": requests,
        "p50_ms": percentile(times, 50),
        "p90_ms": percentile(times, 90),
        "p99_ms": percentile(times, 99),
        "max_ms": times[-1],
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def tiny_throughput(app, task_name: str, workers: int) -> float:
    """Throughput (tasks/s) of one batch of sleep-0 tasks, TINY_ROUNDS per worker."""
    batch = run_batch(app, task_name, {"ms": 0}, TINY_ROUNDS * workers)
    return batch["tasks"] / batch["wall_s"]


def wait_idle(cluster, timeout: float = 60) -> None:
    """Wait until the lab's queue is empty (e.g. the API-latency tasks ran)."""
    processes.wait_until(lambda: cluster.queue_length() == 0, timeout, interval=0.2, what="an empty queue")


# ------------------------------------------------------------------- the run
def say(text: str = "") -> None:
    """Print a line now."""
    print(text, flush=True)


def run(trials: int, workdir: Path) -> dict:
    """All measurements of one run; returns the figures."""
    cores = usable_cores()
    figures: dict = {"cores": cores}
    lab = Cluster(
        workers=1, name="compare", runtime_dir=str(workdir / "runtime"), registry_dir=str(workdir / "registry")
    )
    bare = BareCelery(workdir / "bare")
    bare_reliable = BareCelery(workdir / "bare-reliable", reliable=True)
    # the lab's other delivery option: Celery's defaults (early ack, prefetch 4, no STARTED)
    lab_early = Cluster(
        workers=1,
        name="compare-early-ack",
        delivery="early_ack",
        runtime_dir=str(workdir / "runtime"),
        registry_dir=str(workdir / "registry"),
    )
    try:
        say("labapp: cold start (Cluster(workers=1).start() until the first result)...")
        t0 = time.perf_counter()
        lab.start()
        figures["lab_start_returned_s"] = time.perf_counter() - t0
        figures["lab_cold_start_s"] = first_result_s(lab.celery, LAB_SLEEP, t0)

        say("bare celery: cold start (broker + one `celery worker` until the first result)...")
        t0 = time.perf_counter()
        bare.start_broker()
        bare.add_workers(1)
        figures["bare_cold_start_s"] = first_result_s(bare.app, BARE_SLEEP, t0)

        say("labapp: scale-up latency (every worker busy, tasks queued, scale(+1))...")
        figures["scale_up"] = scale_up_latency(lab)
        lab.scale(1)

        say("labapp: API latency, 500 x POST /longtask...")
        figures["api"] = api_latency(lab)
        wait_idle(lab)

        # Four setups, their batches alternating, so that every ratio compares like with like:
        # each of the lab's two delivery options against bare Celery configured the same way.
        tiny = {}
        lab_early.start()
        bare_reliable.start_broker()
        setups = {
            "lab": (lab.celery, LAB_SLEEP),
            "bare": (bare.app, BARE_SLEEP),
            "bare_reliable": (bare_reliable.app, BARE_SLEEP),
            "lab_early_ack": (lab_early.celery, LAB_SLEEP),
        }
        for n in sorted({1, cores}):
            say(f"tiny tasks (sleep 0 ms) at {n} worker(s), four setups, {trials} alternating trials each...")
            lab.scale(n)
            lab_early.scale(n)
            bare.add_workers(n - len(bare.workers))
            bare_reliable.add_workers(n - len(bare_reliable.workers))
            for app, task in setups.values():
                warm_up(app, task, n)
            runs: dict[str, list[float]] = {key: [] for key in setups}
            for _ in range(trials):
                for key, (app, task) in setups.items():
                    runs[key].append(tiny_throughput(app, task, n))
            tiny[n] = {key: statistics.median(values) for key, values in runs.items()}
            tiny[n].update({f"{key}_runs": values for key, values in runs.items()})
        figures["tiny"] = tiny
        bare.stop()
        bare_reliable.stop()
        lab_early.stop()

        say("labapp: scaling, sleep 100 ms at 1, 2, 4, 8 workers...")
        figures["sleep"] = list(run_scaling(lab, [1, 2, 4, 8], kind="sleep", duration_ms=100))
        say(f"labapp: scaling, cpu 100 ms at 1, {cores}, {2 * cores} workers...")
        figures["cpu"] = list(run_scaling(lab, sorted({1, cores, 2 * cores}), kind="cpu", duration_ms=100))
    finally:
        bare.stop()
        bare_reliable.stop()
        lab_early.stop()
        lab.stop()
    return figures


def report(f: dict) -> list[tuple[str, str, str, bool]]:
    """Rows (what, measured, target, met) from the figures."""
    cores = f["cores"]
    sleep8 = next(p for p in f["sleep"] if p["workers"] == 8)
    cpu_n = next(p for p in f["cpu"] if p["workers"] == cores)
    cpu_max = max(f["cpu"], key=lambda p: p["workers"])
    scale = statistics.median(r["first_task_s"] for r in f["scale_up"])
    scale_ret = statistics.median(r["scale_returned_s"] for r in f["scale_up"])
    rows = [
        ("sleep-bound efficiency at 8 workers", f"{sleep8['efficiency']:.2f}", ">= 0.90", sleep8["efficiency"] >= 0.90),
        (
            f"cpu-bound speedup at {cores} workers (= cores)",
            f"{cpu_n['speedup']:.2f} = {cpu_n['speedup'] / cores:.2f} x cores",
            f">= {0.85 * cores:.2f}",
            cpu_n["speedup"] >= 0.85 * cores,
        ),
        (
            f"cpu-bound speedup at {cpu_max['workers']} workers (plateau)",
            f"{cpu_max['speedup']:.2f}",
            f"~{cores} (no more cores)",
            True,
        ),
    ]
    for n, t in f["tiny"].items():
        ratio = t["lab"] / t["bare"]
        rows.append(
            (
                f"tiny tasks at {n} worker(s): labapp / bare celery",
                f"{ratio:.2f} ({t['lab']:.0f} vs {t['bare']:.0f} tasks/s)",
                ">= 0.90",
                ratio >= 0.90,
            )
        )
        same = t["lab"] / t["bare_reliable"]
        rows.append(
            (
                f"tiny tasks at {n} worker(s): labapp at_least_once / bare with acks_late + prefetch 1",
                f"{same:.2f} ({t['lab']:.0f} vs {t['bare_reliable']:.0f} tasks/s)",
                "(reference)",
                True,
            )
        )
        early = t["lab_early_ack"] / t["bare"]
        rows.append(
            (
                f"tiny tasks at {n} worker(s): labapp early_ack / bare (Celery's defaults both)",
                f"{early:.2f} ({t['lab_early_ack']:.0f} vs {t['bare']:.0f} tasks/s)",
                "(reference)",
                True,
            )
        )
        delivery = t["bare_reliable"] / t["bare"]
        rows.append(
            (
                f"tiny tasks at {n} worker(s): bare with acks_late + prefetch 1 / bare",
                f"{delivery:.2f} ({t['bare_reliable']:.0f} vs {t['bare']:.0f} tasks/s)",
                "(reference)",
                True,
            )
        )
        price = t["lab"] / t["lab_early_ack"]
        rows.append(
            (
                f"tiny tasks at {n} worker(s): labapp at_least_once / labapp early_ack",
                f"{price:.2f} ({t['lab']:.0f} vs {t['lab_early_ack']:.0f} tasks/s)",
                "(the price of the guarantee)",
                True,
            )
        )
    rows += [
        (
            "cold start: labapp (start until first result)",
            f"{f['lab_cold_start_s']:.2f} s",
            "<= 1.5 s",
            f["lab_cold_start_s"] <= 1.5,
        ),
        (
            "cold start: labapp start() returns (workers ready)",
            f"{f['lab_start_returned_s']:.2f} s",
            "(reference)",
            True,
        ),
        (
            "cold start: bare celery (broker + worker + first result)",
            f"{f['bare_cold_start_s']:.2f} s",
            "(reference)",
            True,
        ),
        (
            "cold start ratio labapp / bare",
            f"{f['lab_cold_start_s'] / f['bare_cold_start_s']:.2f}",
            "(reference)",
            True,
        ),
        ("scale(+1) until the new worker runs a task (median of 3)", f"{scale:.2f} s", "<= 1.0 s", scale <= 1.0),
        ("scale(+1) call returns (new worker ready)", f"{scale_ret:.2f} s", "(reference)", True),
        (
            f"API POST /longtask p50 / p99 ({f['api']['requests']} requests)",
            f"{f['api']['p50_ms']:.1f} / {f['api']['p99_ms']:.1f} ms",
            "(reference)",
            True,
        ),
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run everything once and print the table of ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3, help="alternating trials per tiny-task batch")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labapp-compare-") as tmp:
        figures = run(args.trials, Path(tmp))
    rows = report(figures)
    say(f"\nResults ({figures['cores']} usable CPU cores, one run, {time.perf_counter() - started:.0f} s):")
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for what, measured, target, met in rows:
        mark = "" if target.startswith("(") or target.startswith("~") else ("  ok" if met else "  MISSED")
        say(f"  {what.ljust(widths[0])}  {measured.rjust(widths[1])}  target {target.ljust(widths[2])}{mark}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
        say(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
