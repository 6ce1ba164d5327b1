"""The project's own exercises: fresh, with checks that fail on the stubs, and a pack without solutions.

That each check fails on the stubs is checked where nbval runs exercises/ (pyproject testpaths): the
root conftest.py fails a check cell that did not raise (tests/notebooks/test_stub_checks.py), as
``nbgrader validate --invert`` does.
"""

from __future__ import annotations

import nbformat
import pytest

from labapp.authoring import exercises, pack
from labapp.cli.authoring import exercises_command
from tests.support import paths

ROOT = paths.ROOT
EXERCISES = sorted((ROOT / exercises.EXERCISES).glob("*.ipynb"))


def check_cells(nb) -> list[int]:
    """Indexes of the cells tagged ``check`` (the check_exNN() calls)."""
    return [i for i, cell in enumerate(nb.cells) if exercises.CHECK in cell.metadata.get("tags", [])]


def test_exercises_are_generated_from_the_solutions(capsys):
    code = exercises_command(ROOT, check=True)
    assert code == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_every_exercise_ends_with_a_check_that_may_raise(path):
    nb = nbformat.read(path, as_version=4)
    checks = check_cells(nb)
    assert checks, (
        f"{exercises.EXERCISES}/{path.name} has no cell tagged `check`: tag the check_exNN() cell of "
        f"{exercises.SOLUTIONS}/{path.name} and run `labapp exercises`"
    )
    for index in checks:
        assert exercises.RAISES in nb.cells[index].metadata["tags"], f"{path.name} cell {index + 1}"


def test_the_student_pack_of_this_project_holds_no_solution(tmp_path):
    dest = tmp_path / "pack"
    files = pack.pack(ROOT, dest)  # raises PackError naming file:line if a solution line survived
    assert pack.scan(dest, pack.solution_lines(ROOT)) == []  # the grep, once more, on what was written
    assert not (dest / exercises.SOLUTIONS).exists()
    assert not (dest / "tests" / "mistakes").exists()  # planted mistakes quote the solutions' lines
    assert not (dest / "tests" / "test_exercise_mistakes.py").exists()  # it runs solutions/, absent in a pack
    assert "Makefile" in files and "pyproject.toml" in files and "README.md" in files
    assert sorted(p.name for p in (dest / exercises.EXERCISES).glob("*.ipynb")) == [p.name for p in EXERCISES]
    assert exercises_command(dest, check=True) == 0
