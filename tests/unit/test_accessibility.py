"""Widgets' labels and roles, built without a cluster."""

from __future__ import annotations

from labapp import bench


def test_the_bench_progress_says_in_text_how_far_it_is(monkeypatch):
    monkeypatch.setattr(bench, "in_notebook", lambda: True)
    progress = bench.Progress(10)
    assert progress._label.value == ""  # what a notebook stores as the output (nbval compares it)
    progress.describe("2 workers: 10 tasks")
    progress.advance(10)
    assert progress._label.value == "2 workers: 10 tasks · 10/10 tasks done"
    stopped = bench.Progress(4)
    stopped.advance(1)
    stopped.close(ok=False)
    assert stopped._label.value == "1/4 tasks done (stopped)"
