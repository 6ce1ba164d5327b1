"""``labapp up``, ``down``, ``status``, ``url`` and ``lab``: a cluster on this machine, and the lessons."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

from labapp.cli.common import (
    command,
    fail,
    port_number,
    root_option,
    run_in_foreground,
    shown,
    worker_count,
)
from labapp.engine import processes, registry
from labapp.i18n import _
from labapp.settings import Settings


def cmd_up(args) -> int:
    """Start a cluster in the foreground until Ctrl-C."""
    from labapp.cluster import Cluster

    try:
        cluster = Cluster(workers=args.workers, name=args.name, api_port=args.api_port, broker_url=args.broker)
    except ValueError as exc:  # contradictory LABAPP_* settings
        return fail(exc, 2)
    return run_in_foreground(cluster, args.workers, _describe_up)


def _describe_up(cluster) -> list[str]:
    return [
        _("  API:     {url}").format(url=cluster.api_url),
        _("  broker:  {url}  (full URL: `labapp url --secret --name {name}`)").format(
            url=cluster.safe_broker_url, name=cluster.name
        ),
        _("  logs:    {folder}").format(folder=cluster.dir),
        _("  try:     {command}").format(
            command=f"curl -X POST {cluster.api_url}/longtask -H 'Content-Type: application/json' -d '{{\"x\": 2}}'"
        ),
    ]


def cmd_url(args) -> int:
    """Print a running cluster's broker URL (masked, or whole with --secret) for your own tools."""
    from labapp.engine import classroom_protocol

    chosen = _chosen(args.name)
    if chosen is None:
        return 1
    folder = Path(chosen[1]["dir"])
    from labapp.cluster import JOIN_FILE, SECRET_URL_FILE

    secret = folder / (JOIN_FILE if args.join else SECRET_URL_FILE)
    try:
        url = secret.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return fail(
            (
                _("{file} is missing: this cluster is no classroom (labapp serve)")
                if args.join
                else _("{file} is missing: the cluster uses an external broker, whose URL you gave it")
            ).format(file=secret)
        )
    print(
        url
        if args.secret
        else _("{url}   (the whole URL: labapp url --secret; it is in {file}, readable only by you)").format(
            url=classroom_protocol.mask(url), file=shown(secret)
        )
    )
    return 0


def _registry_path():
    """Where the registry is; a bad LABAPP_* value elsewhere must not block `down` or `status`."""
    try:
        return Settings.from_env().registry_path
    except ValueError as exc:
        print(_("warning: {problem} (ignored by this command)").format(problem=exc), file=sys.stderr)
        return Settings(registry_dir=os.environ.get("LABAPP_REGISTRY_DIR") or Settings.registry_dir).registry_path


def _here() -> tuple[Path, Path]:
    """The runtime folder a cluster started here would use (./.labapp, or LABAPP_RUNTIME_DIR), and here."""
    try:
        runtime = Settings.from_env().runtime_path
    except ValueError:  # _registry_path() has said so already
        runtime = Path(os.environ.get("LABAPP_RUNTIME_DIR") or Settings.runtime_dir).expanduser().resolve()
    return runtime, Path.cwd().resolve()


def _belongs(entry: dict, runtime: Path, cwd: Path) -> str:
    """Which folder a cluster belongs to, as a user reads it: this one, one below it, or another."""
    level = registry.closeness(entry, runtime, cwd)
    folder = registry.project_folder(entry)
    if level == registry.HERE:
        return _("this folder's")
    if level == registry.BELOW:
        return _("folder {folder}, below this one").format(folder=shown(folder))
    if level == registry.ABOVE:
        return _("folder {folder}, which holds this one").format(folder=folder)
    return _("another folder's: {folder}").format(folder=folder)


def _by_closeness(entries: list) -> list:
    """This folder's clusters first, then those below it, then its project's, then the others; by name in each."""
    runtime, cwd = _here()
    return sorted(entries, key=lambda pair: (registry.closeness(pair[1], runtime, cwd), pair[1].get("name", "")))


def _chosen(name: str | None):
    """The (path, entry) a command means: named, and this folder's first; None after saying why not."""
    entries = [
        (path, entry)
        for path, entry in registry.read_entries(_registry_path())
        if name is None or entry.get("name") == name
    ]
    if not entries:
        fail(
            _("no running cluster (see `labapp status`)")
            if name is None
            else _("no running cluster named {name} (see `labapp status`)").format(name=repr(name))
        )
        return None
    runtime, cwd = _here()
    found = registry.closest(entries, runtime, cwd)
    if len(found) == 1:
        return found[0]
    listed = ", ".join(
        f"{entry.get('name', '?')} ({_belongs(entry, runtime, cwd)})"
        for _path, entry in sorted(found, key=lambda pair: pair[1].get("name", ""))
    )
    if name is not None:
        how = _("run this command in the folder of the one you mean")
    elif registry.closeness(found[0][1], runtime, cwd) == registry.HERE:
        how = _("choose one with --name")
    else:
        how = _("none is this folder's ({folder}): choose one with --name, or run this command in its folder").format(
            folder=cwd
        )
    fail(_("several clusters could be meant: {clusters}; {how}").format(clusters=listed, how=how))
    return None


def _registered_clusters() -> list:
    """The registry's entries, this folder's first; says so when there are none."""
    entries = registry.read_entries(_registry_path())
    if not entries:
        print(_("no cluster is running"))
    return _by_closeness(entries)


def _stop(path: Path, entry: dict, where: str) -> None:
    """Stop one registered cluster and say what stopped."""
    stopped = registry.stop_entry(path, entry)
    if stopped:
        line = _("{name} in {folder} ({where}): stopped {what}")
    else:
        line = _("{name} in {folder} ({where}): stopped nothing was still running")
    print(
        line.format(
            name=entry.get("name", "?"), folder=shown(entry.get("dir", "?")), where=where, what=", ".join(stopped)
        )
    )


def cmd_down(args) -> int:
    """Stop this folder's clusters left behind by a process that died; --name: that one; --all: every one."""
    if args.name is not None:
        chosen = _chosen(args.name)
        if chosen is None:
            return 1
        runtime, cwd = _here()
        _stop(*chosen, _belongs(chosen[1], runtime, cwd))
        return 0
    runtime, cwd = _here()
    for path, entry in _registered_clusters():
        name, where = entry.get("name", "?"), _belongs(entry, runtime, cwd)
        if args.all:
            _stop(path, entry, where)
        elif registry.closeness(entry, runtime, cwd) >= registry.ABOVE:  # never another folder's without asking
            print(
                _(
                    "{name} in {folder} ({where}): left alone (run `labapp down` in its "
                    "folder, or `labapp down --name {name}`)"
                ).format(name=name, folder=entry.get("dir", "?"), where=where)
            )
        elif registry.owner_alive(entry):
            print(
                _(
                    "{name} in {folder} ({where}): still in use by process "
                    "{pid} (stop it there, or run `labapp down --name {name}`)"
                ).format(name=name, folder=shown(entry.get("dir", "?")), where=where, pid=entry["owner"]["pid"])
            )
        else:
            _stop(path, entry, where)
    return 0


def cmd_status(args) -> int:
    """List the clusters in the registry, this folder's first, with the state of each process."""
    runtime, cwd = _here()
    entries = _registered_clusters()
    if args.name is not None:
        named = [(path, entry) for path, entry in entries if entry["name"] == args.name]
        if entries and not named:
            print(_("no cluster named {name} is running").format(name=args.name))
        entries = named
    for _path, entry in entries:
        owner = entry["owner"]["pid"]
        alive = _("alive") if registry.owner_alive(entry) else _("dead (run `labapp down`)")
        print(
            _("{name} in {folder} ({where}; started by pid {pid}, {alive})").format(
                name=entry["name"],
                folder=shown(entry["dir"]),
                where=_belongs(entry, runtime, cwd),
                pid=owner,
                alive=alive,
            )
        )
        print(_("  API {api}  broker {broker}").format(api=entry.get("api_url"), broker=entry.get("broker_url")))
        from labapp.cluster import no_heartbeat

        ages = _beat_ages(Path(entry["dir"]), entry["name"], entry["children"])
        for child in entry["children"]:
            state = _("running") if processes.is_same_process(child) else _("gone")
            if child["component"] in ages and state == _("running"):
                state = no_heartbeat(ages[child["component"]])
            print(f"  {child['component']:<8} pid {child['pid']:<8} {state}")
        seen = _workers_seen(Path(entry["dir"]), entry["children"])
        if seen:
            print(_("  workers the broker sees: {workers}").format(workers=seen))
    return 0


def _beat_ages(folder: Path, cluster: str, children: list[dict]) -> dict:
    """{worker: seconds since its last heartbeat} of the cluster's workers that beat no more (a stopped one)."""
    from labapp.engine import classroom_protocol, heartbeat

    workers = [child["component"] for child in children if re.fullmatch(r"w\d+", child["component"])]
    try:
        url = (folder / "broker.url").read_text().splitlines()[0].strip()
        client = classroom_protocol.connect(url, timeout=1)
    except Exception:  # no embedded broker: the beat files alone tell
        client = None
    host = classroom_protocol.node_host()

    def age(name: str):
        # w1@host on the cluster's own broker; NAME-w1@host on a shared one (Cluster.node_name)
        ages = [heartbeat.beat_age(client, node, folder) for node in (f"{name}@{host}", f"{cluster}-{name}@{host}")]
        return min((a for a in ages if a is not None), default=None)

    try:
        ages = {name: age(name) for name in workers}
    finally:
        if client is not None:
            client.close()
    return {name: age for name, age in ages.items() if heartbeat.is_stale(age)}


def _workers_seen(folder: Path, children: list[dict]) -> str:
    """The broker's live workers, those of other machines or commands marked (joined); '' if unknown."""
    from labapp.engine import classroom_protocol, heartbeat, other_apps

    try:
        url = (folder / "broker.url").read_text().splitlines()[0].strip()
        client = classroom_protocol.connect(url, timeout=1)
        try:
            names = [worker["name"] for worker in heartbeat.live_workers(client)]
        finally:
            client.close()
    except Exception:  # no embedded broker, or it is down: the table above says enough
        return ""
    # whole node names: another machine's `celery -n w1@%h` is w1@its-name, not our w1
    ours = {f"{child['component']}@{classroom_protocol.node_host()}" for child in children}
    seen = [name if name in ours else _("{name} (joined)").format(name=name) for name in names]
    return ", ".join(seen + [other_apps.describe(worker) for worker in other_apps.app_workers(url)])


LAB_OVERRIDES = {  # no news pop-up or update check in class: students have enough to read
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def _write_lab_overrides() -> None:
    """Install JupyterLab setting overrides into this environment (not the user's settings)."""
    path = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        current = json.loads(path.read_text()) if path.exists() else {}
        if all(current.get(k) == v for k, v in LAB_OVERRIDES.items()):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**current, **LAB_OVERRIDES}, indent=2))
    except (OSError, ValueError):
        pass  # a read-only environment: JupyterLab works without them


LAB_LANGUAGES = ("en", "pt-BR")
# JupyterLab's own menus in Portuguese: its language setting, in a user-settings folder of the project's own
# (.labapp/jupyterlab-pt-BR, first filled from the user's settings), given to this server only. A default
# (overrides.json) is not enough: the server translates the menus only for a locale in the user's settings.
LAB_LOCALE_PLUGIN = Path("@jupyterlab") / "translation-extension" / "plugin.jupyterlab-settings"


def _user_settings_dir() -> Path:
    """The user's own JupyterLab settings (read, never written here)."""
    from jupyterlab.commands import get_user_settings_dir

    return Path(get_user_settings_dir())


def lab_language(root: Path, lang: str, env: dict) -> tuple[Path, list[str]]:
    """The lessons' folder and jupyter lab's extra options for a language: notebooks/, or notebooks/pt-BR."""
    if lang != "pt-BR":
        return root / "notebooks", []
    from labapp.authoring import translation

    settings = Path(env["LABAPP_RUNTIME_DIR"]) / "jupyterlab-pt-BR" / "user-settings"
    if not settings.exists() and _user_settings_dir().is_dir():
        shutil.copytree(_user_settings_dir(), settings)  # the user's theme and shortcuts, in Portuguese
    (settings / LAB_LOCALE_PLUGIN).parent.mkdir(parents=True, exist_ok=True)
    (settings / LAB_LOCALE_PLUGIN).write_text(json.dumps({"locale": "pt_BR"}, indent=2) + "\n")
    return root / "notebooks" / translation.FOLDER, [f"--LabApp.user_settings_dir={settings}"]


def project_language(root: Path) -> str:
    """The workbook's language for `labapp lab` without --lang: pyproject.toml's [tool.labapp] lang, else en
    (a pack written with `labapp pack --student --lang pt-BR` says pt-BR there)."""
    import tomllib

    try:
        lang = tomllib.loads((Path(root) / "pyproject.toml").read_text())["tool"]["labapp"]["lang"]
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return "en"
    return lang if lang in LAB_LANGUAGES else "en"


def cmd_lab(args) -> int:
    """Open JupyterLab on the lessons, with the cluster's runtime folder at the project root."""
    _write_lab_overrides()
    root = Path(args.root).resolve()
    if args.lang is None:
        args.lang = project_language(root)
    env = dict(os.environ)
    env.setdefault("LABAPP_RUNTIME_DIR", str(root / ".labapp"))
    notebooks, language_options = lab_language(root, args.lang, env)
    if args.lang == "pt-BR":
        from labapp.authoring import translation

        translation.install_kernel()  # the kernel the pt-BR notebooks name (make install does it too)
    first = sorted(notebooks.glob("00_*.ipynb"))
    folder = notebooks.relative_to(root).as_posix()
    # lesson 00 open, and with it the file browser in its folder
    start_at = (
        f"/lab/tree/{folder}/{first[0].name}" if first else f"/lab/tree/{folder}" if notebooks.exists() else "/lab"
    )
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={root}", f"--LabApp.default_url={start_at}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    headless = sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if args.no_browser or headless:
        command.append("--no-browser")
    # one Ctrl-C stops the server (and its kernels, and so their clusters), as the README says;
    # Jupyter's default asks "Shut down? (y/[n])" and resumes after 5 s without an answer
    command.append("--ServerApp.answer_yes=True")
    command += language_options + args.extra
    os.execve(sys.executable, command, env)


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    up = sub.add_parser(
        "up",
        help=_("start a cluster in the foreground (Ctrl-C stops it)"),
        description=_("Start the broker, the API and N workers; print the URLs; Ctrl-C stops everything."),
    )
    up.add_argument("--workers", type=worker_count, default=2, help=_("number of worker processes (default 2)"))
    up.add_argument("--api-port", type=port_number, help=_("API port (default: a free port)"))
    up.add_argument(
        "--broker",
        metavar="URL",
        help=_("use this Redis (redis://default:password@host:port/0) instead of starting one"),
    )
    up.add_argument("--name", default="default", help=_("cluster name, for several in one folder"))
    up.set_defaults(func=cmd_up)

    down = sub.add_parser(
        "down",
        help=_("stop clusters left behind by a notebook or process that died"),
        description=_(
            "Stop this folder's clusters whose starting process (a notebook "
            "kernel, `labapp up`) died without stopping them. Clusters still in "
            "use, and other folders' clusters, are left alone unless named with "
            "--name or --all is given."
        ),
    )
    which = down.add_mutually_exclusive_group()
    which.add_argument(
        "--all", action="store_true", help=_("stop every cluster of every folder, including those still in use")
    )
    which.add_argument("--name", help=_("stop this cluster, even if in use (this folder's first, as `labapp url`)"))
    down.set_defaults(func=cmd_down)

    status = command(
        sub,
        "status",
        cmd_status,
        _("list running clusters and their processes"),
        _(
            "List the clusters this machine's registry knows (started by notebooks, `labapp up` "
            "or tests), this folder's first: which folder each belongs to, who started it, whether "
            "that process is still alive, the API and broker URLs, whether each of their "
            "processes still runs, and the workers the broker sees: the lab's, joined ones, and another "
            "app's (on database 1, see `labapp env`)."
        ),
    )
    status.add_argument("--name", help=_("only the clusters of this name (e.g. lesson09)"))

    ur = command(
        sub,
        "url",
        cmd_url,
        _("print a cluster's broker URL, for Flower or your own tools"),
        _(
            "Print the broker URL of a running cluster of this machine (this folder's first), "
            "masked; --secret prints "
            "it whole (with its user, default, so that redis-cli -u takes it as well as Celery and redis-py), "
            'e.g. redis-cli -u "$(labapp url --secret)" PING. The URL is also in the file this prints, '
            "readable only by you. Flower: `labapp flower`; your own Celery app: `labapp env`."
        ),
    )
    ur.add_argument(
        "--name",
        help=_(
            "the cluster (default: the one in ./.labapp, else the one in a folder below this one, "
            "else the only one running)"
        ),
    )
    ur.add_argument("--secret", action="store_true", help=_("print the URL with its password"))
    ur.add_argument("--join", action="store_true", help=_("the students' URL of a classroom, not yours"))

    lab = command(
        sub,
        "lab",
        cmd_lab,
        _("open JupyterLab on the lessons"),
        _(
            "Start JupyterLab on the project with lesson 00 open and the clusters' runtime "
            "folder in .labapp/; Ctrl-C stops it, its kernels and their clusters. Options "
            "it does not know go to `jupyter lab` as they are. With --lang pt-BR: the Portuguese "
            "lessons (notebooks/pt-BR, their kernel speaks Portuguese) and JupyterLab's menus in Portuguese, for "
            "this server only."
        ),
    )
    root_option(lab)
    lab.add_argument("--no-browser", action="store_true", help=_("do not open a browser; print the URL"))
    lab.add_argument(
        "--lang",
        choices=LAB_LANGUAGES,
        help=_(
            "pt-BR: the Portuguese lessons (notebooks/pt-BR) and JupyterLab's menus in Portuguese (default: "
            "pyproject.toml's [tool.labapp] lang, else en)"
        ),
    )
    lab.add_argument(
        "extra",
        nargs=argparse.REMAINDER,
        help=_("more options for jupyter lab, passed on as they are (e.g. --port=8890)"),
    )
    lab.set_defaults(func=cmd_lab)
