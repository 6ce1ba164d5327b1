"""Every check catches the mistakes students really make: nbgrader's validate --invert, with real wrong answers.

Each ``tests/notebooks/mistakes/exNN.toml`` lists mistakes as data (a solution cell's text and what a student wrote
instead). Each mistake is planted into a copy of the solution, the copy runs from the top on a fresh
cluster in a real kernel, and the check cell must fail with a ``CheckFailed`` whose message names the
mistake (``Mistake.expect``). Any other error from the check cell (a traceback from the lab or from the
student's code) fails the test.

Two kernels (one on a single core) share the runs, each in a thread of its own: every run first stops
that kernel's previous cluster and clears its namespace and its ``work/`` folder, so a mistake never
inherits the previous run's state. Each kernel's working directory is its own temporary copy of
``solutions/`` (``work/`` files never land in the repository) with its own runtime folder, so the two
kernels' clusters of one exercise never meet. The runs happen in the first test that needs them; each
test then judges its own run.

The solutions themselves pass their checks under strict nbval, in both languages (solutions/ and
solutions/pt-BR in `make test`), so they are not run here again. A check that measures (ex03) refuses to
pass on a machine it measured as too busy to judge; the mistakes are caught before that verdict (by what
the check observed, not by speed), so they hold under load, and a mistake refused as too busy runs once more.
"""

from __future__ import annotations

import copy
import os
import queue
import re
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from labapp.authoring import exercises
from tests.notebooks import mistakes
from tests.notebooks.mistakes import Mistake
from tests.support import machine_turns, paths

ROOT = paths.ROOT

SOLUTIONS = sorted((ROOT / exercises.SOLUTIONS).glob("ex*.ipynb"))
CELL_TIMEOUT = 240  # s; the checks wait on the cluster with their own, shorter, timeouts
SLOW_EXERCISES = ("ex06", "ex05", "ex04")  # their runs take longest: started first, the short ones fill in
BUSY = re.compile(r"too busy to judge")  # the checks' own word when the machine cannot be judged
# run before each notebook: the previous run's cluster goes, and with it every piece of its state
RESET = """\
for _name in ("cluster",):
    if _name in globals():
        try:
            globals()[_name].stop()
        except Exception as _exc:
            print("stopping the previous cluster:", _exc)
%reset -f
import shutil
from tests.support import paths
shutil.rmtree("work", ignore_errors=True)
"""
STOP = """\
if "cluster" in globals():
    cluster.stop()
"""
STOPPING = threading.Event()  # set on Ctrl-C: no cell starts any more, except each kernel's STOP


def exercise_of(path: Path) -> str:
    """ex03 for solutions/ex03_several_workers.ipynb."""
    return path.name.split("_")[0]


def mistakes_of(exercise: str) -> list[Mistake]:
    """The mistakes of tests/notebooks/mistakes/<exercise>.toml (empty if that file does not exist yet)."""
    return mistakes.load(exercise)


def check_index(nb) -> int:
    """Index of the notebook's single cell tagged ``check``."""
    found = [i for i, cell in enumerate(nb.cells) if exercises.CHECK in cell.metadata.get("tags", [])]
    assert len(found) == 1, f"expected one cell tagged {exercises.CHECK!r}, found {len(found)}"
    return found[0]


def plant(nb, mistake: Mistake):
    """A copy of the notebook with the mistake's edits made; each `find` must occur exactly once in its cell."""
    planted = copy.deepcopy(nb)
    cells = {cell.get("id"): cell for cell in planted.cells}
    for cell_id, edits in mistake.edits().items():
        assert cell_id in cells, f"{mistake.name!r}: no cell with id {cell_id!r} in the solution"
        for find, replace in edits:
            source = cells[cell_id].source
            assert source.count(find) == 1, (
                f"{mistake.name!r}: expected the text {find!r} once in cell "
                f"{cell_id}, found it {source.count(find)} times"
            )
            cells[cell_id].source = source.replace(find, replace)
    return planted


PARAMS = [
    pytest.param(path, mistake, id=f"{exercise_of(path)}-{mistake.name}")
    for path in SOLUTIONS
    for mistake in mistakes_of(exercise_of(path))
]


class Kernel:
    """One kernel of this environment (nbval's), its cwd a private copy of solutions/ and its own runtime folder."""

    def __init__(self, folder: Path):
        from jupyter_client import KernelManager
        from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

        folder.mkdir(parents=True)
        for path in SOLUTIONS:
            shutil.copy(path, folder / path.name)
        # two kernels run the same exercise's cluster name at once: each keeps its clusters apart
        env = {**os.environ, "LABAPP_RUNTIME_DIR": str(folder / "runtime")}
        self.manager = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())
        self.manager.start_kernel(cwd=str(folder), env=env)
        self.client = self.manager.client()
        self.client.manager = self.manager  # so that a cell that hangs can be interrupted (_run)
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def close(self) -> None:
        """Stop the last run's cluster from inside, then the kernel (graceful: its atexit stops what is left)."""
        try:
            _run(self.client, STOP, even_when_stopping=True)
        finally:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=False)


def parallel_runs() -> int:
    """Kernels that run at once: two where two cores are free (the runs mostly wait on workers), else one."""
    from labapp.engine.this_process import usable_cores

    return 2 if usable_cores() >= 2 else 1


@pytest.fixture(scope="module")
def verdicts(request, tmp_path_factory):
    """Run every selected planted mistake once, spread over parallel kernels; {job id: outputs}."""
    jobs = [
        (item.callspec.params["path"], item.callspec.params["mistake"])
        for item in request.session.items
        if getattr(item, "function", None) is test_check_catches_the_mistake
    ]  # what -k or a node id chose
    jobs.sort(key=lambda job: exercise_of(job[0]) in SLOW_EXERCISES, reverse=True)  # the long ones first
    todo = queue.Queue()
    for job in jobs:
        todo.put(job)
    done: dict[str, tuple] = {}
    base = tmp_path_factory.mktemp("kernels")
    started: list[Kernel] = []

    def serve(kernel: Kernel) -> None:  # one thread per kernel: a kernel's client stays in its thread
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                with machine_turns.beside_others():
                    done[job_id(*job)] = judge(kernel.client, *job)
            except BaseException as exc:  # the test of this job reports it; the others go on
                done[job_id(*job)] = exc

    try:
        for index in range(parallel_runs()):
            started.append(Kernel(base / f"k{index}"))
        threads = [threading.Thread(target=serve, args=(kernel,), daemon=True) for kernel in started]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C: no cell starts any more, the running ones are interrupted, then all stops
            STOPPING.set()
            while not todo.empty():
                todo.get_nowait()
            for kernel in started:
                kernel.manager.interrupt_kernel()
            for thread in threads:
                thread.join(timeout=60)
            raise
        yield done
    finally:
        for kernel in started:
            kernel.close()


def job_id(path: Path, mistake: Mistake) -> str:
    """ex03-<the mistake's name>."""
    return f"{exercise_of(path)}-{mistake.name}"


def judge(client, path: Path, mistake: Mistake) -> tuple[list[dict], list[str]]:
    """Run the planted mistake (once more if the check found the machine too busy to judge)."""
    nb = nbformat.read(path, as_version=4)
    outputs, earlier = run_notebook(client, plant(nb, mistake))
    if _refused(outputs):  # the check found the machine too busy to judge the mistake: once more
        outputs, earlier = run_notebook(client, plant(nb, mistake))
    return outputs, earlier


def _run(client, code: str, even_when_stopping: bool = False) -> list[dict]:
    """Execute code in the kernel and return its outputs as nbformat-like dicts."""
    if STOPPING.is_set() and not even_when_stopping:
        raise KeyboardInterrupt("the run was stopped (Ctrl-C)")
    outputs = []

    def keep(message):
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            outputs.append({"output_type": "stream", "text": content["text"]})
        elif kind == "error":
            outputs.append(
                {
                    "output_type": "error",
                    "ename": content["ename"],
                    "evalue": content["evalue"],
                    "traceback": content["traceback"],
                }
            )
        elif kind in ("execute_result", "display_data"):
            outputs.append({"output_type": kind, "text": content["data"].get("text/plain", "")})

    try:
        reply = client.execute_interactive(code, output_hook=keep, timeout=CELL_TIMEOUT, allow_stdin=False)
    except TimeoutError:  # interrupt it, so the next run finds the kernel idle
        client.manager.interrupt_kernel()
        client.execute_interactive("pass", timeout=60)
        raise AssertionError(f"a cell did not finish within {CELL_TIMEOUT} s:\n{code[:300]}") from None
    if reply["content"]["status"] == "error" and not any(o["output_type"] == "error" for o in outputs):
        content = reply["content"]
        outputs.append(
            {
                "output_type": "error",
                "ename": content["ename"],
                "evalue": content["evalue"],
                "traceback": content.get("traceback", []),
            }
        )
    return outputs


def run_notebook(client, nb) -> tuple[list[dict], list[str]]:
    """Run the notebook's code cells up to its check cell on a fresh cluster: (check outputs, earlier errors)."""
    _run(client, RESET)
    last = check_index(nb)
    earlier = []
    for index, cell in enumerate(nb.cells[: last + 1]):
        if cell.cell_type != "code":
            continue
        outputs = _run(client, cell.source)
        if index == last:
            return outputs, earlier
        earlier += [
            f"cell {cell.get('id')}: {o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"
        ]
    raise AssertionError("unreachable: the check cell is in the notebook")


def _refused(outputs: list[dict]) -> bool:
    """The check cell failed only because it measured the machine as too busy to judge (never a pass)."""
    error = _error(outputs)
    return bool(error and error["ename"] == "CheckFailed" and BUSY.search(error["evalue"]))


def _error(outputs: list[dict]) -> dict | None:
    return next((o for o in outputs if o["output_type"] == "error"), None)


def _shown(outputs: list[dict]) -> str:
    """What the student sees under the cell, in a few lines."""
    shown = []
    for o in outputs:
        if o["output_type"] == "error":
            tail = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in o["traceback"][-3:]]
            shown.append(f"{o['ename']}: {o['evalue']}\n" + "\n".join(tail))
        else:
            shown.append(o["text"].strip())
    return "\n".join(shown)[-1500:]


# all runs happen in the first test that asks for them (the fixture), so that one has the time of all
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("path", "mistake"), PARAMS)
def test_check_catches_the_mistake(verdicts, path, mistake):
    """Each planted mistake fails the check with a message that names the mistake."""
    exercise = exercise_of(path)
    verdict = verdicts[job_id(path, mistake)]
    if isinstance(verdict, BaseException):
        raise verdict
    outputs, earlier = verdict
    error = _error(outputs)
    context = f"{exercise}, planted mistake {mistake.name!r}"
    assert error is not None, (
        f"{context}: expected the check to fail, found it passed:\n{_shown(outputs)}"
        f"\n(errors in earlier cells: {'; '.join(earlier) or 'none'})"
    )
    assert error["ename"] == "CheckFailed", (
        f"{context}: expected a CheckFailed \u2717 line, found a traceback ({error['ename']}):\n{_shown(outputs)}"
    )
    assert re.search(mistake.expect, error["evalue"]), (
        f"{context}: expected the check's message to name the mistake (/{mistake.expect}/), found:\n"
        f"\u2717 {error['evalue']}"
    )


EXERCISE_IDS = [exercise_of(path) for path in SOLUTIONS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=EXERCISE_IDS)
def test_each_exercise_plants_at_least_six_mistakes_that_apply(path):
    """Six or more mistakes per exercise, each edit found exactly once in the solution (no kernel needed)."""
    nb = nbformat.read(path, as_version=4)
    planted = [mistake for mistake in mistakes_of(exercise_of(path)) if plant(nb, mistake)]
    assert len(planted) >= 6, (
        f"expected at least 6 mistakes in tests/notebooks/mistakes/{exercise_of(path)}.toml, found {len(planted)}"
    )


@pytest.mark.parametrize("path", SOLUTIONS, ids=EXERCISE_IDS)
def test_docs_list_every_planted_mistake(path):
    """docs/exercises.md names every planted mistake, in the exercise's own section."""
    text = (ROOT / "docs" / "exercises.md").read_text(encoding="utf-8")
    exercise = exercise_of(path)
    heading = re.search(rf"^### {exercise}\b.*$", text, flags=re.MULTILINE)
    assert heading, f"expected a section '### {exercise} · …' in docs/exercises.md, found none"
    section = text[heading.end() :].split("\n### ", 1)[0]
    missing = [mistake.name for mistake in mistakes_of(exercise) if mistake.name not in section]
    assert not missing, f"docs/exercises.md's {exercise} section does not list: {'; '.join(missing)}"


def test_a_measuring_run_waits_for_the_others_then_holds_the_machine():
    """Turns: alone() starts after the running side-by-side run ends, and a new one waits until it ends."""
    import time

    turns, log, started = machine_turns, [], threading.Event()

    def beside(name: str, pause: float) -> None:
        with turns.beside_others():
            log.append(f"{name} starts")
            started.set()
            time.sleep(pause)
            log.append(f"{name} ends")

    first = threading.Thread(target=beside, args=("first", 0.2))
    first.start()
    started.wait(5)
    with turns.alone():
        log.append("alone starts")
        started.clear()
        second = threading.Thread(target=beside, args=("second", 0))
        second.start()
        assert not started.wait(0.2), "a side-by-side run started while a measuring run held the machine"
        log.append("alone ends")
    first.join(5)
    second.join(5)
    assert log == ["first starts", "first ends", "alone starts", "alone ends", "second starts", "second ends"]
