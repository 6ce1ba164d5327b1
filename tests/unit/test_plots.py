"""Plots of scaling records, drawn from made-up records (no cluster)."""

from __future__ import annotations

import io

import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from labapp import plots
from labapp.bench import BenchRecords, summarize
from tests.support.bench_records import fake_point, fake_records

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


# ---------------------------------------------------------------- nothing covers the data
def made_up_records(workers: list[int], cores: int, speed: str) -> BenchRecords:
    """Points at the given worker counts: 'fast' scales ideally, 'slow' stops at the cores (CPU work),
    'noisy' wobbles around the ideal (a busy machine), 'collapse' falls past the cores."""
    points = []
    for n in workers:
        wall = {
            "fast": 1.0,
            "slow": max(1.0, n / cores),
            "noisy": 1.0 + 0.08 * (n % 3),
            "collapse": max(1.0, (n / cores) ** 1.5),
        }[speed]
        points.append(fake_point(n, 10 * n, wall))
    return BenchRecords(summarize(points), kind="cpu" if speed != "fast" else "sleep", duration_ms=100, cores=cores)


def display_points(ax) -> list[tuple[float, float]]:
    """Where every data point of ax is drawn (pixels): every marker of every line."""
    found = []
    for line in ax.lines:
        if line.get_marker() not in (None, "None", "", " "):
            found += [tuple(xy) for xy in line.get_transform().transform(line.get_xydata())]
    return found


def value_labels(ax) -> list:
    """The value labels written next to the points."""
    return [text for text in ax.texts if text.get_gid() == plots.POINT_LABEL]


def label_frame(label):
    """The label's box in pixels, with its background (laid out at the last draw)."""
    return Bbox.union([label.get_window_extent(), label.get_bbox_patch().get_window_extent()])


def coverings(fig: Figure) -> list[str]:
    """Everything in fig that covers something it must not (empty when the figure is clean)."""
    fig.draw_without_rendering()
    problems = []
    for ax in fig.axes:
        legend = ax.get_legend()
        boxes = [(label.get_text().replace("\n", " "), label_frame(label)) for label in value_labels(ax)]
        if legend is not None:
            frame = legend.get_window_extent()
            problems += [
                f"legend covers the point at {x:.0f},{y:.0f}" for x, y in display_points(ax) if frame.contains(x, y)
            ]
            problems += [f"legend covers the label {text!r}" for text, box in boxes if frame.overlaps(box)]
        axes_box = ax.get_window_extent()
        for text, box in boxes:
            if not (
                axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and axes_box.y0 <= box.y0 and box.y1 <= axes_box.y1
            ):
                problems.append(f"label {text!r} sticks out of its plot")
            for line in ax.lines:
                path = line.get_transform().transform_path(line.get_path())
                if path.intersects_bbox(box, filled=False):
                    problems.append(f"line {line.get_label()!r} runs through the label {text!r}")
            problems += [
                f"label {text!r} covers the point at {x:.0f},{y:.0f}"
                for x, y in display_points(ax)
                if box.contains(x, y)
            ]
        problems += [
            f"labels {a!r} and {b!r} overlap"
            for i, (a, box) in enumerate(boxes)
            for b, other in boxes[i + 1 :]
            if box.overlaps(other)
        ]
    return problems


WORKER_COUNTS = [[1, 2, 4, 8], [1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 4, 8, 16], [2, 4], [1]]


@pytest.mark.parametrize("cores", [1, 2, 4, 16])
@pytest.mark.parametrize("speed", ["fast", "slow", "noisy", "collapse"])
def test_no_legend_or_line_covers_points_or_labels(cores, speed):
    for workers in WORKER_COUNTS:
        records = made_up_records(workers, cores, speed)
        for fig in (plots.throughput_plot(records), plots.efficiency_plot(records)):
            assert coverings(fig) == [], (workers, cores, speed)


@pytest.mark.parametrize("cores, speed", [(2, "fast"), (2, "slow"), (1, "collapse"), (16, "noisy")])
def test_the_summary_figure_covers_nothing_either(cores, speed):
    records = made_up_records([1, 2, 4, 8], cores, speed)
    assert coverings(plots.summary_figure(records)) == []


def test_the_lesson_05_run_that_hid_its_labels_behind_the_cores_line():
    # lesson 05 on 2 cores: 18.4 tasks/s at 2 workers, its label crossed by the dotted "2 CPU cores"
    points = summarize(
        [fake_point(1, 15, 1.71), fake_point(2, 30, 1.63), fake_point(4, 60, 1.64), fake_point(8, 120, 1.78)]
    )
    fig = plots.summary_figure(BenchRecords(points, kind="sleep", duration_ms=100, cores=2))
    assert any("18.4/s" in label.get_text() for label in value_labels(fig.axes[0]))
    assert coverings(fig) == []


def lesson_01_times(blocking_step: float = 0.12) -> tuple[list[int], dict, dict]:
    """Response times shaped like lesson 01's: blocking grows with the clients, queued stays low."""
    loads = [1, 2, 4, 8]
    blocking = {n: [blocking_step * (i + 1) for i in range(n)] for n in loads}
    queued = {n: [0.004 + 0.003 * i for i in range(n)] for n in loads}
    return loads, blocking, queued


@pytest.mark.parametrize("step", [0.02, 0.08, 0.12, 1.5])  # 0.02 and 0.08: the old legend hid points
def test_lesson_01_legend_hides_no_line_or_point(step):
    loads, blocking, queued = lesson_01_times(step)
    fig = plots.response_time_plot(loads, blocking, queued)
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "blocking: fastest" in labels and "queued: fastest" in labels
    assert len(display_points(ax)) == 16  # slowest and fastest of both endpoints at 4 loads
    assert coverings(fig) == []
    assert png_bytes(fig).startswith(PNG_MAGIC)
