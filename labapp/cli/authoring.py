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
from labapp.authoring.translation import FOLDER as TRANSLATED_FOLDER
from labapp.authoring.translation import LANG as TRANSLATED_LANG
from labapp.cli.common import command, fail, root_option
from labapp.i18n import _, ngettext
from labapp.reveal import solution_parts
from labapp.settings import Settings


def exercises_command(root: Path, check: bool) -> int:
    """``labapp exercises [--check]``: print what was done or what is stale; the exit code."""
    root = Path(root)
    if not (root / SOLUTIONS).is_dir():
        print(
            _(
                "no {solutions}/ folder in {root}: nothing to generate or check "
                "(a student pack has none; the instructor's copy does)"
            ).format(solutions=SOLUTIONS, root=root.resolve())
        )
        return 0
    try:
        if check:
            problems = differences(root)
            for problem in problems:
                print(problem)
            if problems:
                print(
                    ngettext(
                        "{n} problem(s): run `labapp exercises` and commit {exercises}/",
                        "{n} problem(s): run `labapp exercises` and commit {exercises}/",
                        len(problems),
                    ).format(n=len(problems), exercises=EXERCISES)
                )
                return 1
            count = len(solution_notebooks(root))
            print(
                ngettext(
                    "{exercises}/ is up to date ({n} notebook(s))",
                    "{exercises}/ is up to date ({n} notebook(s))",
                    count,
                ).format(exercises=EXERCISES, n=count)
            )
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
                print(_("nothing revealed yet in the {store}").format(store=store))
            for name in names:
                entry = store.get(name) or {}
                cells = len(entry.get("parts", []))
                print(
                    ngettext(
                        "{name}  revealed {when}  ({n} cell(s))", "{name}  revealed {when}  ({n} cell(s))", cells
                    ).format(name=name, when=entry.get("revealed_at", "?"), n=cells)
                )
            return 0
        if hide:
            done = store.hide(reveal_store.check_name(hide))
            said = _("{name} hidden again in the {store}") if done else _("{name} was not revealed in the {store}")
            print(said.format(name=hide, store=store))
            return 0
        if not exercise:
            return fail(_("name an exercise (labapp reveal ex01), or use --list or --hide ex01"), 2)
        if not (Path(root) / SOLUTIONS).is_dir():
            return fail(
                _(
                    "no {solutions}/ in {root}: run `labapp reveal` in the instructor's "
                    "copy of the project (or pass --root)"
                ).format(solutions=SOLUTIONS, root=Path(root).resolve())
            )
        english = solution_parts(root, exercise, "en")
        translated = solution_parts(root, exercise, TRANSLATED_LANG) if has_translation(root, exercise) else None
        store.publish(reveal_store.record(exercise, english, {TRANSLATED_LANG: translated} if translated else None))
        print(
            _("revealed {name} in the {store}: a student's reveal({quoted}) now shows it").format(
                name=exercise, store=store, quoted=repr(exercise)
            )
        )
        return 0
    except (ValueError, reveal_store.StoreError) as exc:
        return fail(exc)


def pack_command(root: Path, dest: Path, lang: str = "en") -> int:
    """``labapp pack --student DIR [--lang pt-BR]``: print the outcome; the exit code."""
    try:
        files = pack(root, dest, lang)
    except (PackError, ExerciseError) as exc:
        return fail(exc)
    print(
        ngettext(
            "wrote the student pack to {folder}: {n} files, no {solutions}/, no solution line found in any of them",
            "wrote the student pack to {folder}: {n} files, no {solutions}/, no solution line found in any of them",
            len(files),
        ).format(folder=Path(dest).resolve(), n=len(files), solutions=SOLUTIONS)
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
    return pack_command(Path(args.root), Path(args.student), args.lang)


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    ex = command(
        sub,
        "exercises",
        cmd_exercises,
        _("generate exercises/ from solutions/ (--check: only report)"),
        _(
            "Write exercises/ from solutions/: solution regions become stubs, hidden checks and "
            "outputs go. With --check, write nothing and exit 1 naming each stale, missing or "
            "extra notebook."
        ),
    )
    ex.add_argument("--check", action="store_true", help=_("exit 1 if exercises/ is not what generation gives"))
    root_option(ex)

    rv = command(
        sub,
        "reveal",
        cmd_reveal,
        _("instructor: let students' reveal('exNN') show a solution"),
        _(
            "Publish the solution code of exNN to the reveal store (a folder, default "
            "~/.cache/labapp/revealed, or a redis:// URL; LABAPP_REVEAL_FROM or --store), where "
            "students' reveal('exNN') reads it."
        ),
    )
    rv.add_argument("exercise", nargs="?", help=_("the exercise to reveal, e.g. ex01"))
    rv.add_argument("--list", action="store_true", help=_("show what is revealed"))
    rv.add_argument("--hide", metavar="EXNN", help=_("withdraw a revealed exercise"))
    rv.add_argument(
        "--store",
        metavar="DIR_OR_URL",
        help=_("the reveal store (default: LABAPP_REVEAL_FROM, else ~/.cache/labapp/revealed)"),
    )
    root_option(rv)

    pk = command(
        sub,
        "pack",
        cmd_pack,
        _("write a copy of the project for students, without solutions"),
        _(
            "Copy the files git tracks, without solutions/, into a new or empty folder; refuse "
            "(exit 1) if any solution line is found in the copy."
        ),
    )
    pk.add_argument("--student", required=True, metavar="DIR", help=_("new or empty folder for the pack"))
    pk.add_argument(
        "--lang",
        choices=("en", "pt-BR"),
        default="en",
        help=_("pt-BR: a Portuguese hand-out (`labapp lab` in the pack opens the Portuguese lessons; default: en)"),
    )
    root_option(pk)


def has_translation(root, exercise: str) -> bool:
    """True when the project has this exercise's solution translated (solutions/pt-BR/exNN_*.ipynb)."""
    return any((Path(root) / SOLUTIONS / TRANSLATED_FOLDER).glob(f"{exercise}_*.ipynb"))
