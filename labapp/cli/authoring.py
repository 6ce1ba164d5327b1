"""``labapp exercises``, ``reveal`` and ``pack``: the instructor's and the maintainers' commands."""

from __future__ import annotations

from pathlib import Path

from labapp.authoring import reveal_store
from labapp.authoring.exercises import (
    EXERCISES,
    SOLUTIONS,
    ExerciseError,
    differences,
    generate,
    solution_notebooks,
)
from labapp.authoring.pack import PackError, pack
from labapp.cli.common import command, fail, root_option
from labapp.reveal import solution_parts
from labapp.settings import Settings

EXERCISES_DESCRIPTION = (
    "Write exercises/ from solutions/: solution regions become stubs, hidden checks and "
    "outputs go. With --check, write nothing and exit 1 naming each stale, missing or "
    "extra notebook."
)

REVEAL_DESCRIPTION = (
    "Publish the solution code of exNN to the reveal store (a folder, default "
    "~/.cache/labapp/revealed, or a redis:// URL; LABAPP_REVEAL_FROM or --store), where "
    "students' reveal('exNN') reads it."
)

PACK_DESCRIPTION = (
    "Copy the files git tracks, without solutions/, into a new or empty folder; refuse "
    "(exit 1) if any solution line is found in the copy."
)


def exercises_command(root: Path, check: bool) -> int:
    """``labapp exercises [--check]``: print what was done or what is stale; the exit code."""
    root = Path(root)
    if not (root / SOLUTIONS).is_dir():
        print(
            f"no {SOLUTIONS}/ folder in {root.resolve()}: nothing to generate or check "
            "(a student pack has none; the instructor's copy does)"
        )
        return 0
    try:
        if check:
            problems = differences(root)
            for problem in problems:
                print(problem)
            if problems:
                print(f"{len(problems)} problem(s): run `labapp exercises` and commit {EXERCISES}/")
                return 1
            print(f"{EXERCISES}/ is up to date ({len(solution_notebooks(root))} notebook(s))")
            return 0
        for line in generate(root):
            print(line)
        return 0
    except ExerciseError as exc:
        return fail(exc)


def reveal_command(root: Path, exercise: str | None, show_list: bool, hide: str | None, store_at: str | None) -> int:
    """``labapp reveal exNN | --list | --hide exNN``: publish, list or withdraw; the exit code."""
    try:
        location = store_at if store_at is not None else Settings.from_env().reveal_from
        store = reveal_store.open_store(location)
        if show_list:
            names = store.names()
            if not names:
                print(f"nothing revealed yet in the {store}")
            for name in names:
                entry = store.get(name) or {}
                print(f"{name}  revealed {entry.get('revealed_at', '?')}  ({len(entry.get('parts', []))} cell(s))")
            return 0
        if hide:
            done = store.hide(reveal_store.check_name(hide))
            print(f"{hide} hidden again in the {store}" if done else f"{hide} was not revealed in the {store}")
            return 0
        if not exercise:
            return fail("name an exercise (labapp reveal ex01), or use --list or --hide ex01", 2)
        if not (Path(root) / SOLUTIONS).is_dir():
            return fail(
                f"no {SOLUTIONS}/ in {Path(root).resolve()}: run `labapp reveal` in the instructor's "
                "copy of the project (or pass --root)"
            )
        store.publish(reveal_store.record(exercise, solution_parts(root, exercise)))
        print(f"revealed {exercise} in the {store}: a student's reveal({exercise!r}) now shows it")
        return 0
    except (ValueError, reveal_store.StoreError) as exc:
        return fail(exc)


def pack_command(root: Path, dest: Path) -> int:
    """``labapp pack --student DIR``: print the outcome; the exit code."""
    try:
        files = pack(root, dest)
    except (PackError, ExerciseError) as exc:
        return fail(exc)
    print(
        f"wrote the student pack to {Path(dest).resolve()}: {len(files)} files, no {SOLUTIONS}/, "
        "no solution line found in any of them"
    )
    return 0


def cmd_exercises(args) -> int:
    """Generate exercises/ from solutions/, or with --check report what is stale."""
    return exercises_command(Path(args.root), args.check)


def cmd_reveal(args) -> int:
    """Publish an exercise's solution for students' reveal(), list or withdraw them."""
    return reveal_command(Path(args.root), args.exercise, args.list, args.hide, args.store)


def cmd_pack(args) -> int:
    """Write the student pack: the project without solutions/ and without solution text."""
    return pack_command(Path(args.root), Path(args.student))


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    ex = command(
        sub,
        "exercises",
        cmd_exercises,
        "generate exercises/ from solutions/ (--check: only report)",
        EXERCISES_DESCRIPTION,
    )
    ex.add_argument("--check", action="store_true", help="exit 1 if exercises/ is not what generation gives")
    root_option(ex)

    rv = command(
        sub, "reveal", cmd_reveal, "instructor: let students' reveal('exNN') show a solution", REVEAL_DESCRIPTION
    )
    rv.add_argument("exercise", nargs="?", help="the exercise to reveal, e.g. ex01")
    rv.add_argument("--list", action="store_true", help="show what is revealed")
    rv.add_argument("--hide", metavar="EXNN", help="withdraw a revealed exercise")
    rv.add_argument(
        "--store",
        metavar="DIR_OR_URL",
        help="the reveal store (default: LABAPP_REVEAL_FROM, else ~/.cache/labapp/revealed)",
    )
    root_option(rv)

    pk = command(sub, "pack", cmd_pack, "write a copy of the project for students, without solutions", PACK_DESCRIPTION)
    pk.add_argument("--student", required=True, metavar="DIR", help="new or empty folder for the pack")
    root_option(pk)
