"""The benchmark's arithmetic and argument checks (no cluster)."""

from __future__ import annotations

import pytest

from labapp import bench
from labapp.bench import batch_size, parse_workers, summarize


def test_summarize_against_hand_made_points():
    points = summarize(
        [
            {"workers": 1, "tasks": 10, "wall_s": 2.0},
            {"workers": 2, "tasks": 10, "wall_s": 1.25},
            {"workers": 4, "tasks": 20, "wall_s": 1.25},
        ]
    )
    assert [p["throughput"] for p in points] == pytest.approx([5.0, 8.0, 16.0])
    assert [p["speedup"] for p in points] == pytest.approx([1.0, 1.6, 3.2])
    assert [p["efficiency"] for p in points] == pytest.approx([1.0, 0.8, 0.8])


def test_summarize_baseline_is_the_fewest_workers_whatever_the_order():
    points = summarize(
        [
            {"workers": 4, "tasks": 30, "wall_s": 1.0, "extra": "kept"},
            {"workers": 2, "tasks": 20, "wall_s": 1.0},
        ]
    )
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
