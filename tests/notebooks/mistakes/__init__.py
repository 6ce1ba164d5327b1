"""Planted mistakes per exercise, as data: ``exNN.toml`` holds one ``[[mistake]]`` per wrong answer.

The runner is tests/notebooks/test_exercise_mistakes.py; ``load("ex03")`` gives its list of ``Mistake``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Mistake:
    """One realistic wrong answer, planted into a copy of a solution notebook by exact text replacement."""

    name: str  # what the student did, in words
    cell: str  # the solution notebook's cell id where the mistake is planted
    find: str | tuple[str, ...]  # exact text in that cell (a tuple: several edits in the same cell)
    replace: str | tuple[str, ...]  # what the student wrote instead (same length as find when a tuple)
    expect: str  # regex the check's failure message must match (it names the mistake)
    source: str  # where the mistake comes from (concept, Celery docs, a common Q&A question)
    extra_cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # more cells: id -> (find, replace)

    def edits(self) -> dict[str, list[tuple[str, str]]]:
        """Every (find, replace) pair per cell id, the main cell first."""
        finds = (self.find,) if isinstance(self.find, str) else self.find
        replaces = (self.replace,) if isinstance(self.replace, str) else self.replace
        if len(finds) != len(replaces):
            raise ValueError(f"{self.name}: find and replace differ in length")
        out = {self.cell: list(zip(finds, replaces))}
        for cell, pair in self.extra_cells.items():
            out.setdefault(cell, []).append(pair)
        return out


def _text_or_tuple(value):
    return tuple(value) if isinstance(value, list) else value


def load(exercise: str) -> list[Mistake]:
    """The mistakes of ``mistakes/<exercise>.toml`` (none if the file does not exist yet)."""
    path = HERE / f"{exercise}.toml"
    if not path.exists():
        return []
    tables = tomllib.loads(path.read_text())["mistake"]
    return [
        Mistake(
            **{key: _text_or_tuple(value) for key, value in table.items() if key != "extra_cells"},
            extra_cells={cell: tuple(pair) for cell, pair in table.get("extra_cells", {}).items()},
        )
        for table in tables
    ]
