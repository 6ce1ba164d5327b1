"""Notebook cells run in their own order under pytest-randomly, whatever pytest collects: one lesson,
a folder of notebooks, or the whole suite (where the leftover check still runs last). The ordering
lives in the root conftest.py, which pytest loads for any of them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import paths

pytest_plugins = ["pytester"]  # in-process runs: a new python would import nbval's stack anew, ~5 s each
ROOT = paths.ROOT
SEEDS = (1, 2, 3)  # fixed: an order that breaks breaks on every run


def pytest_run(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run pytest in folder with pytest-randomly on; the finished process."""
    # a sandbox of its own: at its end, a session kills what still runs in its sandbox
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "LABAPP_TEST_SANDBOX"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "randomly", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# the outer session has imported test_no_leftovers (and conftest) under those module names already: an
# in-process run imports the project's copies by path instead, else pytest refuses ("import file mismatch")
ISOLATED = ("--import-mode=importlib",)


def node_ids(output: str) -> list[str]:
    """The node ids that `pytest --collect-only -q` printed, in order."""
    return [line for line in output.splitlines() if "::" in line]


def collected(pytester, *args: str) -> list[str]:
    """The node ids pytest would run in pytester's folder, in order (a run in this process)."""
    run = pytester.runpytest_inprocess(
        "-p", "randomly", "-p", "no:cacheprovider", *ISOLATED, "--collect-only", "-q", *args
    )
    assert run.ret == 0, run.stdout.str()[-3000:]
    return node_ids(run.stdout.str())


def cells_in_order(ids: list[str]) -> bool:
    """True when every notebook's cells come one after the other, Cell 0, Cell 1, ..."""
    seen: dict[str, int] = {}
    for node in ids:
        path, _, name = node.partition("::")
        if name.startswith("Cell "):
            if int(name.split()[1]) != seen.get(path, -1) + 1:
                return False
            seen[path] = int(name.split()[1])
    return bool(seen)


def notebook(cells: list[tuple[str, list[str]]]) -> str:
    """A notebook whose code cells are the given (source, tags), with no stored output."""
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [
                {
                    "cell_type": "code",
                    "id": f"c{i}",
                    "metadata": {"tags": tags},
                    "source": source,
                    "outputs": [],
                    "execution_count": None,
                }
                for i, (source, tags) in enumerate(cells)
            ],
        }
    )


@pytest.fixture
def project(pytester) -> Path:
    """A small project laid out like this one, with this project's root conftest.py: notebooks whose
    cells fail in any order but their own, an exercise whose stub fails on purpose, and tests."""
    tmp_path = pytester.path
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["tests", "notebooks", "exercises"]\n'
        'addopts = "--nbval --nbval-current-env"\n'
    )
    chain = [("step = 0", [])] + [(f"assert step == {i}\nstep = {i + 1}", []) for i in range(7)]
    for name in ("notebooks/01_lesson.ipynb", "notebooks/02_lesson.ipynb"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(notebook(chain))
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises/ex01_task.ipynb").write_text(
        notebook(
            chain[:4] + [("raise NotImplementedError('write your code here')", ["fails-until-solved"])] + chain[4:]
        )
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_some.py").write_text("".join(f"def test_{i}():\n    pass\n\n\n" for i in range(8)))
    (tmp_path / "tests/test_no_leftovers.py").write_text("def test_nothing_left():\n    pass\n")
    return pytester


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "subset",
    [["notebooks/01_lesson.ipynb"], ["notebooks"], ["exercises"], []],
    ids=["one lesson", "notebooks", "exercises", "whole suite"],
)
def test_cells_keep_their_order_in_any_subset(project, subset, seed):
    ids = collected(project, f"--randomly-seed={seed}", *subset)
    assert cells_in_order(ids), "\n".join(ids)
    if not subset:
        assert ids[-1] == "tests/test_no_leftovers.py::test_nothing_left", "\n".join(ids)
        first_cell = next(i for i, node in enumerate(ids) if "::Cell " in node)
        assert all("::Cell " in node for node in ids[first_cell:-1]), "\n".join(ids)


@pytest.mark.parametrize("target", ["notebooks/01_lesson.ipynb", "exercises/ex01_task.ipynb"])
def test_one_notebook_alone_passes_under_pytest_randomly(project, target):
    """Run for real: a shuffled cell fails its assert; the exercise's stub error is expected."""
    run = project.runpytest_inprocess(
        "-p", "randomly", "-p", "no:cacheprovider", *ISOLATED, "--randomly-seed=2", target
    )
    run.assert_outcomes(passed=9 if target.startswith("exercises") else 8)


@pytest.mark.parametrize("seed", SEEDS)
def test_this_projects_lesson_and_exercise_alone_keep_their_order(pytester, monkeypatch, seed):
    """Collection only, in this project: what an instructor checking one notebook runs."""
    monkeypatch.chdir(ROOT)
    for target in ("notebooks/00_setup.ipynb", "exercises/ex01_factorial_task.ipynb"):
        alone = collected(pytester, f"--randomly-seed={seed}", target)
        assert cells_in_order(alone) and len(alone) > 5, "\n".join(alone)


def test_this_projects_whole_suite_keeps_cells_in_order_and_the_leftover_check_last():
    """In a new process: the whole suite's collection imports tests/conftest.py, which sets up a sandbox."""
    run = pytest_run(ROOT, "--collect-only", "-q", "--randomly-seed=3")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    everything = node_ids(run.stdout)
    assert cells_in_order(everything)
    leftover_checks = [
        i for i, node in enumerate(everything) if node.startswith("tests/notebooks/test_no_leftovers.py::")
    ]
    assert leftover_checks == list(range(len(everything) - len(leftover_checks), len(everything)))
    assert leftover_checks[0] > max(i for i, node in enumerate(everything) if "::Cell " in node)
