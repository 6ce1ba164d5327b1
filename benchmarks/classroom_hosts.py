"""Classroom throughput across hosts: one student host against two, measured in one run (root only).

    sudo .venv/bin/python -m benchmarks.classroom_hosts [--tasks 40] [--x 0.2] [--trials 3]

A teacher (`labapp serve --public --workers 0`) and student hosts (`labapp join --workers 2`),
each in a network namespace of its own on a private subnet (tests/support/netlab.py; nothing for that
subnet leaves the machine). A batch of long tasks of x seconds (they wait, like I/O) is sent
from the teacher's namespace with s1 joined, then again once s2 has joined too. Throughput is
tasks / (last task finished - first task sent), from the workers' own timestamps (one clock:
all hosts are on this machine). Ideally two hosts double it; prints both figures and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.support import netlab
from tests.support.netlab import Netlab
from tests.support.netns_classroom import drive, events, host_of, join_student, start_teacher

SUBNET = "10.231.79.0/24"  # not the test's: a benchmark may run while the tests do


def batch(net: Netlab, api: str, folder: Path, tasks: int, x: float) -> dict:
    """Send tasks long tasks of x s from the teacher's namespace and wait for all; the figures."""
    first_sent = last = None
    for last in events(drive(net, api, folder, tasks, x, "--quiet", "--interval", "0.5", "--limit", "300")):
        if last["event"] == "submitted":
            first_sent = last["t0"]
    statuses = last["statuses"]
    if not last["complete"] or any(s["state"] != "SUCCESS" for s in statuses):
        raise SystemExit(f"the batch did not succeed: {[s and s['state'] for s in statuses]}")
    wall = max(s["result"]["finished"] for s in statuses) - first_sent
    return {
        "tasks": tasks,
        "wall_s": wall,
        "throughput": tasks / wall,
        "hosts": dict(sorted(Counter(host_of(s["worker"]) for s in statuses).items())),
    }


def measure(net: Netlab, api: str, folder: Path, args, label: str, hosts: int) -> list[float]:
    """Warm the workers up, then run the trials; their throughputs."""
    batch(net, api, folder, 4 * hosts, 0.0)  # every worker's pool process has run a task
    figures = []
    for trial in range(1, args.trials + 1):
        point = batch(net, api, folder, args.tasks, args.x)
        figures.append(point["throughput"])
        print(
            f"{label}, trial {trial}: {point['tasks']} tasks in {point['wall_s']:.2f} s = "
            f"{point['throughput']:.2f} tasks/s (tasks per host: {point['hosts']})",
            flush=True,
        )
    return figures


def main() -> int:
    """Build the net, measure with one student host, then two; print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40, help="tasks per batch (default 40)")
    parser.add_argument("--x", type=float, default=0.2, help="seconds of work per task (default 0.2)")
    parser.add_argument("--trials", type=int, default=3, help="batches per point; the median counts")
    args = parser.parse_args()
    ok, reason = netlab.available()
    if not ok:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="labapp-classroom-hosts-") as tmp:
        folder = Path(tmp)
        with Netlab(SUBNET, ("teacher", "s1", "s2")) as net:
            teacher, api, join_file = start_teacher(net, folder, workers=0)
            print(f"teacher: {api} (no workers)", flush=True)
            students = [join_student(net, "s1", join_file, workers=2)]
            one = statistics.median(measure(net, api, folder, args, "1 student host (2 workers)", 1))
            students.append(join_student(net, "s2", join_file, workers=2))
            two = statistics.median(measure(net, api, folder, args, "2 student hosts (4 workers)", 2))
            for started in [*students, teacher]:  # what is left, close() ends
                started.stop()
    print(
        f"\nmedian throughput: 1 host {one:.2f} tasks/s, 2 hosts {two:.2f} tasks/s; ratio {two / one:.2f} (ideal 2.00)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
