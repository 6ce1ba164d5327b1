"""The scaling benchmark: its arithmetic on hand-made inputs, and short real runs (shape, not speed)."""

from __future__ import annotations

import json

import pytest

from labapp import bench
from labapp.bench import BenchRecords, batch_size, parse_workers, summarize


def test_summarize_against_hand_made_points():
    points = summarize([
        {"workers": 1, "tasks": 10, "wall_s": 2.0},
        {"workers": 2, "tasks": 10, "wall_s": 1.25},
        {"workers": 4, "tasks": 20, "wall_s": 1.25},
    ])
    assert [p["throughput"] for p in points] == pytest.approx([5.0, 8.0, 16.0])
    assert [p["speedup"] for p in points] == pytest.approx([1.0, 1.6, 3.2])
    assert [p["efficiency"] for p in points] == pytest.approx([1.0, 0.8, 0.8])


def test_summarize_baseline_is_the_fewest_workers_whatever_the_order():
    points = summarize([
        {"workers": 4, "tasks": 30, "wall_s": 1.0, "extra": "kept"},
        {"workers": 2, "tasks": 20, "wall_s": 1.0},
    ])
    # the 2-worker point is taken as ideal: 10 tasks/s per worker
    assert points[0]["speedup"] == pytest.approx(3.0)
    assert points[0]["efficiency"] == pytest.approx(0.75)
    assert points[1]["speedup"] == pytest.approx(2.0)
    assert points[1]["efficiency"] == pytest.approx(1.0)
    assert points[0]["extra"] == "kept"
    assert summarize([]) == []


def test_parse_workers():
    assert parse_workers("1,2,4,8") == [1, 2, 4, 8]
    assert parse_workers(" 1, 2,,4,2 ") == [1, 2, 4]
    for bad in ("0,1", "1,x", "", "-1", "1.5"):
        with pytest.raises(ValueError):
            parse_workers(bad)


def test_default_batch_gives_each_worker_the_same_share():
    assert batch_size(1, None, 100) == 15
    assert batch_size(8, None, 100) == 8 * 15
    assert batch_size(4, None, 0) == 4 * bench.MAX_ROUNDS
    assert batch_size(2, None, 10_000) == 2 * bench.MIN_ROUNDS
    assert batch_size(8, 12, 100) == 12


def test_records_table_and_json_round_trip(tmp_path):
    points = summarize([{"workers": 1, "tasks": 4, "wall_s": 0.5, "timings": []},
                        {"workers": 2, "tasks": 4, "wall_s": 0.25, "timings": []}])
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


def test_cli_rejects_bad_arguments_before_starting_anything(capsys, monkeypatch):
    from labapp.cli import main

    assert main(["bench", "--workers", "1,zero"]) == 2
    assert main(["bench", "--duration", "-5"]) == 2
    assert main(["bench", "--tasks", "0"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["bench", "--workers", "1,2,64"]) == 2  # over the worker limit: said at once
    assert "from 0 to 16, got 64" in capsys.readouterr().err
    # output files are checked before minutes of measuring, not after
    assert main(["bench", "--json", "no/such/folder/out.json"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "--plot", "out.txt"]) == 2
    assert "cannot write .txt" in capsys.readouterr().err
    monkeypatch.setenv("LABAPP_VISIBILITY_TIMEOUT", "1")  # contradicts longtask_max_x
    assert main(["bench", "--workers", "1"]) == 2
    assert "error:" in capsys.readouterr().err


def test_run_scaling_validates_its_inputs():
    with pytest.raises(ValueError):
        bench.run_scaling(None, [1], kind="gpu")
    with pytest.raises(ValueError):
        bench.run_scaling(None, [0, 1])


def test_run_scaling_records_every_task_and_uses_every_worker(make_cluster):
    # how much faster 4 workers are is measured in benchmarks/, not here
    cluster = make_cluster(workers=1).start()
    records = bench.run_scaling(cluster, [1, 4], kind="sleep", tasks=12, duration_ms=100,
                                progress=False)
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
    code = main(["bench", "--workers", "1,2", "--kind", "sleep", "--tasks", "4", "--duration", "50",
                 "--json", str(out_json), "--plot", str(out_png)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "workers  tasks  wall s  tasks/s  speedup  efficiency" in printed
    data = json.loads(out_json.read_text())
    assert [p["workers"] for p in data["points"]] == [1, 2]
    for point in data["points"]:
        assert {"workers", "tasks", "wall_s", "throughput", "speedup", "efficiency", "timings"} <= set(point)
        assert len(point["timings"]) == 4
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_widget_turns_red_when_a_run_stops_early(monkeypatch):
    monkeypatch.setattr(bench, "in_notebook", lambda: True)
    stopped = bench.Progress(10)
    stopped.advance(3)
    stopped.close(ok=False)
    assert (stopped._widget.value, stopped._widget.bar_style) == (3, "danger")
    finished = bench.Progress(2)
    finished.advance(2)
    finished.close()
    assert finished._widget.bar_style == "success"
