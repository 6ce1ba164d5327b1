"""Elastic workers on one bursty trace: fixed pools, Celery's --autoscale, and the lab's autoscaler (issue 20).

    .venv/bin/python -m benchmarks.elastic [--seed 20] [--cooldown 5] [--small 2] [--large 8] [--json out.json]

The same trace (a trickle, a burst of 200 tasks of 0.5 s, quiet, a burst of 100, quiet: 90 s) runs under
each set-up in a fresh cluster. Prints p50, p95 and worker-seconds (task slots integrated over time) of each,
then the issue's two ratios: the autoscaler's p95 against the large pool's (target <= 1.5) and its
worker-seconds against the large pool's (target <= 0.6). Exits 1 when either misses. The load average
before and after says whether other work shared the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from labapp.elastic import bursty_trace, compare, default_setups

P95_TARGET = 1.5
COST_TARGET = 0.6


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as uptime prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    """Run the four set-ups on one trace; print the figures and the ratios; 0 when both targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--cooldown", type=float, default=5.0)
    parser.add_argument("--small", type=int, default=2)
    parser.add_argument("--large", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    trace = bursty_trace(args.seed)
    print(trace.describe())
    print(f"load average before: {load_average()} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="labapp-elastic-") as tmp:
        results = compare(trace, default_setups(args.small, args.large, cooldown=args.cooldown), runtime_dir=tmp)
    print(f"load average after: {load_average()}")
    print(results.table())
    for result in results:
        row = result.row()
        print(
            f"{row['setup']}: ended at {row['end_s']} s, {row['changes']} changes "
            f"({row['cooldown_cost']} worker-seconds idle in cooldowns), "
            f"{row['run_twice']} tasks run twice, replay at most {row['max_lag_s']} s late"
        )
    auto, large = results.by_key("autoscaler"), results.by_key("large")
    p95_ratio = auto.p95 / large.p95
    cost_ratio = auto.worker_seconds / large.worker_seconds
    p95_ok, cost_ok = p95_ratio <= P95_TARGET, cost_ratio <= COST_TARGET
    print(f"autoscaler p95 / large pool p95: {p95_ratio:.2f} (target <= {P95_TARGET}): {'met' if p95_ok else 'MISSED'}")
    print(
        f"autoscaler worker-seconds / large pool worker-seconds: {cost_ratio:.2f} "
        f"(target <= {COST_TARGET}): {'met' if cost_ok else 'MISSED'}"
    )
    if args.json:
        args.json.write_text(json.dumps({**results.to_dict(), "p95_ratio": p95_ratio, "cost_ratio": cost_ratio}))
    return 0 if p95_ok and cost_ok else 1


if __name__ == "__main__":
    sys.exit(main())
