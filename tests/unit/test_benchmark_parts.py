"""The benchmark's breakdown of a scaling point's efficiency (benchmarks/compare_bare_celery.py)."""

from __future__ import annotations

import pytest

from benchmarks.compare_bare_celery import efficiency_parts


def point(workers: int, starts: dict[str, list[float]], task_s: float = 0.1) -> dict:
    """A scaling point whose tasks started at starts[worker] and each ran task_s."""
    timings = [
        {"worker": name, "started": at, "finished": at + task_s} for name, times in starts.items() for at in times
    ]
    wall = max(t["finished"] for t in timings)
    return {"workers": workers, "timings": timings, "wall_s": wall, "efficiency": 0.9}


def test_gap_ramp_and_tail_are_read_from_each_workers_own_tasks():
    one = point(1, {"w1": [0.002, 0.106, 0.210]})  # 4 ms between tasks, first start at 2 ms
    many = point(
        3,
        {
            "w1": [0.010, 0.115, 0.220],  # 5 ms gaps
            "w2": [0.020, 0.125, 0.230],
            "w3": [0.030, 0.145, 0.260],  # 15 ms gaps: it finishes last, 30 ms after the median worker
        },
    )
    parts = efficiency_parts(one, many)
    assert parts["one"]["gap_ms"] == pytest.approx(4.0)
    assert parts["one"]["ramp_ms"] == pytest.approx(2.0)
    assert parts["one"]["tail_ms"] == pytest.approx(0.0)
    assert parts["many"]["gap_ms"] == pytest.approx(5.0)
    assert parts["many"]["gap_mean_ms"] == pytest.approx((5 * 4 + 15 * 2) / 6)
    assert parts["many"]["ramp_ms"] == pytest.approx(20.0)
    assert parts["many"]["tail_ms"] == pytest.approx(30.0)
    assert parts["workers"] == 3
