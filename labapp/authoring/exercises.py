"""Generate the students' ``exercises/`` from the instructor's ``solutions/``, or check it is fresh.

For each ``solutions/*.ipynb`` the exercise notebook of the same name gets:
- solution regions replaced by stubs, hidden-check regions removed (see labapp.authoring.regions);
- outputs cleared and execution counts None; notebook and cell metadata kept (minus the
  ``execution`` timings of the run that was cleared); cell ids kept, so output is byte-stable;
- the tag ``fails-until-solved`` (the test suite lets nbval accept its error) on every code cell that held a solution
  region, every cell tagged ``check`` (the ``check_exNN()`` cells) and every cell tagged
  ``raises-in-exercise`` (a cell that only fails because an earlier stub does); other tags kept.
A cell that held nothing but hidden checks is left out.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import nbformat

from labapp.authoring import regions
from labapp.i18n import _

SOLUTIONS, EXERCISES = "solutions", "exercises"
# An error in this cell is expected while the stubs are unsolved. Not nbval's own `raises-exception`
# tag: JupyterLab's Run All goes on past a cell with that one, to the stop cell, and a student who
# then fixes a stub finds the cluster stopped. The root conftest.py tells nbval about this tag instead.
RAISES = "fails-until-solved"
CHECK = "check"  # the solution's check_exNN() cells: pass on the solution, must fail on the stubs
RAISES_IN_EXERCISE = "raises-in-exercise"  # solution-side: this cell fails once earlier cells are stubs


class ExerciseError(ValueError):
    """A solution notebook that cannot be turned into an exercise."""


def solution_notebooks(root: Path) -> list[Path]:
    """The instructor's notebooks, ``solutions/*.ipynb``, sorted by name."""
    return sorted((Path(root) / SOLUTIONS).glob("*.ipynb"))


def _cell_id(name: str, index: int) -> str:
    return "c" + hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:12]


def exercise_notebook(nb: nbformat.NotebookNode, name: str = "", stubs: dict | None = None) -> nbformat.NotebookNode:
    """The student's notebook for one solution notebook (a new object; the argument is untouched);
    ``stubs``: the stub lines in the notebook's language (regions.stub)."""
    nb = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        where = f"{name} cell {index + 1}" if name else f"cell {index + 1}"
        try:
            source, had_solution = regions.stub(cell.source, cell.cell_type, stubs)
        except regions.RegionError as exc:
            raise ExerciseError(f"{where}, {exc}") from None
        if cell.source.strip() and not source.strip():
            continue  # nothing but hidden checks
        cell.source = source
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            tags = list(cell.metadata.get("tags", []))
            if (had_solution or CHECK in tags or RAISES_IN_EXERCISE in tags) and RAISES not in tags:
                cell.metadata["tags"] = tags + [RAISES]
        if nb.nbformat_minor >= 5 and not cell.get("id"):
            cell["id"] = _cell_id(name, index)
        cells.append(cell)
    nb.cells = cells
    return nb


def render(nb: nbformat.NotebookNode) -> bytes:
    """A notebook as the bytes written to disk (the same bytes every time)."""
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def expected(root: Path) -> dict[str, bytes]:
    """What ``exercises/`` must hold: file name -> bytes, from ``solutions/``."""
    files = {}
    for path in solution_notebooks(root):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # nbformat raises several kinds for a broken file
            raise ExerciseError(
                _("{notebook}: not a readable notebook ({error})").format(
                    notebook=f"{SOLUTIONS}/{path.name}", error=exc
                )
            ) from None
        files[path.name] = render(exercise_notebook(nb, f"{SOLUTIONS}/{path.name}"))
    return files


def differences(root: Path) -> list[str]:
    """One sentence per stale, missing or extra ``exercises/`` notebook; empty when fresh."""
    folder = Path(root) / EXERCISES
    wanted = expected(root)
    problems = []
    for name, content in wanted.items():
        path = folder / name
        if not path.exists():
            problems.append(
                _("{exercise} is missing (from {solution})").format(
                    exercise=f"{EXERCISES}/{name}", solution=f"{SOLUTIONS}/{name}"
                )
            )
        elif path.read_bytes() != content:
            problems.append(
                _("{exercise} is stale: it differs from what {solution} generates").format(
                    exercise=f"{EXERCISES}/{name}", solution=f"{SOLUTIONS}/{name}"
                )
            )
    for path in sorted(folder.glob("*.ipynb")):
        if path.name not in wanted:
            problems.append(
                _("{exercise} is extra: there is no {solution}").format(
                    exercise=f"{EXERCISES}/{path.name}", solution=f"{SOLUTIONS}/{path.name}"
                )
            )
    return problems


def generate(root: Path) -> list[str]:
    """Write ``exercises/`` from ``solutions/``; return what was done, one line per file."""
    folder = Path(root) / EXERCISES
    wanted = expected(root)  # every notebook parses before anything is written
    folder.mkdir(exist_ok=True)
    done = []
    for name, content in wanted.items():
        path = folder / name
        if path.exists() and path.read_bytes() == content:
            done.append(_("unchanged {exercise}").format(exercise=f"{EXERCISES}/{name}"))
            continue
        said = _("updated {exercise}") if path.exists() else _("wrote {exercise}")
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
        done.append(said.format(exercise=f"{EXERCISES}/{name}"))
    for path in sorted(folder.glob("*.ipynb")):
        if path.name not in wanted:
            path.unlink()
            done.append(
                _("removed {exercise} (its solution notebook is gone)").format(exercise=f"{EXERCISES}/{path.name}")
            )
    return done
