"""Made-up scaling records, for tests of plots and tables that need no cluster."""

from __future__ import annotations

from labapp.bench import BenchRecords, summarize


def fake_point(workers: int, tasks: int, wall: float, host: str = "vm") -> dict:
    """A point whose tasks run back to back, round-robin over the workers (hand-made, no cluster)."""
    step = wall / -(-tasks // workers)
    timings = []
    for i in range(tasks):
        start = (i // workers) * step + 0.01
        timings.append(
            {
                "worker": f"w{i % workers + 1}@{host}",
                "pid": 1000 + i % workers,
                "submitted": i * 0.001,
                "started": start,
                "finished": start + step * 0.9,
                "received": start + step * 0.95,
            }
        )
    return {
        "workers": workers,
        "tasks": tasks,
        "wall_s": wall,
        "timings": timings,
        "workers_seen": sorted({t["worker"] for t in timings}),
    }


def fake_records(kind: str = "sleep") -> BenchRecords:
    """Four hand-made points, 1 to 8 workers, scaling nearly ideally."""
    points = summarize(
        [fake_point(1, 10, 1.0), fake_point(2, 20, 1.02), fake_point(4, 40, 1.05), fake_point(8, 80, 1.1)]
    )
    return BenchRecords(points, kind=kind, duration_ms=100, cores=2)
