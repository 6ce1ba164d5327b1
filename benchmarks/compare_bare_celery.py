"""Measure the lab's cluster against a bare Celery + Redis setup, in one process and one run.

    .venv/bin/python -m benchmarks.compare_bare_celery [--trials 3] [--quick] [--json FILE]

(a) the labapp cluster (Cluster: hardened settings, heartbeats) and
(b) the bare setup of the original class (benchmarks/bare_tasks.py, default
settings except JSON, ``celery -A bare_tasks worker -c 1`` processes) run the
same batches, alternately, on the same kind of embedded broker; the script
prints the ratios and the issue's targets next to them. It also measures cold
start, scale-up latency, API latency and the lab's scaling figures, and the
CPU time per task of each process (client, API, broker, workers) of both
setups: a figure that holds on a loaded machine, where wall-clock ratios do
not. ``--quick`` measures the goals' figures, fewer and smaller (no scaling runs,
two of the four setups), meant to take under 60 s. The issue's reference row at
``nice`` 0: ``LABAPP_WORKER_NICE=0`` (the bare workers follow the lab's nice).
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

import psutil
from celery import Celery

from labapp import Cluster, Settings
from labapp.bench import batch_size, run_batch, run_scaling, summarize, usable_cores, warm_up
from labapp.engine import processes
from labapp.engine.broker import BrokerServer

HERE = Path(__file__).resolve().parent

LAB_SLEEP = "labapp.tasks.sleep_ms"
BARE_SLEEP = "bare_tasks.sleep_ms"
TINY_ROUNDS = 500  # sleep-0 tasks per worker in one batch (about 1-2 s)
QUICK_ROUNDS = 100  # the same in --quick
ROUNDS = [TINY_ROUNDS]  # what tiny_throughput uses (main sets it)


# ----------------------------------------------------------------- bare Celery
class BareCelery:
    """An embedded valkey broker and N ``celery -A bare_tasks worker -c 1`` processes."""

    def __init__(self, workdir: Path, reliable: bool = False, nice: int = 0):
        self.dir = workdir
        self.reliable = reliable  # workers with the lab's acks_late + prefetch 1 (BARE_RELIABLE=1)
        self.nice = nice  # the workers' CPU priority (BARE_NICE), the lab's by default
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
        env = dict(
            os.environ, BARE_BROKER_URL=self.broker.url, BARE_RELIABLE=str(int(self.reliable)), BARE_NICE=str(self.nice)
        )
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


def cpu_seconds(pids: list[int], children: bool = True) -> float:
    """CPU time (user + system) of the processes pids (and their living children), in seconds."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            family = [proc, *(proc.children(recursive=True) if children else [])]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


class CpuMeter:
    """CPU seconds that each role (client, api, broker, workers) spends between start() and stop()."""

    def __init__(self, roles: dict[str, list[int]]):
        self.roles = roles
        self.before: dict[str, float] = {}

    def start(self) -> None:
        """Take the first reading."""
        self.before = {role: self.reading(role) for role in self.roles}

    def reading(self, role: str) -> float:
        """CPU seconds of a role so far: the client alone (every other process is its child), the others
        with their children (a worker's pool)."""
        return cpu_seconds(self.roles[role], children=role != "client")

    def stop(self, tasks: int) -> dict[str, float]:
        """CPU milliseconds per task of each role since start()."""
        return {role: (self.reading(role) - self.before[role]) * 1000 / tasks for role in self.roles}


def lab_roles(cluster) -> dict[str, list[int]]:
    """The lab's processes by role; the client is this process."""
    return {
        "client": [os.getpid()],
        "api": [cluster.api.proc.pid],
        "broker": [cluster.broker.proc.pid],
        "workers": [child.proc.pid for child in cluster.workers.values()],
    }


def bare_roles(bare) -> dict[str, list[int]]:
    """Bare Celery's processes by role (it has no API)."""
    return {
        "client": [os.getpid()],
        "api": [],
        "broker": [bare.broker.proc.pid],
        "workers": [proc.pid for proc in bare.workers],
    }


def broker_calls(url: str) -> dict[str, int]:
    """The broker's command counts so far (INFO commandstats), by command name."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {key.removeprefix("cmdstat_"): value["calls"] for key, value in stats.items()}


def calls_per_task(before: dict[str, int], after: dict[str, int], tasks: int) -> dict[str, float]:
    """Broker commands per task between two commandstats readings (the reading's own INFO left out)."""
    per = {name: (calls - before.get(name, 0)) / tasks for name, calls in after.items() if name != "info"}
    return {name: round(value, 2) for name, value in sorted(per.items()) if value >= 0.01}


def tiny_batch(app, task_name: str, workers: int, roles: dict[str, list[int]], url: str) -> dict:
    """One batch of sleep-0 tasks, ROUNDS per worker: throughput, CPU ms per task by role, commands per task."""
    count = ROUNDS[0] * workers
    meter = CpuMeter(roles)
    calls = broker_calls(url)
    meter.start()
    batch = run_batch(app, task_name, {"ms": 0}, count)
    cpu = meter.stop(count)
    return {
        "throughput": count / batch["wall_s"],
        "cpu_ms": cpu,
        "commands": calls_per_task(calls, broker_calls(url), count),
    }


def tiny_throughput(app, task_name: str, workers: int) -> float:
    """Throughput (tasks/s) of one batch of sleep-0 tasks, ROUNDS per worker."""
    batch = run_batch(app, task_name, {"ms": 0}, ROUNDS[0] * workers)
    return batch["tasks"] / batch["wall_s"]


def bare_sleep_points(bare, counts: list[int]) -> list[dict]:
    """The lab's scaling points (sleep 100 ms, the same batch sizes) for a bare Celery setup."""
    bare.stop_workers()
    points = []
    for n in counts:
        bare.add_workers(n - len(bare.workers))
        warm_up(bare.app, BARE_SLEEP, n)
        batch = run_batch(bare.app, BARE_SLEEP, {"ms": 100}, batch_size(n, None, 100))
        points.append({"workers": n, **batch})
    return summarize(points)


def efficiency_parts(one: dict, many: dict) -> dict:
    """Where a scaling point's efficiency goes, from its tasks' timings against the 1-worker point's (ms):
    the gap between a worker's tasks, the ramp (until the median worker's first start) and the tail
    (from the median worker's last finish to the last one's)."""

    def parts(point: dict) -> dict:
        per_worker: dict[str, list[dict]] = {}
        for t in point["timings"]:
            per_worker.setdefault(t["worker"], []).append(t)
        gaps, firsts, lasts = [], [], []
        for tasks in per_worker.values():
            tasks.sort(key=lambda t: t["started"])
            gaps += [b["started"] - a["finished"] for a, b in zip(tasks, tasks[1:])]
            firsts.append(tasks[0]["started"])
            lasts.append(tasks[-1]["finished"])
        return {
            "gap_ms": 1000 * statistics.median(gaps) if gaps else 0.0,
            "gap_mean_ms": 1000 * statistics.mean(gaps) if gaps else 0.0,
            "ramp_ms": 1000 * statistics.median(firsts),
            "tail_ms": 1000 * (max(lasts) - statistics.median(lasts)),
            "wall_s": point["wall_s"],
        }

    return {"one": parts(one), "many": parts(many), "workers": many["workers"], "efficiency": many["efficiency"]}


def wait_idle(cluster, timeout: float = 60) -> None:
    """Wait until the lab's queue is empty (e.g. the API-latency tasks ran)."""
    processes.wait_until(lambda: cluster.queue_length() == 0, timeout, interval=0.2, what="an empty queue")


# ------------------------------------------------------------------- the run
def say(text: str = "") -> None:
    """Print a line now."""
    print(text, flush=True)


def run(trials: int, workdir: Path, quick: bool = False) -> dict:
    """All measurements of one run; returns the figures."""
    cores = usable_cores()
    nice = Settings.from_env().worker_nice  # bare workers get the lab's priority: like with like
    figures: dict = {"cores": cores, "quick": quick, "worker_nice": nice, "load_average": os.getloadavg()}
    lab = Cluster(
        workers=1, name="compare", runtime_dir=str(workdir / "runtime"), registry_dir=str(workdir / "registry")
    )
    bare = BareCelery(workdir / "bare", nice=nice)
    bare_reliable = BareCelery(workdir / "bare-reliable", reliable=True, nice=nice)
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
        figures["scale_up"] = scale_up_latency(lab, rounds=1 if quick else 3)
        lab.scale(1)

        say("labapp: API latency, one client, POST /longtask in a row...")
        figures["api"] = api_latency(lab, requests=60 if quick else 500)
        wait_idle(lab)

        lab.scale(2)
        say("labapp: API under load, 8 clients POST /factorial, 2 workers busy...")
        figures["api_loaded"] = loaded_api_latency(lab, per_client=25 if quick else 250)

        # Four setups, their batches alternating, so that every ratio compares like with like:
        # each of the lab's two delivery options against bare Celery configured the same way.
        bare_reliable.start_broker()
        if not quick:  # --quick: the goal's two setups only
            lab_early.start()
        setups = {
            "lab": (lab.celery, LAB_SLEEP, lambda: lab_roles(lab), lab.broker_url),
            "bare": (bare.app, BARE_SLEEP, lambda: bare_roles(bare), bare.broker.url),
            "bare_reliable": (
                bare_reliable.app,
                BARE_SLEEP,
                lambda: bare_roles(bare_reliable),
                bare_reliable.broker.url,
            ),
        }
        if quick:
            del setups["bare"]
        else:
            setups["lab_early_ack"] = (lab_early.celery, LAB_SLEEP, lambda: lab_roles(lab_early), lab_early.broker_url)
        tiny = {}
        for n in [cores] if quick else sorted({1, cores}):
            say(f"tiny tasks (sleep 0 ms) at {n} worker(s), {len(setups)} setups, {trials} alternating trials each...")
            lab.scale(n)
            bare_reliable.add_workers(n - len(bare_reliable.workers))
            if not quick:
                lab_early.scale(n)
                bare.add_workers(n - len(bare.workers))
            for app, task, _roles, _url in setups.values():
                warm_up(app, task, n)
            runs: dict[str, list[dict]] = {key: [] for key in setups}
            for _ in range(trials):
                for key, (app, task, roles, url) in setups.items():
                    runs[key].append(tiny_batch(app, task, n, roles(), url))
            tiny[n] = {key: summarize_trials(values) for key, values in runs.items()}
        figures["tiny"] = tiny
        if not quick:
            say("bare celery with the same guarantees: sleep 100 ms at 1 and 16 workers...")
            figures["bare_sleep"] = bare_sleep_points(bare_reliable, [1, 16])
        bare.stop()
        bare_reliable.stop()
        lab_early.stop()

        if not quick:
            say("labapp: scaling, sleep 100 ms at 1, 2, 4, 8, 16 workers...")
            figures["sleep"] = list(run_scaling(lab, [1, 2, 4, 8, 16], kind="sleep", duration_ms=100, progress=False))
            say(f"labapp: scaling, cpu 100 ms at 1, {cores}, {2 * cores} workers...")
            figures["cpu"] = list(
                run_scaling(lab, sorted({1, cores, 2 * cores}), kind="cpu", duration_ms=100, progress=False)
            )
    finally:
        bare.stop()
        bare_reliable.stop()
        lab_early.stop()
        lab.stop()
    return figures


def summarize_trials(trials: list[dict]) -> dict:
    """Medians over the trials of one setup: throughput, CPU ms per task by role, and the broker's commands."""
    roles = trials[0]["cpu_ms"]
    return {
        "throughput": statistics.median(t["throughput"] for t in trials),
        "throughput_runs": [t["throughput"] for t in trials],
        "cpu_ms": {role: statistics.median(t["cpu_ms"][role] for t in trials) for role in roles},
        "commands": trials[-1]["commands"],
    }


def loaded_api_latency(cluster, per_client: int, clients: int = 8) -> dict:
    """p50/p99 of POST /factorial from 8 client processes while every worker runs a CPU-bound task,
    and the API's CPU per request."""
    from benchmarks.api_latency import busy, drain, load

    load(cluster.api_url, clients, 10)  # warm up: connections, imports
    drain(cluster)
    busy(cluster, ms=8000)
    api = psutil.Process(cluster.api.proc.pid)
    before = api.cpu_times()
    result = load(cluster.api_url, clients, per_client)
    after = api.cpu_times()
    drain(cluster)
    result["api_cpu_ms_per_request"] = (
        ((after.user - before.user) + (after.system - before.system)) * 1000 / result["requests"]
    )
    return result


def goal_row(what: str, value: float, shown: str, goal: str, met: bool) -> tuple[str, str, str, bool]:
    """One row of the table of goals."""
    return (what, shown.format(value), goal, met)


def report(f: dict) -> list[tuple[str, str, str, bool]]:
    """Rows (what, measured, target, met) from the figures: the issue's goals first, then references."""
    cores = f["cores"]
    rows = []
    scale = statistics.median(r["first_task_s"] for r in f["scale_up"])
    scale_ret = statistics.median(r["scale_returned_s"] for r in f["scale_up"])
    for n, t in f["tiny"].items():
        same = t["lab"]["throughput"] / t["bare_reliable"]["throughput"]
        rows.append(
            (
                f"tiny tasks, {n} worker(s), nice {f['worker_nice']}: labapp / bare with the same guarantees",
                f"{same:.2f} ({t['lab']['throughput']:.0f} vs {t['bare_reliable']['throughput']:.0f} tasks/s)",
                ">= 1.0",
                same >= 1.0,
            )
        )
    rows += [
        (
            "cold start: labapp Cluster(workers=1).start() until the first result",
            f"{f['lab_cold_start_s']:.2f} s",
            "<= 0.5 s",
            f["lab_cold_start_s"] <= 0.5,
        ),
        ("scale(+1) until the new worker runs a task (median)", f"{scale:.2f} s", "<= 0.4 s", scale <= 0.4),
        (
            "API POST /factorial p99, 8 clients, 2 busy workers",
            f"{f['api_loaded']['p99']:.1f} ms (p50 {f['api_loaded']['p50']:.1f})",
            "<= 30 ms",
            f["api_loaded"]["p99"] <= 30,
        ),
    ]
    if "sleep" in f:
        sleep16 = next(p for p in f["sleep"] if p["workers"] == 16)
        sleep8 = next(p for p in f["sleep"] if p["workers"] == 8)
        cpu_n = next(p for p in f["cpu"] if p["workers"] == cores)
        cpu_max = max(f["cpu"], key=lambda p: p["workers"])
        bare16 = next(p for p in f["bare_sleep"] if p["workers"] == 16)
        rows += [
            (
                "sleep-bound efficiency at 16 workers (100 ms tasks)",
                f"{sleep16['efficiency']:.2f} (bare, same guarantees: {bare16['efficiency']:.2f})",
                ">= 0.95",
                sleep16["efficiency"] >= 0.95,
            ),
            (
                "sleep-bound efficiency at 8 workers",
                f"{sleep8['efficiency']:.2f}",
                ">= 0.90",
                sleep8["efficiency"] >= 0.90,
            ),
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
        pairs = [
            ("labapp / bare celery (defaults)", "lab", "bare"),
            ("labapp early_ack / bare (Celery's defaults both)", "lab_early_ack", "bare"),
            ("bare with acks_late + prefetch 1 / bare", "bare_reliable", "bare"),
            ("labapp at_least_once / labapp early_ack (the price of the guarantee)", "lab", "lab_early_ack"),
        ]
        for what, a, b in [pair for pair in pairs if pair[1] in t and pair[2] in t]:
            ratio = t[a]["throughput"] / t[b]["throughput"]
            rows.append((f"tiny tasks at {n} worker(s): {what}", f"{ratio:.2f}", "(reference)", True))
    rows += [
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
        ("scale(+1) call returns (new worker ready)", f"{scale_ret:.2f} s", "(reference)", True),
        (
            f"API POST /longtask p50 / p99, one client ({f['api']['requests']} requests)",
            f"{f['api']['p50_ms']:.1f} / {f['api']['p99_ms']:.1f} ms",
            "(reference)",
            True,
        ),
        (
            "API CPU per POST /factorial under load",
            f"{f['api_loaded']['api_cpu_ms_per_request']:.2f} ms",
            "(reference)",
            True,
        ),
    ]
    return rows


def cpu_table(f: dict) -> list[str]:
    """Lines: CPU ms per tiny task of each process role, for every setup, and the broker's commands per task."""
    roles = ("client", "api", "broker", "workers")
    lines = []
    for n, t in f["tiny"].items():
        lines.append(f"CPU ms per tiny task at {n} worker(s) (median of the trials; workers: main + pool processes):")
        lines.append("  " + "setup".ljust(15) + "".join(role.rjust(9) for role in (*roles, "total")))
        for key, setup in t.items():
            cpu = setup["cpu_ms"]
            cells = "".join(f"{cpu[role]:9.3f}" for role in roles) + f"{sum(cpu.values()):9.3f}"
            lines.append("  " + key.ljust(15) + cells)
        lines.append(f"broker commands per tiny task at {n} worker(s):")
        for key, setup in t.items():
            total = sum(setup["commands"].values())
            detail = ", ".join(f"{name} {calls:g}" for name, calls in setup["commands"].items())
            lines.append(f"  {key.ljust(15)} {total:5.1f}: {detail}")
    if "sleep" in f:
        lines.append("16 workers, sleep 100 ms: where the efficiency goes (ms; 1 worker -> 16 workers):")
        lines.append("  " + "setup".ljust(15) + "efficiency".rjust(11) + "task gap (mean)".rjust(26) + "ramp".rjust(16))
        lines[-1] += "tail".rjust(16)
        for key, points in (("lab", f["sleep"]), ("bare_reliable", f["bare_sleep"])):
            one = next(p for p in points if p["workers"] == 1)
            parts = efficiency_parts(one, next(p for p in points if p["workers"] == 16))
            a, b = parts["one"], parts["many"]
            gaps = f"{a['gap_ms']:.1f} ({a['gap_mean_ms']:.1f}) -> {b['gap_ms']:.1f} ({b['gap_mean_ms']:.1f})"
            lines.append(
                "  "
                + key.ljust(15)
                + f"{parts['efficiency']:11.3f}"
                + gaps.rjust(26)
                + f"{a['ramp_ms']:7.1f} -> {b['ramp_ms']:5.1f}"
                + f"{a['tail_ms']:7.1f} -> {b['tail_ms']:5.1f}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run everything once and print the table of goals, then the CPU per task of each process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=None, help="alternating trials per tiny-task batch (3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="fewer, smaller measurements: under 60 s")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    trials = args.trials or (2 if args.quick else 3)
    ROUNDS[0] = QUICK_ROUNDS if args.quick else TINY_ROUNDS
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labapp-compare-") as tmp:
        figures = run(trials, Path(tmp), quick=args.quick)
    rows = report(figures)
    load = ", ".join(f"{value:.1f}" for value in figures["load_average"])
    say(
        f"\nResults ({figures['cores']} usable CPU cores, load average at the start {load}, one run"
        f"{' (--quick)' if args.quick else ''}, {time.perf_counter() - started:.0f} s):"
    )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for what, measured, target, met in rows:
        mark = "" if target.startswith("(") or target.startswith("~") else ("  ok" if met else "  MISSED")
        say(f"  {what.ljust(widths[0])}  {measured.rjust(widths[1])}  target {target.ljust(widths[2])}{mark}")
    say()
    for line in cpu_table(figures):
        say(line)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
        say(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
