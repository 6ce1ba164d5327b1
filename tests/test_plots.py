"""Plots of a scaling run render to PNG without a display, with labels, units and reference lines."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from matplotlib.figure import Figure

from labapp import plots
from labapp.bench import BenchRecords, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_point(workers: int, tasks: int, wall: float, host: str = "vm") -> dict:
    """A point whose tasks run back to back, round-robin over the workers (hand-made, no cluster)."""
    step = wall / -(-tasks // workers)
    timings = []
    for i in range(tasks):
        start = (i // workers) * step + 0.01
        timings.append({"worker": f"w{i % workers + 1}@{host}", "pid": 1000 + i % workers,
                        "submitted": i * 0.001, "started": start, "finished": start + step * 0.9,
                        "received": start + step * 0.95})
    return {"workers": workers, "tasks": tasks, "wall_s": wall, "timings": timings,
            "workers_seen": sorted({t["worker"] for t in timings})}


def fake_records(kind: str = "sleep") -> BenchRecords:
    """Four hand-made points, 1 to 8 workers, scaling nearly ideally."""
    points = summarize([fake_point(1, 10, 1.0), fake_point(2, 20, 1.02), fake_point(4, 40, 1.05),
                        fake_point(8, 80, 1.1)])
    return BenchRecords(points, kind=kind, duration_ms=100, cores=2)


def png_bytes(fig: Figure) -> bytes:
    """The figure rendered as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def legend_texts(ax) -> list[str]:
    """The labels in an axes' legend."""
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_throughput_plot_has_units_ideal_line_and_cores():
    fig = plots.throughput_plot(fake_records())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "tasks per second" in ax.get_ylabel()
    assert "workers" in ax.get_xlabel()
    assert "Throughput vs workers" in ax.get_title() and "100 ms" in ax.get_title()
    labels = legend_texts(ax)
    assert any(label.startswith("ideal") for label in labels)
    assert any("2 CPU cores" in label for label in labels)
    assert [tick for tick in ax.get_xticks()] == [1, 2, 4, 8]
    assert png_bytes(fig).startswith(PNG_MAGIC)


def test_efficiency_plot_is_in_percent_with_the_ideal():
    fig = plots.efficiency_plot(fake_records("cpu"))
    ax = fig.axes[0]
    assert "efficiency" in ax.get_ylabel()
    assert "CPU tasks" in ax.get_title()
    assert any("100%" in label for label in legend_texts(ax))
    assert png_bytes(fig).startswith(PNG_MAGIC)


def test_timeline_has_a_row_per_worker():
    point = fake_records()[-1]
    fig = plots.timeline_plot(point, kind="sleep", duration_ms=100)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"w{i}" for i in range(1, 9)]
    assert "(s)" in ax.get_xlabel()
    assert "80 sleep tasks of 100 ms on 8 workers" in ax.get_title()
    assert "ms on average" in ax.get_title()
    assert png_bytes(fig).startswith(PNG_MAGIC)


def test_timeline_keeps_host_names_when_workers_span_machines():
    point = fake_point(2, 4, 1.0)
    point["timings"][1]["worker"] = "w1@other"
    point["throughput"] = 4.0
    labels = [t.get_text() for t in plots.timeline_plot(point).axes[0].get_yticklabels()]
    assert "w1@other" in labels and "w1@vm" in labels


def test_summary_figure_and_save(tmp_path):
    fig = plots.summary_figure(fake_records())
    assert len(fig.axes) == 3
    assert "Scaling benchmark" in fig.get_suptitle()
    path = plots.save_summary(list(fake_records()), tmp_path / "summary")  # plain list works too
    assert path == tmp_path / "summary.png" and path.read_bytes().startswith(PNG_MAGIC)


def test_a_plain_list_of_points_gets_no_invented_kind_or_duration():
    title = plots.summary_figure(list(fake_records())).get_suptitle()
    assert "Scaling benchmark: tasks," in title and " ms" not in title, title


def test_renders_without_a_display_and_without_pyplot(tmp_path):
    script = (
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "from test_plots import fake_records\n"
        "from labapp import plots\n"
        "plots.save_summary(fake_records(), %r)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    ) % (os.path.dirname(__file__), str(tmp_path / "headless.png"))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "headless.png").read_bytes().startswith(PNG_MAGIC)
