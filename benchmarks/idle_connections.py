"""/health from a fresh client while many idle and slowloris connections are held open.

    .venv/bin/python -m benchmarks.idle_connections [--connections 50,150,300] [--probes 10] [--timeout 30]

In one process and one run: a cluster without workers; for each count, this process opens that many
connections to the API (half idle, sending nothing; half slowloris, a request whose headers never end),
holds them, and times ``--probes`` fresh clients' ``GET /health`` (connect, ask, read; ``--timeout`` s
each at most), then closes them. It also times a client that was connected before the flood, from
another address (127.0.0.2), as a classmate's notebook would be. Issue 23, item 13: past 100 open
connections (waitress's connection limit) no /health was answered until connections closed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from labapp import Cluster

OTHER_ADDRESS = "127.0.0.2"  # on Linux, all of 127/8 is loopback


def probe(host: str, port: int, timeout: float, source: str | None = None) -> float | None:
    """Milliseconds for a fresh connection's GET /health; None if no answer came within timeout."""
    began = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        conn.request("GET", "/health")
        answer = conn.getresponse()
        answer.read()
        return (time.perf_counter() - began) * 1000 if answer.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def flood(stack: contextlib.ExitStack, host: str, port: int, count: int) -> None:
    """Open count connections held by stack: even ones idle, odd ones slowloris."""
    for number in range(count):
        sock = socket.create_connection((host, port), timeout=10)
        stack.callback(sock.close)
        if number % 2:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")


def keep_alive_ms(conn: http.client.HTTPConnection) -> float | None:
    """Milliseconds for GET /health on an already open keep-alive connection; None on no answer."""
    began = time.perf_counter()
    try:
        conn.request("GET", "/health")
        answer = conn.getresponse()
        answer.read()
    except OSError:
        return None
    return (time.perf_counter() - began) * 1000


def summary(values: list[float | None]) -> dict:
    """Median and max of the answered probes, and how many got no answer."""
    answered = [v for v in values if v is not None]
    return {
        "answered": len(answered),
        "unanswered": len(values) - len(answered),
        "p50_ms": round(statistics.median(answered), 2) if answered else None,
        "max_ms": round(max(answered), 2) if answered else None,
    }


def run(counts: list[int], probes: int, timeout: float, workdir: Path) -> dict:
    """For each count: hold the flood, probe, release; return the figures."""
    figures: dict = {"probes": probes, "timeout_s": timeout, "floods": {}}
    with Cluster(workers=0, name="connections", runtime_dir=str(workdir)) as cluster:
        api = urlsplit(cluster.api_url)
        host, port = api.hostname, api.port
        figures["baseline"] = summary([probe(host, port, timeout) for _ in range(probes)])
        for count in counts:
            with contextlib.ExitStack() as stack:
                classmate = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(OTHER_ADDRESS, 0))
                stack.callback(classmate.close)
                keep_alive_ms(classmate)
                began = time.monotonic()
                flood(stack, host, port, count)
                opened_s = time.monotonic() - began
                fresh = [probe(host, port, timeout) for _ in range(probes)]
                other = [probe(host, port, timeout, OTHER_ADDRESS) for _ in range(probes)]
                figures["floods"][count] = {
                    "open_s": round(opened_s, 2),
                    "fresh": summary(fresh),
                    "fresh_other_address": summary(other),
                    "classmate_keep_alive": summary([keep_alive_ms(classmate)]),
                }
            time.sleep(1)  # the server notices the closed connections
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="50,150,300", help="flood sizes, comma-separated")
    parser.add_argument("--probes", type=int, default=10, help="fresh clients timed per flood")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a probe waits for its answer")
    parser.add_argument("--json", default=None, metavar="FILE")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory(prefix="labapp-connections-") as workdir:
        figures = run(counts, args.probes, args.timeout, Path(workdir))
    b = figures["baseline"]
    print(f"GET /health from fresh clients ({args.probes} per row, {args.timeout:.0f} s timeout each)")
    print(f"{'held open':<10} {'client':<22} {'answered':>9} {'p50 ms':>8} {'max ms':>8}")
    print(f"{0:<10} {'fresh':<22} {b['answered']:>9} {b['p50_ms']!s:>8} {b['max_ms']!s:>8}")
    for count, f in figures["floods"].items():
        for label, key in (
            ("fresh", "fresh"),
            (f"fresh from {OTHER_ADDRESS}", "fresh_other_address"),
            ("classmate (kept alive)", "classmate_keep_alive"),
        ):
            s = f[key]
            print(f"{count:<10} {label:<22} {s['answered']:>9} {s['p50_ms']!s:>8} {s['max_ms']!s:>8}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
