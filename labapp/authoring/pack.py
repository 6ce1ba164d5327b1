"""``labapp pack --student DIR``: a copy of the project for students, without solutions anywhere.

Copies the files git tracks (or, without git, a walk that skips .git, .venv, .labapp, caches
and build artefacts), minus ``solutions/``, the tests made of solutions (the planted mistakes) and
the instructor's notebook.
Then it scans every copied text file for every solution line and refuses the pack, removing only what it
wrote, if one is found.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from labapp.authoring import exercises, regions
from labapp.i18n import _

SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    ".labapp",
    "__pycache__",
    ".pytest_cache",
    ".ipynb_checkpoints",
    ".hypothesis",
    "build",
    "dist",
    "node_modules",
    "work",
}
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")
# the solutions, and the tests built from their text (tests/notebooks/mistakes plants wrong answers into solution lines)
INSTRUCTOR_ONLY = (
    exercises.SOLUTIONS,
    "tests/notebooks/mistakes",
    "tests/notebooks/test_exercise_mistakes.py",
    # the instructor's notebook (the classroom, the class's progress, reveal), in every language
    "notebooks/instructor.ipynb",
    "notebooks/pt-BR/instructor.ipynb",
    "labapp/locale/pt_BR/workbook/notebooks/instructor.po",
)
# the solutions' translation catalogs hold their text too (labapp/locale/pt_BR/workbook/solutions/...)
TRANSLATED_SOLUTIONS = re.compile(rf"^labapp/locale/[^/]+/workbook/{re.escape(exercises.SOLUTIONS)}/")
MIN_CHARS = 12  # shorter solution lines (`n += 1`, `)`) are too common to mean anything
TRIVIAL = re.compile(
    r"^(import\s|from\s+\S+\s+import\s|#|pass$|return$|return None$|continue$|break$"
    r"|else:$|try:$|finally:$|raise$|\"\"\"|''')"
)


def instructor_only(name: str) -> bool:
    """True for a project file that never goes into a student pack (a solution, or a test made of one)."""
    path = Path(name).as_posix()
    return any(path == kept or path.startswith(kept + "/") for kept in INSTRUCTOR_ONLY) or bool(
        TRANSLATED_SOLUTIONS.match(path)
    )


class PackError(RuntimeError):
    """The pack cannot be written, or would hold solution text."""


def project_files(root: Path) -> list[str]:
    """Relative paths to copy: git's tracked files (when git knows the folder), else a filtered walk."""
    root = Path(root)
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True)
        names = [n for n in listed.stdout.decode().split("\0") if n]
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if Path(top).resolve() == root.resolve():
            return sorted(n for n in names if (root / n).is_file())
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(SKIP_SUFFIXES))
        found += [str((Path(folder) / f).relative_to(root)) for f in files if not f.endswith(SKIP_SUFFIXES)]
    return sorted(found)


def solution_lines(root: Path) -> dict[str, str]:
    """Every non-trivial solution line (stripped) -> where it comes from (``solutions/x.ipynb cell N``)."""
    lines = {}
    for path in sorted((Path(root) / exercises.SOLUTIONS).rglob("*.ipynb")):  # every language's
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells, 1):
            for line in regions.solution_lines(cell.source, cell.cell_type):
                text = line.strip()
                if len(text.replace(" ", "").replace("\t", "")) >= MIN_CHARS and not TRIVIAL.match(text):
                    lines.setdefault(text, f"{exercises.SOLUTIONS}/{path.name} cell {index}")
    return lines


def _text_lines(path: Path) -> list[tuple[str, str]] | None:
    """(where, line) for each line of a text file; notebooks by cell and output; None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.reads(text, as_version=4)
        except Exception:
            pass
        else:
            found = []
            for index, cell in enumerate(nb.cells, 1):
                chunks = [cell.source] + [
                    o.get("text", "") if isinstance(o.get("text", ""), str) else "" for o in cell.get("outputs", [])
                ]
                chunks += [
                    str(v) for o in cell.get("outputs", []) for v in o.get("data", {}).values() if isinstance(v, str)
                ]
                found += [
                    (f"cell {index} line {n}", line) for chunk in chunks for n, line in enumerate(chunk.splitlines(), 1)
                ]
            return found
    return [(f"{n}", line) for n, line in enumerate(text.splitlines(), 1)]


def scan(folder: Path, lines: dict[str, str]) -> list[str]:
    """One sentence per place in ``folder`` where a solution line appears."""
    hits = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        content = _text_lines(path)
        if not content:
            continue
        whole = "\n".join(line for _where, line in content)
        suspects = [s for s in lines if s in whole]
        rel = path.relative_to(folder)
        for where, line in content:
            for solution in suspects:
                if solution in line:
                    sep = " " if where.startswith("cell") else ":"
                    hits.append(
                        f"{rel}{sep}{where}: "
                        + _("solution line from {source}: {line}").format(source=lines[solution], line=repr(solution))
                    )
    return hits


def pack(root: Path, dest: Path, lang: str = "en") -> list[str]:
    """Write the student pack of ``root`` into ``dest``; return the copied paths. PackError when refused.

    ``lang="pt-BR"``: the same files, and the pack's pyproject.toml makes Portuguese its workbook's language
    (`labapp lab` there opens notebooks/pt-BR, with JupyterLab in Portuguese)."""
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if lang != "en" and not (root / "notebooks" / lang).is_dir():
        raise PackError(_("no notebooks/{lang}/ in {root}: run `labapp i18n build` first").format(lang=lang, root=root))
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PackError(
            _("{folder} is not an empty folder: expected a new or empty folder for the pack").format(folder=dest)
        )
    if dest == root or root in dest.parents:
        raise PackError(
            _("{folder} is inside the project {root}: put the pack outside it").format(folder=dest, root=root)
        )
    if (root / exercises.SOLUTIONS).is_dir():
        stale = exercises.differences(root)
        if stale:
            raise PackError(
                _("exercises/ does not match solutions/: {problems}. Run `labapp exercises` first").format(
                    problems="; ".join(stale)
                )
            )
    lines = solution_lines(root)
    files = [f for f in project_files(root) if not instructor_only(f)]
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name in files:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
        hits = scan(dest, lines)
        if lang != "en":
            _set_language(dest / "pyproject.toml", lang)
    except BaseException:
        _remove_ours(dest, created)
        raise
    if hits:
        _remove_ours(dest, created)
        raise PackError(
            _("solution text found, so no pack was written:")
            + "\n  "
            + "\n  ".join(hits)
            + "\n"
            + _("Reword or remove those lines in the project, then pack again")
        )
    return files


def _set_language(pyproject: Path, lang: str) -> None:
    """Make lang the workbook's language in a pack's pyproject.toml ([tool.labapp] lang)."""
    import tomllib

    text = pyproject.read_text() if pyproject.exists() else ""
    if "labapp" in tomllib.loads(text).get("tool", {}):
        raise PackError(_("{file} already has a [tool.labapp] table: set its lang by hand").format(file=pyproject))
    pyproject.write_text(
        text.rstrip("\n") + f'\n\n[tool.labapp]\nlang = "{lang}"  # `labapp lab` opens this language\n'
    )


def _remove_ours(dest: Path, created: bool) -> None:
    """Remove what pack() wrote: the folder when pack() made it, else its contents (it was empty)."""
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
