"""Sleep-bound scaling, 4 workers against 1, measured in one run (it was a test's assertion).

    .venv/bin/python -m benchmarks.sleep_scaling [--trials 3]

16 tasks of 200 ms take 3.2 s on one worker and ideally 0.8 s on four; the target,
4 workers >= 2.5 x the throughput of 1, leaves half a second for overhead on a loaded
machine. Prints each trial's ratio and the median; exits 1 when the median misses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from labapp import Cluster
from labapp.bench import run_scaling

TARGET = 2.5


def main() -> int:
    """Run the trials in one cluster; print the ratios; 0 when the median meets the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="labapp-sleep-scaling-") as tmp:
        with Cluster(workers=1, name="sleep-scaling", runtime_dir=tmp) as cluster:
            for trial in range(1, args.trials + 1):
                one, four = run_scaling(cluster, [1, 4], kind="sleep", tasks=16, duration_ms=200, progress=False)
                ratios.append(four["throughput"] / one["throughput"])
                print(
                    f"trial {trial}: {one['throughput']:.2f} tasks/s at 1 worker, "
                    f"{four['throughput']:.2f} at 4: ratio {ratios[-1]:.2f}",
                    flush=True,
                )
    median = statistics.median(ratios)
    verdict = "met" if median >= TARGET else "MISSED"
    print(f"4 workers / 1 worker, sleep 200 ms: median {median:.2f} (target >= {TARGET}): {verdict}")
    return 0 if median >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
