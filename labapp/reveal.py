"""``reveal("ex01")``: put an exercise's solution code into a new notebook cell.

Two modes:
- own machine (``solutions/`` present, ``LABAPP_REVEAL_FROM`` unset): read the solution
  notebook, after the student confirms (``confirm=True`` skips the question);
- instructor mode (no ``solutions/``, as in a student pack, or ``LABAPP_REVEAL_FROM`` set):
  show only what the instructor published with ``labapp reveal exNN`` (labapp.authoring.reveal_store).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from labapp.authoring import regions, reveal_store
from labapp.authoring.exercises import SOLUTIONS, solution_notebooks
from labapp.authoring.translation import FOLDER as TRANSLATED_FOLDER
from labapp.authoring.translation import LANG as TRANSLATED_LANG
from labapp.i18n import _, language
from labapp.settings import Settings

_confirmed: set[str] = set()  # exercises this kernel already agreed to see


def find_root(start: Path | None = None) -> Path:
    """The project folder: the nearest folder up from ``start`` (default: cwd) with pyproject.toml and labapp/."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "labapp").is_dir():
            return folder
    package_root = Path(__file__).resolve().parent.parent
    return package_root if (package_root / "pyproject.toml").is_file() else start


def _matching(notebooks: list[Path], exercise: str) -> list[Path]:
    return [p for p in notebooks if p.name.startswith(exercise + "_") or p.stem == exercise]


def solution_parts(root: Path, exercise: str, lang: str | None = None) -> list[str]:
    """The code of each solution-notebook cell that holds a solution region, markers and hidden checks removed,
    from the solution in ``lang`` (default: the reader's, LABAPP_LANG) where the project has it, else English."""
    reveal_store.check_name(exercise)
    notebooks = solution_notebooks(root)
    if (language() if lang is None else lang) == TRANSLATED_LANG:
        translated = sorted((Path(root) / SOLUTIONS / TRANSLATED_FOLDER).glob("*.ipynb"))
        notebooks = translated if _matching(translated, exercise) else notebooks
    matches = _matching(notebooks, exercise)
    if len(matches) != 1:
        found = ", ".join(p.name for p in notebooks) or _("none")
        raise ValueError(
            _("expected one notebook {pattern} in {root}, found {count} (notebooks there: {found})").format(
                pattern=f"{SOLUTIONS}/{exercise}_*.ipynb", root=Path(root).resolve(), count=len(matches), found=found
            )
        )
    nb = nbformat.read(matches[0], as_version=4)
    parts = [
        regions.solution_text(cell.source)
        for cell in nb.cells
        if cell.cell_type == "code" and regions.has_solution(cell.source)
    ]
    if not parts:
        raise ValueError(
            _("{notebook} has no `### BEGIN SOLUTION` region in its code cells").format(
                notebook=f"{SOLUTIONS}/{matches[0].name}"
            )
        )
    return parts


def instructor_mode(root: Path, settings: Settings | None = None) -> bool:
    """True when reveal() must wait for the instructor: no solutions/ here, or LABAPP_REVEAL_FROM set."""
    settings = settings or Settings.from_env()
    return bool(settings.reveal_from) or not (Path(root) / SOLUTIONS).is_dir()


def _one_cell(exercise: str, parts: list[str], part: int | None) -> str | None:
    """The text of the new cell: all parts together when they can share a cell, else the chosen one."""
    if part is None and (len(parts) == 1 or not any(p.startswith("%%") for p in parts)):
        return "\n\n".join(parts)
    number = part or 1
    if not 1 <= number <= len(parts):
        print(
            _("{exercise}'s solution has {count} cell(s): expected part between 1 and {count}, found {part}").format(
                exercise=exercise, count=len(parts), part=part
            )
        )
        return None
    said = _(
        "{exercise}'s solution has {count} cells (a cell magic such as %%writefile must start its "
        "own cell); this is cell {number} of {count}."
    ).format(exercise=exercise, count=len(parts), number=number)
    if number < len(parts):
        said += " " + _("Run reveal({quoted}, part={next}) for the next.").format(
            quoted=repr(exercise), next=number + 1
        )
    print(said)
    return parts[number - 1]


def _show(code: str, exercise: str) -> None:
    """A new cell below in IPython; printed elsewhere."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        print(code)
        return
    shell.set_next_input(code, replace=False)
    print(_("The solution of {exercise} is in a new cell below: read it, then run it.").format(exercise=exercise))


def _ask(exercise: str) -> bool:
    """Ask the student; True only for 'yes'."""
    question = _(
        "Reveal the solution of {exercise}? It will appear in a new cell below, "
        "so try the exercise first. Type yes to reveal: "
    ).format(exercise=exercise)
    try:
        answer = input(question)
    except Exception:  # a front end without input (nbval, a script with no stdin)
        print(
            _("Cannot ask for confirmation here: call reveal({quoted}, confirm=True) to reveal.").format(
                quoted=repr(exercise)
            )
        )
        return False
    # the word the question asks for, in the reader's language; English "yes" is always understood
    return answer.strip().lower() in ("yes", _("yes"))


def reveal(exercise: str, confirm: bool = False, part: int | None = None, root: str | Path | None = None) -> None:
    """Put the solution code of ``exercise`` (e.g. "ex01") into a new cell below; say what happened."""
    code = _solution_cell(exercise, confirm, part, root)
    if code is not None:
        _show(code, exercise)
    # None, always: a returned string would be the calling cell's Out[...], the solution as one raw line


def _solution_cell(exercise: str, confirm: bool, part: int | None, root: str | Path | None) -> str | None:
    """The code of the cell to reveal, or None after saying why there is none."""
    try:
        reveal_store.check_name(exercise)
    except ValueError as exc:
        print(_("Nothing revealed: {reason}.").format(reason=exc))
        return None
    root = Path(root) if root is not None else find_root()
    settings = Settings.from_env()
    parts = (
        _published_parts(exercise, settings) if instructor_mode(root, settings) else _own_parts(exercise, root, confirm)
    )
    return None if parts is None else _one_cell(exercise, parts, part)


def _published_parts(exercise: str, settings: Settings) -> list[str] | None:
    """What the instructor published for exercise, or None after saying why there is nothing."""
    try:
        store = reveal_store.open_store(settings.reveal_from)
        entry = store.get(exercise)
    except (ValueError, reveal_store.StoreError) as exc:
        print(_("Cannot read what the instructor revealed: {error}").format(error=exc))
        return None
    if entry is None:
        print(
            _(
                "The instructor has not revealed {exercise} yet (nothing for it in the {store}). "
                "Keep trying, or ask them."
            ).format(exercise=exercise, store=store)
        )
        return None
    return entry.get("translations", {}).get(language()) or entry["parts"]  # the instructor's, in our language


def _own_parts(exercise: str, root: Path, confirm: bool) -> list[str] | None:
    """The solution from this machine's solutions/, once the student agreed; else None, said why."""
    if not confirm and exercise not in _confirmed:
        if not _ask(exercise):
            print(_("Nothing revealed: the solution of {exercise} stays hidden.").format(exercise=exercise))
            return None
    _confirmed.add(exercise)
    try:
        return solution_parts(root, exercise)
    except ValueError as exc:
        print(_("Nothing revealed: {reason}").format(reason=exc))
        return None
