"""The scaling benchmark: its arithmetic on hand-made inputs, and short real runs (shape, not speed)."""

from __future__ import annotations

import json

from labapp import bench
from labapp.bench import BenchRecords, summarize


def test_records_table_and_json_round_trip(tmp_path):
    points = summarize(
        [
            {"workers": 1, "tasks": 4, "wall_s": 0.5, "timings": []},
            {"workers": 2, "tasks": 4, "wall_s": 0.25, "timings": []},
        ]
    )
    records = BenchRecords(points, kind="cpu", duration_ms=50, cores=2)
    table = records.table()
    assert "cpu tasks of 50 ms on 2 CPU cores" in table
    assert "tasks/s" in table and "efficiency" in table
    assert table.splitlines()[-1].split() == ["2", "4", "0.25", "16.0", "2.00", "100%"]
    assert "<table>" in records._repr_html_()
    path = records.save_json(tmp_path / "r.json")
    data = json.loads(path.read_text())
    assert {"kind", "duration_ms", "cores", "points"} <= set(data)
    again = BenchRecords.load_json(path)
    assert list(again) == list(records) and again.kind == "cpu" and again.cores == 2


def test_run_scaling_records_every_task_and_uses_every_worker(make_cluster):
    # how much faster 4 workers are is measured in benchmarks/, not here
    cluster = make_cluster(workers=1).start()
    records = bench.run_scaling(cluster, [1, 4], kind="sleep", tasks=12, duration_ms=100, progress=False)
    one, four = records
    assert (one["workers"], four["workers"]) == (1, 4) and len(cluster.workers) == 4
    assert {"throughput", "speedup", "efficiency", "wall_s", "task_s_mean", "queue_s_median"} <= set(four)
    for point in records:
        assert point["tasks"] == len(point["timings"]) == 12
        assert point["other_workers"] == []
        for t in point["timings"]:
            assert {"worker", "pid", "submitted", "started", "finished", "received"} <= set(t)
            assert 0 <= t["submitted"] <= t["received"] <= point["wall_s"] + 0.01
            assert t["started"] <= t["finished"]
            assert t["finished"] - t["started"] >= 0.099  # each task really slept its 100 ms
    ours = sorted(cluster.node_name(name) for name in cluster.workers)
    assert one["workers_seen"] == [cluster.node_name("w1")]
    assert four["workers_seen"] == ours  # each of the 4 workers ran tasks
    assert {t["worker"] for t in four["timings"]} == set(ours)
    json.dumps(records.to_dict())  # JSON-ready


def test_cli_bench_prints_a_table_and_writes_both_files(tmp_path, capsys):
    from labapp.cli import main

    out_json, out_png = tmp_path / "s.json", tmp_path / "s.png"
    code = main(
        [
            "bench",
            "--workers",
            "1,2",
            "--kind",
            "sleep",
            "--tasks",
            "4",
            "--duration",
            "50",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "workers  tasks  wall s  tasks/s  speedup  efficiency" in printed
    data = json.loads(out_json.read_text())
    assert [p["workers"] for p in data["points"]] == [1, 2]
    for point in data["points"]:
        assert {"workers", "tasks", "wall_s", "throughput", "speedup", "efficiency", "timings"} <= set(point)
        assert len(point["timings"]) == 4
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
