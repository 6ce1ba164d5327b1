"""Solution and hidden-check regions in a cell's source: find them, stub them, strip them.

Markers, each alone on its line (indentation allowed, also inside a ``%%writefile`` cell)::

    ### BEGIN SOLUTION        ### BEGIN HIDDEN CHECKS
    ### END SOLUTION          ### END HIDDEN CHECKS

In markdown (and raw) cells the same markers may also be written as HTML comments, which
render invisibly: ``<!-- ### BEGIN SOLUTION -->`` ... ``<!-- ### END SOLUTION -->``.
A line that mentions a marker but is not exactly one is an error (a typo would leak a solution).
"""

from __future__ import annotations

import re

SOLUTION, HIDDEN = "SOLUTION", "HIDDEN CHECKS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError")  # nbgrader's convention
TEXT_STUB = ("YOUR ANSWER HERE",)

_BARE = re.compile(r"^(?P<indent>[ \t]*)### (?P<edge>BEGIN|END) (?P<kind>SOLUTION|HIDDEN CHECKS)[ \t]*$")
_COMMENT = re.compile(
    r"^(?P<indent>[ \t]*)<!--[ \t]*### (?P<edge>BEGIN|END) (?P<kind>SOLUTION|HIDDEN CHECKS)"
    r"[ \t]*-->[ \t]*$"
)
_LOOKALIKE = re.compile(r"(BEGIN|END)[ _]*(SOLUTION|HIDDEN[ _]*CHECKS?)", re.IGNORECASE)


class RegionError(ValueError):
    """Markers that do not pair up, or a line that looks like a marker and is not one."""


def _marker(line: str, cell_type: str, number: int):
    """(indent, edge, kind) when the line is a marker, else None; RegionError for a near miss."""
    text = line.rstrip("\r\n")
    found = _BARE.match(text) or (_COMMENT.match(text) if cell_type != "code" else None)
    if found:
        return found["indent"], found["edge"], found["kind"]
    if _LOOKALIKE.search(text):
        raise RegionError(
            f"line {number}: expected a marker such as `### BEGIN SOLUTION` alone on its line, "
            f"found {text.strip()!r}; fix the marker (a typo would leak the solution)"
        )
    return None


def split(source: str, cell_type: str = "code") -> list[tuple[str | None, str, list[str]]]:
    """Cut a source into pieces (kind, indent, lines): kind None outside regions, else SOLUTION or HIDDEN."""
    pieces: list[tuple[str | None, str, list[str]]] = [(None, "", [])]
    open_at = 0
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        marker = _marker(line, cell_type, number)
        kind = pieces[-1][0]
        if marker is None:
            pieces[-1][2].append(line)
            continue
        indent, edge, marked = marker
        if edge == "BEGIN":
            if kind is not None:
                raise RegionError(
                    f"line {number}: `### BEGIN {marked}` inside the `### BEGIN {kind}` of line "
                    f"{open_at}; close that region first with `### END {kind}`"
                )
            pieces.append((marked, indent, []))
            open_at = number
        else:
            if kind is None:
                raise RegionError(f"line {number}: `### END {marked}` without a `### BEGIN {marked}` before it")
            if kind != marked:
                raise RegionError(
                    f"line {number}: expected `### END {kind}` (for the `### BEGIN {kind}` of line "
                    f"{open_at}), found `### END {marked}`"
                )
            pieces.append((None, "", []))
    if pieces[-1][0] is not None:
        raise RegionError(
            f"line {open_at}: `### BEGIN {pieces[-1][0]}` has no `### END {pieces[-1][0]}` after it; add one"
        )
    return pieces


def stub(source: str, cell_type: str = "code", stubs: dict | None = None) -> tuple[str, bool]:
    """The student's version: solutions become stubs at the marker's indentation, hidden checks vanish.

    ``stubs``: {"code": lines, "text": lines} in another language than nbgrader's English ones."""
    stubs = stubs or {"code": CODE_STUB, "text": TEXT_STUB}
    out, had_solution = [], False
    for kind, indent, lines in split(source, cell_type):
        if kind is None:
            out.extend(lines)
        elif kind == SOLUTION:
            had_solution = True
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            stub_lines = stubs["code"] if cell_type == "code" else stubs["text"]
            out.extend(f"{indent}{text}\n" for text in stub_lines)
    text = "".join(out)
    if not source.endswith("\n") and text.endswith("\n"):
        text = text[:-1]  # a source without a final newline keeps none (Jupyter's habit)
    return text, had_solution


def solution_text(source: str, cell_type: str = "code") -> str:
    """The instructor's code to reveal: markers dropped, solutions kept, hidden checks removed."""
    text = "".join(line for kind, _, lines in split(source, cell_type) if kind != HIDDEN for line in lines)
    return text.rstrip("\n")


def solution_lines(source: str, cell_type: str = "code") -> list[str]:
    """Every line inside a solution region, as written."""
    return [line.rstrip("\r\n") for kind, _, lines in split(source, cell_type) if kind == SOLUTION for line in lines]


def has_solution(source: str, cell_type: str = "code") -> bool:
    """True when the source holds at least one solution region."""
    return any(kind == SOLUTION for kind, _, _ in split(source, cell_type))
