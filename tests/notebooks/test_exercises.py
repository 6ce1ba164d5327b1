"""The project's own exercises: fresh, with checks that fail on the stubs, and a pack without solutions.

nbval runs exercises/ too (pyproject testpaths), but it treats a ``raises-exception`` cell that does
NOT raise as a pass (nbval 0.11, plugin.py: the tag only stops an error from failing the cell). So
a check that passes on the stubs would go unnoticed there; test_stubs_fail_every_check catches it,
as ``nbgrader validate --invert`` does.
"""

from __future__ import annotations

import nbformat
import pytest

from labapp.authoring import exercises, pack
from labapp.cli.authoring import exercises_command
from tests.support import paths

ROOT = paths.ROOT
EXERCISES = sorted((ROOT / exercises.EXERCISES).glob("*.ipynb"))
CELL_TIMEOUT = 180  # s; a check waits on the cluster with its own, shorter, timeouts


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


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_stubs_fail_every_check(path):
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    nb = nbformat.read(path, as_version=4)
    # the kernel nbval uses with --nbval-current-env: this environment's python, cwd the notebook's folder
    manager = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())
    client = NotebookClient(
        nb, km=manager, timeout=CELL_TIMEOUT, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    finally:  # nbclient leaves a kernel it did not create running; graceful, so atexit stops the cluster
        if manager.has_kernel:
            manager.shutdown_kernel(now=False)
    passed = [
        f"cell {i + 1} ({nb.cells[i].source.strip().splitlines()[0] if nb.cells[i].source.strip() else ''})"
        for i in check_cells(nb)
        if not any(out.output_type == "error" for out in nb.cells[i].outputs)
    ]
    assert not passed, (
        f"{exercises.EXERCISES}/{path.name}: {', '.join(passed)} passed on the stubs; expected every "
        "check to fail until the student writes the solution (nbgrader validate --invert). "
        "Make the check catch the stub's answer."
    )


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
