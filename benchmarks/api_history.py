"""/health and /workers against the cluster's history: fresh, then after 100,000 stored results.

    .venv/bin/python -m benchmarks.api_history [--results 100000] [--requests 300] [--json FILE]

In one process and one run: a cluster with 2 workers; one client sends ``--requests`` x ``GET /health``
and as many ``GET /workers`` over one keep-alive connection, on the fresh cluster and again after
``--results`` finished tasks' result keys were stored (what a busy day of a class leaves in Redis for
``result_expires``). It prints the latency (ms) of each and the broker commands the API sent per request
(INFO commandstats of the calls, minus the workers' own in the same time). Issue 23, item 12: the two
calls used to SCAN the whole keyspace for the workers' heartbeats.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from labapp import Cluster

PATHS = ("/health", "/workers")


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def add_results(store, count: int) -> None:
    """Store count finished tasks' result keys, with the lab's result TTL."""
    for start in range(0, count, 10_000):
        pipe = store.pipeline(transaction=False)
        for _ in range(min(10_000, count - start)):
            pipe.set(f"celery-task-meta-{uuid.uuid4()}", '{"status": "SUCCESS", "result": 1}', ex=3600)
        pipe.execute()


def total_calls(store) -> int:
    """Every command the broker has run since its start (INFO commandstats)."""
    return sum(entry["calls"] for entry in store.info("commandstats").values())


def time_path(api_url: str, path: str, requests: int) -> list[float]:
    """Latencies (ms) of requests x GET path over one keep-alive connection."""
    parts = urlsplit(api_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        conn.request("GET", path)
        answer = conn.getresponse()
        answer.read()
        latencies.append((time.perf_counter() - began) * 1000)
        assert answer.status == 200, answer.status
    conn.close()
    return latencies


def background_calls_per_s(store, seconds: float = 2.0) -> float:
    """The commands per second the broker runs with no client request (workers polling and beating)."""
    before = total_calls(store)
    time.sleep(seconds)
    return (total_calls(store) - before - 1) / seconds  # -1: the INFO itself


def measure(cluster, requests: int) -> dict:
    """Latency figures and commands per request for each path."""
    figures = {}
    idle_rate = background_calls_per_s(cluster.redis)
    for path in PATHS:
        time_path(cluster.api_url, path, 20)  # warm up
        before, began = total_calls(cluster.redis), time.monotonic()
        latencies = time_path(cluster.api_url, path, requests)
        spent = time.monotonic() - began
        commands = total_calls(cluster.redis) - before - 1 - idle_rate * spent
        figures[path] = {
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "max_ms": round(max(latencies), 2),
            "commands_per_request": round(commands / requests, 1),
        }
    return figures


def run(results: int, requests: int, workdir: Path) -> dict:
    """Measure on a fresh cluster, then after storing results; return the figures."""
    with Cluster(workers=2, name="history", runtime_dir=str(workdir)) as cluster:
        fresh = measure(cluster, requests)
        began = time.monotonic()
        add_results(cluster.redis, results)
        stored_s = time.monotonic() - began
        keys = cluster.redis.dbsize()
        later = measure(cluster, requests)
    return {"results": results, "keys": keys, "store_s": round(stored_s, 1), "fresh": fresh, "history": later}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=100_000, help="result keys to store")
    parser.add_argument("--requests", type=int, default=300, help="requests per path per measurement")
    parser.add_argument("--json", default=None, metavar="FILE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labapp-history-") as workdir:
        figures = run(args.results, args.requests, Path(workdir))
    print(f"{args.requests} requests per path, one keep-alive client; history: {figures['keys']:,} keys in Redis")
    print(f"{'path':<10} {'history':<16} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'commands/request':>17}")
    for path in PATHS:
        for label, key in (("fresh", "fresh"), (f"{args.results:,} results", "history")):
            s = figures[key][path]
            print(
                f"{path:<10} {label:<16} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['max_ms']:>8} "
                f"{s['commands_per_request']:>17}"
            )
    for path in PATHS:
        ratio = figures["history"][path]["p50_ms"] / figures["fresh"][path]["p50_ms"]
        print(f"{path}: p50 with history / fresh = {ratio:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
