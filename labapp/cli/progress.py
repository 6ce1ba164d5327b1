"""``labapp progress [--json]``: the instructor's view of the class, students × exercises (labapp.progress)."""

from __future__ import annotations

import json
from pathlib import Path

from labapp.cli.common import command, fail, root_option
from labapp.i18n import _


def _classrooms(name: str | None) -> list[tuple[Path, dict]]:
    """The running classrooms (clusters with a join file) of the registry, this folder's first."""
    from labapp.cli.clusters import _here, _registry_path
    from labapp.cluster import JOIN_FILE
    from labapp.engine import registry

    entries = [
        (path, entry)
        for path, entry in registry.read_entries(_registry_path())
        if (name is None or entry.get("name") == name) and (Path(entry.get("dir", "/")) / JOIN_FILE).is_file()
    ]
    runtime, cwd = _here()
    return registry.closest(entries, runtime, cwd) if entries else []


def _admin_url(entry: dict) -> str | None:
    """The classroom's broker URL with the lab's own password (readable by the instructor only)."""
    from labapp.cluster import SECRET_URL_FILE

    try:
        return (Path(entry["dir"]) / SECRET_URL_FILE).read_text().splitlines()[0].strip()
    except (OSError, IndexError, KeyError):
        return None


def cmd_progress(args) -> int:
    """Print the class's progress: a table (or JSON) of each student's latest result per exercise."""
    import redis

    from labapp import progress
    from labapp.engine import classroom_protocol

    found = _classrooms(args.name)
    if not found:
        if args.name:
            return fail(
                _("no running classroom named {name} (start one with `labapp serve`)").format(name=repr(args.name))
            )
        return fail(_("no running classroom here (start one with `labapp serve`)"))
    if len(found) > 1:
        names = ", ".join(sorted(entry.get("name", "?") for _path, entry in found))
        return fail(_("several classrooms run: {names}; choose one with --name").format(names=names))
    entry = found[0][1]
    url = _admin_url(entry)
    if url is None:
        return fail(_("cannot read the classroom's broker URL in {folder}").format(folder=entry.get("dir")))
    client = classroom_protocol.connect(url)
    try:
        info = classroom_protocol.read(client)
        if info is None:
            return fail(_("the broker of {name} runs no class any more").format(name=repr(entry.get("name"))))
        reader = progress.ClassProgress(
            client,
            progress.default_exercises(args.root),
            since=info.get("started"),
            expires=float(info.get("settings", {}).get("result_expires", 3600)),
        )
        reader.refresh()
        snapshot = reader.snapshot()
    except redis.RedisError as exc:
        return fail(_("cannot read the class's progress: {error}").format(error=exc))
    finally:
        client.close()
    if args.json:
        print(json.dumps({"class": info.get("name"), **snapshot}, indent=1, ensure_ascii=False))
    elif not snapshot["students"]:
        print(_("class {name}: no student has joined or run a check yet").format(name=repr(info.get("name"))))
    else:
        print(progress.table(snapshot))
    return 0


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    pg = command(
        sub,
        "progress",
        cmd_progress,
        _("instructor: each student's latest check per exercise, in the running class"),
        _(
            "Read what the students' checks reported to the classroom (`labapp serve`): a table of "
            "students by exercise with \u2713 (passed), \u2717 (not yet) and \u00b7 (not tried), the latest "
            "message and the time since each student's last check, then per exercise the counts and the "
            "most common failure. --json prints the same as JSON."
        ),
    )
    pg.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    pg.add_argument("--name", help=_("the classroom's name, when several run"))
    root_option(pg)
