"""Hooks that hold for any set of tests pytest runs: one lesson, a folder of notebooks, the tests,
or all of them. This file sits at the project's root, so pytest loads it whatever it collects;
tests/conftest.py (the fixtures and the test sandbox) loads only when something in tests/ runs."""

import os
from functools import cache

import pytest

from tests.support import machine_turns

# the settings tests/conftest.py gives every test cluster through the environment
TEST_ONLY_SETTINGS = ("LABAPP_VISIBILITY_TIMEOUT", "LABAPP_LONGTASK_MAX_X")
# an exercise's stubs fail on purpose (see labapp.authoring.exercises.RAISES): nbval then expects the error
FAILS_UNTIL_SOLVED = "fails-until-solved"
# an exercise's check cells (tagged this and fails-until-solved) must raise on the stubs (nbgrader validate --invert)
CHECK = "check"
# runs after everything else, so that it also covers the notebooks' kernels and clusters
LAST_FILE = "test_no_leftovers.py"
# notebooks whose checked outputs judge measured speed (every folder and language): each has the machine alone.
# Lessons 05, 07 and 08 measure too, but what nbval compares of them holds on a busy machine (their figures are
# tagged nbval-ignore-output; a live run goes on until its last change is measured): they share it
MEASURING_NOTEBOOKS = ("ex03_several_workers.ipynb",)
# its kernels take turns themselves, one job at a time (tests/notebooks/test_exercise_mistakes.py)
TAKES_ITS_OWN_TURNS = "test_exercise_mistakes.py"
_alone = None  # the turn a measuring notebook holds from its first cell to its last


def is_notebook_cell(item) -> bool:
    """True for nbval's items: one per notebook cell."""
    return type(item).__name__ == "IPyNbCell"


def ordered(items: list) -> list:
    """The other tests first (in the order given), then each notebook's cells in the notebook's
    own order (a notebook is a script), then the leftover check."""
    cells = sorted((item for item in items if is_notebook_cell(item)), key=lambda item: (str(item.path), item.cell_num))
    last = [item for item in items if item.path.name == LAST_FILE]
    rest = [item for item in items if not is_notebook_cell(item) and item not in last]
    return rest + cells + last


# pytest-randomly shuffles in a wrapper, before its yield: a plain implementation always comes after
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Put the items in ordered() order; let nbval accept the errors of fails-until-solved cells."""
    items[:] = ordered(items)
    for item in items:
        if is_notebook_cell(item) and FAILS_UNTIL_SOLVED in item.cell.get("metadata", {}).get("tags", []):
            item.options["check_exception"] = True


def pytest_terminal_summary(terminalreporter, config):
    """Say the order's seed last, even with -q: a failure that depends on the order can be rerun."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(f"tests ran in random order; the same order: -p randomly --randomly-seed={seed}")


@cache
def kernelspec_env(name: str) -> dict:
    """The environment variables a kernelspec gives its kernels (the pt-BR kernel's LABAPP_LANG)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return dict(KernelSpecManager().get_kernel_spec(name).env)
    except NoSuchKernel:
        if name == "python3":
            return {}
        raise pytest.UsageError(
            f"a notebook names the kernel {name!r}, not installed here: run `make install`"
        ) from None


def notebook_kernel_env(item) -> dict:
    """What the notebook's own kernelspec adds to its kernel's environment.

    nbval's --nbval-current-env starts this environment's python, ignoring the kernelspec the notebook
    names; its ``env`` (``LABAPP_LANG=pt_BR`` for the pt-BR notebooks) is applied here instead.
    """
    return kernelspec_env(item.parent.nb.metadata.get("kernelspec", {}).get("name", "python3"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel (started in its first cell's setup) gets the student's defaults."""
    if not is_notebook_cell(item):
        yield
        return
    added = notebook_kernel_env(item)
    # the language too: an English notebook runs in English even from a shell with LABAPP_LANG=pt_BR
    saved = {
        name: os.environ.pop(name, None) for name in (*TEST_ONLY_SETTINGS, "LABAPP_RUNTIME_DIR", "LABAPP_LANG", *added)
    }
    if saved["LABAPP_RUNTIME_DIR"]:
        # lessons, exercises and solutions in folders of their own: ex03 and its solution share a
        # cluster name, and the tasks one leaves unfinished would run in the other's cluster
        # (notebooks/pt-BR and solutions/pt-BR apart too: notebooks-pt-BR, solutions-pt-BR)
        folder, root = item.path.parent, item.config.rootpath
        name = (
            "-".join(folder.relative_to(root).parts) if folder.is_relative_to(root) and folder != root else folder.name
        )
        os.environ["LABAPP_RUNTIME_DIR"] = os.path.join(saved["LABAPP_RUNTIME_DIR"], name)
    os.environ.update(added)
    try:
        yield
    finally:
        os.environ.pop("LABAPP_RUNTIME_DIR", None)
        for name in added:
            os.environ.pop(name, None)
        os.environ.update({name: value for name, value in saved.items() if value is not None})


def stub_check_passed(item) -> str | None:
    """For an exercise's check cell run on the stubs: the message if it did NOT raise, else None."""
    tags = item.cell.get("metadata", {}).get("tags", [])
    if not (CHECK in tags and FAILS_UNTIL_SOLVED in tags):
        return None
    outputs = getattr(item, "test_outputs", None) or []
    if any(output.get("output_type") == "error" for output in outputs):
        return None
    first = item.cell.get("source", "").strip().splitlines()[:1]
    return (
        f"{item.path.name} {item.name} ({first[0] if first else ''}) passed on the stubs; expected "
        "every check to fail until the student writes the solution (nbgrader validate --invert). "
        "Make the check catch the stub's answer."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """nbval lets a fails-until-solved cell raise but does not require it: an exercise's check must raise."""
    outcome = yield
    if is_notebook_cell(item) and outcome.excinfo is None:
        passed = stub_check_passed(item)
        if passed:
            pytest.fail(passed, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Beside another session (`make test`), a test shares the machine; a measuring notebook holds it alone."""
    global _alone
    if not os.environ.get(machine_turns.VARIABLE) or item.path.name == TAKES_ITS_OWN_TURNS:
        yield
        return
    if not (is_notebook_cell(item) and item.path.name in MEASURING_NOTEBOOKS):
        with machine_turns.beside_others():
            yield
        return
    if _alone is None:
        _alone = machine_turns.alone()
        _alone.__enter__()
    try:
        yield
    finally:
        if nextitem is None or nextitem.path != item.path:
            _alone.__exit__(None, None, None)
            _alone = None
