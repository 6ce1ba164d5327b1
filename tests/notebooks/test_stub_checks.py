"""An exercise's check must fail on the stubs (nbgrader's validate --invert), inside nbval's own run.

nbval lets a ``fails-until-solved`` cell raise but does not require it (nbval 0.11: the tag only stops
an error from failing the cell). The root conftest.py fails a cell tagged ``check`` and
``fails-until-solved`` that ran without an error, so the nbval run of exercises/ (in `make test`) is the
check: a check that passes on the stubs would teach the stub's answer as right.
"""

import shutil

import pytest

from tests.notebooks.test_pytest_order import ISOLATED, notebook
from tests.support import paths

pytest_plugins = ["pytester"]


@pytest.fixture
def exercise(pytester):
    """A folder with this project's root conftest.py and an exercise whose check cell is given per test."""
    shutil.copy(paths.ROOT / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--nbval --nbval-current-env"\n'
    )
    (pytester.path / "exercises").mkdir()

    def run(check_source: str):
        cells = [
            ("answer = ...", []),
            ("def check(found):\n    assert found is not ..., f'expected a number, found {found!r}'", []),
            (check_source, ["check", "fails-until-solved"]),
        ]
        (pytester.path / "exercises/ex01_task.ipynb").write_text(notebook(cells))
        return pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider", *ISOLATED, "exercises")

    return run


def test_a_check_that_fails_on_the_stub_passes_under_nbval(exercise):
    exercise("check(answer)").assert_outcomes(passed=3)


def test_a_check_that_passes_on_the_stub_fails_and_says_so(exercise):
    run = exercise("check(42)")
    run.assert_outcomes(passed=2, failed=1)
    run.stdout.fnmatch_lines(["*ex01_task.ipynb Cell 2 (check(42)) passed on the stubs; expected every check to fail*"])
