"""The lessons are executed with committed outputs (strict nbval compares them); see notebooks/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import paths

ROOT = paths.ROOT
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def code_cells(path: Path) -> list[dict]:
    """The non-empty code cells of a notebook."""
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_the_lessons_are_there_in_order():
    numbers = [int(path.name[:2]) for path in LESSONS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 8, f"lessons found: {[p.name for p in LESSONS]}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_code_cell_has_a_committed_execution(path):
    unexecuted = [i for i, cell in enumerate(code_cells(path)) if cell.get("execution_count") is None]
    assert not unexecuted, (
        f"{path.name}: code cells {unexecuted} have no committed execution; strict nbval "
        "would compare nothing there. Run the notebook in the project's kernel and save it."
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_starts_and_stops_the_same_way(path):
    cells = ["".join(cell["source"]) for cell in code_cells(path)]
    start = next((c for c in cells if "Cluster(" in c), "")
    assert "from labapp import Cluster" in start and ".start()" in start, f"{path.name}: no start cell"
    assert "safe to run twice" in start, f"{path.name}: the start cell does not say it is safe to run twice"
    assert cells[-1].strip().endswith("cluster.stop()"), f"{path.name}: the last cell is not the stop cell"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_has_a_goal_and_a_summary(path):
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    assert "**Goal:**" in text and "## What you saw" in text, f"{path.name}: goal or 'What you saw' missing"


ALL_NOTEBOOKS = sorted([*LESSONS, *(ROOT / "solutions").glob("*.ipynb"), *(ROOT / "exercises").glob("*.ipynb")])


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_nbval_directives_are_cell_tags_never_comments_students_read(path):
    """nbval honours the tags nbval-ignore-output, nbval-skip...; a '# NBVAL_' comment is test scaffolding
    in the student's code, so none may appear (the tag does the same job, out of sight)."""
    marked = [
        i
        for i, cell in enumerate(json.loads(path.read_text())["cells"])
        if cell["cell_type"] == "code" and "NBVAL_" in "".join(cell["source"])
    ]
    assert not marked, (
        f"{path.parent.name}/{path.name}: cells {marked} carry a '# NBVAL_...' marker comment; "
        "use the cell tag instead (e.g. nbval-ignore-output)"
    )


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_nbval_tags_are_ones_nbval_knows(path):
    """A misspelt nbval tag is silently ignored by nbval, and the cell is then compared after all."""
    from nbval.plugin import metadata_tags  # the tags nbval itself reads

    known = set(metadata_tags)
    odd = {
        tag
        for cell in json.loads(path.read_text())["cells"]
        for tag in cell.get("metadata", {}).get("tags", [])
        if tag.startswith("nbval") and tag not in known
    }
    assert not odd, f"{path.parent.name}/{path.name}: unknown nbval tags {sorted(odd)}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_stop_cell_says_what_it_stopped(path):
    """The stop cell's Out[] names the lesson's cluster (strict nbval compares it on every run)."""
    outputs = code_cells(path)[-1].get("outputs", [])
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert shown.startswith(f"stopped cluster 'lesson{path.name[:2]}': "), (
        f"{path.name}: the stop cell shows {shown!r}, expected what cluster.stop() stopped"
    )


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_solution_stop_cell_says_what_it_stopped(path):
    """Solutions run under strict nbval too: their stop cell's committed Out[] is what cluster.stop() says."""
    outputs = code_cells(path)[-1].get("outputs", [])
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert shown.startswith(f"stopped cluster '{path.name[:4]}': "), (
        f"solutions/{path.name}: the stop cell shows {shown!r}, expected what cluster.stop() stopped"
    )


@pytest.mark.parametrize("path", [*LESSONS, *sorted((ROOT / "solutions").glob("*.ipynb"))], ids=lambda p: p.name)
def test_every_figure_a_cell_returns_shows_as_an_image(path):
    """A matplotlib Figure returned by a cell shows as a picture, never only as '<Figure size ...>' text
    (a Figure made without pyplot needs the lab's PNG formatter; nbval compares only the text)."""
    bare = [
        cell["id"]
        for cell in code_cells(path)
        for output in cell.get("outputs", [])
        if "".join(output.get("data", {}).get("text/plain", "")).startswith("<Figure size")
        and "image/png" not in output["data"]
    ]
    assert not bare, f"{path.name}: cells {bare} return a figure shown only as text, expected its image"
