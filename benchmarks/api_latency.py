"""API latency under load: 8 concurrent clients POST /factorial while 2 workers are busy.

    .venv/bin/python -m benchmarks.api_latency [--requests 250] [--clients 8] [--json FILE]

In one process and one run it measures the same load in four scenarios, each
``--rounds`` times and interleaved, so that a neighbour's load on the machine
shows up in all of them alike:

- ``busy``: a cluster whose 2 workers each run a CPU-bound task (cpu_ms, 8 s)
  while 8 clients each send ``--requests`` x ``POST /factorial {"n": 20}``
  over keep-alive (the submitted tasks only queue);
- ``health-busy``: the same clients ``GET /health`` (no publish);
- ``idle``: the 8 clients on a cluster without workers (no CPU but the API's);
- ``serial``: one client on that cluster (the per-request floor).

It also counts the broker commands one submission costs (INFO commandstats)
and the API process's CPU per request. Every process it starts is stopped
before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from labapp import Cluster, Settings

HERE = Path(__file__).resolve().parent

CONTEXT = multiprocessing.get_context("fork")  # clients start in ms, without re-importing
BODY = b'{"n": 20}'
HEADERS = {"Content-Type": "application/json"}


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def one_client(api_url: str, method: str, path: str, count: int, start_at: float, out) -> None:
    """In a client process: send count requests over one keep-alive connection from start_at on;
    send back the latencies (ms) and the number of error answers."""
    parts = urlsplit(api_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = BODY if method == "POST" else None
    latencies, errors = [], 0
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(count):
        began = time.perf_counter()
        conn.request(method, path, body=body, headers=HEADERS if body else {})
        resp = conn.getresponse()
        resp.read()
        latencies.append((time.perf_counter() - began) * 1000)
        errors += resp.status >= 300
    conn.close()
    out.send((latencies, errors))


def load(api_url: str, clients: int, per_client: int, method: str = "POST", path: str = "/factorial") -> dict:
    """Run clients processes at once (each its own interpreter: no client-side GIL contention);
    latency figures in ms and requests per second."""
    start_at = time.time() + 0.3  # every client starts at the same moment
    pipes, procs = [], []
    for _ in range(clients):
        receive, send = CONTEXT.Pipe(duplex=False)
        proc = CONTEXT.Process(target=one_client, args=(api_url, method, path, per_client, start_at, send))
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    latencies: list[float] = []
    errors = 0
    for receive in pipes:
        got, failed = receive.recv()
        latencies += got
        errors += failed
    wall = time.time() - start_at
    for proc in procs:
        proc.join()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / wall,
        "p50": percentile(latencies, 50),
        "p90": percentile(latencies, 90),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "mean": statistics.fmean(latencies),
    }


def busy(cluster: Cluster, ms: int) -> None:
    """Give each worker one CPU-bound task of ms milliseconds; return once all of them run it."""
    for _ in cluster.workers:
        cluster.celery.send_task("labapp.tasks.cpu_ms", kwargs={"ms": ms}, ignore_result=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        workers = cluster.client.workers()
        if len(workers) == len(cluster.workers) and all(w.get("active") for w in workers):
            return
        time.sleep(0.02)
    raise RuntimeError("the workers did not all start their CPU-bound task")


def drain(cluster: Cluster) -> None:
    """Drop queued tasks (a run queues thousands) and wait until every worker is idle."""
    cluster.celery.control.purge()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if cluster.redis.llen("celery") == 0 and not any(w.get("active") for w in cluster.client.workers()):
            return
        time.sleep(0.05)
        cluster.celery.control.purge()


def commands_per_submission(cluster: Cluster, count: int = 200) -> dict:
    """Broker commands (by name) that one POST /factorial costs, from INFO commandstats."""
    before = cluster.redis.info("commandstats")
    parts = urlsplit(cluster.api_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    for _ in range(count):
        conn.request("POST", "/factorial", body=BODY, headers=HEADERS)
        conn.getresponse().read()
    conn.close()
    after = cluster.redis.info("commandstats")
    per = {}
    for key, stats in after.items():
        calls = stats["calls"] - before.get(key, {}).get("calls", 0)
        if calls >= count / 2:  # the submissions' own, not the heartbeats'
            per[key.removeprefix("cmdstat_")] = round(calls / count, 2)
    per.pop("info", None)
    return per


def api_cpu_ms_per_request(cluster: Cluster, clients: int, per_client: int) -> float:
    """CPU time (user + system) the API process spends per POST /factorial, in ms."""
    proc = psutil.Process(cluster.api.proc.pid)
    before = proc.cpu_times()
    result = load(cluster.api_url, clients, per_client)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return used * 1000 / result["requests"]


def run(clients: int, per_client: int, rounds: int, nices: list[int], workdir: Path) -> dict:
    """Measure every scenario rounds times, interleaved; return the figures."""
    figures: dict = {"clients": clients, "per_client": per_client, "cores": psutil.cpu_count(), "scenarios": {}}
    with contextlib.ExitStack() as stack:
        # one cluster per worker priority whose 2 workers are kept busy, and one without
        # workers (no CPU but the API's and the broker's)
        loaded = {}
        for nice in nices:
            options = {"worker_nice": nice} if "worker_nice" in Settings.__dataclass_fields__ else {}
            loaded[nice] = stack.enter_context(
                Cluster(workers=2, name=f"latency-nice{nice}", runtime_dir=str(workdir), **options)
            )
        idle = stack.enter_context(Cluster(workers=0, name="latency-idle", runtime_dir=str(workdir)))
        for cluster in [*loaded.values(), idle]:
            load(cluster.api_url, clients, 20)  # warm up: connections, imports, caches
            drain(cluster)
        figures["commands_per_submission"] = commands_per_submission(idle)
        figures["api_cpu_ms_per_request"] = round(api_cpu_ms_per_request(idle, clients, per_client), 3)
        drain(idle)
        runs: dict[str, list[dict]] = {}
        for _ in range(rounds):
            for nice, cluster in loaded.items():
                busy(cluster, ms=8000)
                runs.setdefault(f"busy, nice {nice}", []).append(load(cluster.api_url, clients, per_client))
                runs.setdefault(f"health-busy, nice {nice}", []).append(
                    load(cluster.api_url, clients, per_client, "GET", "/health")
                )
                drain(cluster)
            runs.setdefault("idle", []).append(load(idle.api_url, clients, per_client))
            runs.setdefault("serial", []).append(load(idle.api_url, 1, per_client * 2))
            drain(idle)
        for name, results in runs.items():
            figures["scenarios"][name] = {
                key: round(statistics.median(r[key] for r in results), 2) for key in ("p50", "p90", "p99", "max", "rps")
            } | {"errors": sum(r["errors"] for r in results), "requests": sum(r["requests"] for r in results)}
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=250, help="requests per client per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each scenario (interleaved)")
    parser.add_argument(
        "--nice", default="0,10", help="worker CPU priorities to compare, comma-separated (LABAPP_WORKER_NICE)"
    )
    parser.add_argument("--json", default=None, metavar="FILE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labapp-latency-") as workdir:
        nices = [int(n) for n in args.nice.split(",")] if "worker_nice" in Settings.__dataclass_fields__ else [0]
        figures = run(args.clients, args.requests, args.rounds, nices, Path(workdir))
    print(f"{args.clients} clients x {args.requests} requests, median of {args.rounds} runs ({figures['cores']} cores)")
    print(f"{'scenario':<22} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8} errors")
    for name, s in figures["scenarios"].items():
        print(f"{name:<22} {s['p50']:>8} {s['p90']:>8} {s['p99']:>8} {s['max']:>8} {s['rps']:>8} {s['errors']}")
    print("broker commands per submission:", figures["commands_per_submission"])
    print("API CPU per request (ms):", figures["api_cpu_ms_per_request"])
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
