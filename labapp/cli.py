"""The ``labapp`` command: run, stop and inspect clusters, benchmark them, open the lessons."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import __version__, registry
from .settings import DELIVERIES, Settings


def _count(text: str) -> int:
    """A whole number >= 0 (a worker count); argparse shows the message, never this name."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number from 0 up is needed, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a whole number from 0 up is needed, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:  # the OS would silently take the value modulo 65536
        raise argparse.ArgumentTypeError(f"a TCP port is from 1 to 65535, got {value}")
    return value


def _stop_on_sigterm(*_):
    raise KeyboardInterrupt  # `kill PID` stops the cluster as cleanly as Ctrl-C


def cmd_up(args) -> int:
    """Start a cluster in the foreground until Ctrl-C."""
    from .cluster import Cluster

    try:
        cluster = Cluster(workers=args.workers, name=args.name, api_port=args.api_port,
                          broker_url=args.broker)
    except ValueError as exc:  # contradictory LABAPP_* settings
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _run_in_foreground(cluster, args.workers, _describe_up)


def _describe_up(cluster) -> list[str]:
    return [f"  API:     {cluster.api_url}",
            f"  broker:  {cluster.safe_broker_url}  (full URL: `labapp url --secret --name {cluster.name}`)",
            f"  logs:    {cluster.dir}",
            f"  try:     curl -X POST {cluster.api_url}/longtask -H 'Content-Type: application/json' -d '{{\"x\": 2}}'"]


def _run_in_foreground(cluster, workers: int, describe) -> int:
    """Start a cluster, print describe(cluster), keep it running until Ctrl-C or SIGTERM."""
    from .cluster import ClusterError

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (`cmd &`)
    print(f"starting {workers} worker(s)...", flush=True)
    started = time.monotonic()
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted while starting; stopped", file=sys.stderr)  # start() cleaned up
        return 130
    try:  # from here on, Ctrl-C at any moment (even mid-print) stops the cluster
        print(f"cluster ready in {time.monotonic() - started:.1f} s")
        for line in describe(cluster):
            print(line)
        print("Press Ctrl-C to stop everything.", flush=True)
        while cluster.running:
            time.sleep(0.5)
        print("error: a core component stopped; see the logs in " + str(cluster.dir), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        cluster.stop()
        print("stopped", flush=True)


def _broker_password(args) -> str | None:
    """The instructor's chosen broker password (file or environment), or None to generate one."""
    from . import classroom

    if args.password_file:
        text = Path(args.password_file).read_text().strip()
        return text.splitlines()[0].strip() if text else ""
    return os.environ.get(classroom.PASSWORD_ENV) or None


def cmd_serve(args) -> int:
    """Run a classroom cluster that other machines join (the instructor's command)."""
    from . import classroom
    from .cluster import LOOPBACK, Cluster

    if args.bind in ("0.0.0.0", "::"):
        print(f"error: --bind {args.bind} would open the lab on every network this machine is on: "
              "give the one address students reach, e.g. --bind 192.168.1.20", file=sys.stderr)
        return 2
    if args.bind not in LOOPBACK and not args.public:
        print(f"error: --bind {args.bind} opens the lab to the network: add --public to say you "
              "mean it", file=sys.stderr)
        return 2
    if args.public and args.bind in LOOPBACK:
        print("error: --public needs --bind ADDRESS, this machine's address on the class's network "
              "(e.g. --bind 192.168.1.20); without --public the class stays on 127.0.0.1", file=sys.stderr)
        return 2
    try:
        password = _broker_password(args)
    except OSError as exc:
        print(f"error: cannot read --password-file: {exc}", file=sys.stderr)
        return 2
    if password is not None:
        problem = classroom.password_problem(password)
        if problem:
            source = args.password_file or classroom.PASSWORD_ENV
            print(f"error: the students' broker password from {source} is too weak: {problem}. "
                  "Leave it out and a strong one is generated", file=sys.stderr)
            return 2
    try:
        cluster = Cluster(workers=args.workers, name=args.name, api_port=args.api_port,
                          classroom=True, bind=args.bind, broker_port=args.broker_port,
                          worker_password=password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def describe(cluster) -> list[str]:
        join_file = cluster.join_file
        if args.join_file:
            join_file = classroom.write_secret_file(Path(args.join_file), cluster.join_file.read_text())
        ports = f"TCP {cluster.broker.port} (broker) and {cluster.api_url.rsplit(':', 1)[1]} (API)"
        return [
            f"  API:       {cluster.public_api_url}  (Host names it answers to: "
            f"{cluster.settings.allowed_hosts or 'loopback only'})",
            f"  broker:    redis://{classroom.WORKER_USER}:***@{cluster.bind}:{cluster.broker.port}/0  "
            "(students' workers log in as user 'worker', which cannot reconfigure or wipe it)",
            f"  join file: {join_file}  (it holds the password: hand it out privately, never post it)",
            f"  students:  labapp join {join_file.name} --workers 2 --name THEIR_NAME  (in their "
            "project folder, with their copy of the file)",
            f"  firewall:  open {ports} to the class's network only",
            f"  logs:      {cluster.dir}",
            f"ready: {cluster.name} at {cluster.public_api_url}, join file {join_file}",
        ]
    return _run_in_foreground(cluster, args.workers, describe)


def _shown(path: Path) -> str:
    """A path as a user reads it best: relative to the current folder when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_join(args) -> int:
    """Join an instructor's class with N workers of this machine (the student's command)."""
    from . import classroom
    from .join import Joiner

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # redis://worker@HOST:PORT/0 (the password in LABAPP_BROKER_PASSWORD) is the safe way: no warning
    if args.source.startswith(("redis://", "rediss://")) and urlsplit(args.source).password is not None:
        print("warning: a password on the command line is visible to every user of this machine "
              "(`ps`); prefer the join file or LABAPP_BROKER_PASSWORD", file=sys.stderr)
    try:
        joiner = Joiner(args.source, workers=args.workers, name=args.name)
        print(f"joining the class at {classroom.where(joiner.url)} as {joiner.name}...", flush=True)
        joiner.start()
    except classroom.JoinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted while joining; left", file=sys.stderr)
        return 130
    try:
        print(f"joined class {joiner.info.get('name')!r} (API {joiner.info.get('api_url')}) with "
              f"{', '.join(joiner.node_names)}; logs in {_shown(joiner.dir)}")
        print("Press Ctrl-C to leave: running tasks finish first.", flush=True)
        code = joiner.watch(say=lambda text: print(text, flush=True))
        joiner.leave()
        print("left the class", flush=True)  # as after Ctrl-C: the student sees it is over
        return code
    except KeyboardInterrupt:
        print("\nleaving: running tasks finish first (Ctrl-C again to stop now: they go back to the "
              "queue and run elsewhere)", flush=True)
        try:
            joiner.leave()
        except KeyboardInterrupt:
            joiner.leave(now=True)
        print("left the class", flush=True)
        return 0


def cmd_url(args) -> int:
    """Print a running cluster's broker URL (masked, or whole with --secret) for your own tools."""
    from . import classroom

    chosen = _chosen(args.name)
    if chosen is None:
        return 1
    folder = Path(chosen[1]["dir"])
    from .cluster import JOIN_FILE, SECRET_URL_FILE

    secret = folder / (JOIN_FILE if args.join else SECRET_URL_FILE)
    try:
        url = secret.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        print(f"error: {secret} is missing: " + ("this cluster is no classroom (labapp serve)"
              if args.join else "the cluster uses an external broker, whose URL you gave it"),
              file=sys.stderr)
        return 1
    print(url if args.secret else f"{classroom.mask(url)}   (the whole URL: labapp url --secret; "
          f"it is in {_shown(secret)}, readable only by you)")
    return 0


def _registry_path():
    """Where the registry is; a bad LABAPP_* value elsewhere must not block `down` or `status`."""
    try:
        return Settings.from_env().registry_path
    except ValueError as exc:
        print(f"warning: {exc} (ignored by this command)", file=sys.stderr)
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
        return "this folder's"
    return f"folder {_shown(folder)}, below this one" if level == registry.BELOW else f"another folder's: {folder}"


def _by_closeness(entries: list) -> list:
    """Entries with this folder's clusters first, then those below it, then the others; by name in each."""
    runtime, cwd = _here()
    return sorted(entries, key=lambda pair: (registry.closeness(pair[1], runtime, cwd), pair[1].get("name", "")))


def _chosen(name: str | None):
    """The (path, entry) a command means: named, and this folder's first; None after saying why not."""
    entries = [(path, entry) for path, entry in registry.read_entries(_registry_path())
               if name is None or entry.get("name") == name]
    if not entries:
        print(f"error: no running cluster{'' if name is None else ' named ' + repr(name)} "
              "(see `labapp status`)", file=sys.stderr)
        return None
    runtime, cwd = _here()
    found = registry.closest(entries, runtime, cwd)
    if len(found) == 1:
        return found[0]
    listed = ", ".join(f"{entry.get('name', '?')} ({_belongs(entry, runtime, cwd)})"
                       for _, entry in sorted(found, key=lambda pair: pair[1].get("name", "")))
    if name is not None:
        how = "run this command in the folder of the one you mean"
    elif registry.closeness(found[0][1], runtime, cwd) == registry.HERE:
        how = "choose one with --name"
    else:
        how = f"none is this folder's ({cwd}): choose one with --name, or run this command in its folder"
    print(f"error: several clusters could be meant: {listed}; {how}", file=sys.stderr)
    return None


def _registered_clusters() -> list:
    """The registry's entries, this folder's first; says so when there are none."""
    entries = registry.read_entries(_registry_path())
    if not entries:
        print("no cluster is running")
    return _by_closeness(entries)


def _stop(path: Path, entry: dict, where: str) -> None:
    """Stop one registered cluster and say what stopped."""
    stopped = registry.stop_entry(path, entry)
    what = ", ".join(stopped) if stopped else "nothing was still running"
    print(f"{entry.get('name', '?')} in {_shown(entry.get('dir', '?'))} ({where}): stopped {what}")


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
        elif registry.closeness(entry, runtime, cwd) == registry.ELSEWHERE:
            print(f"{name} in {entry.get('dir', '?')} ({where}): left alone (run `labapp down` in its "
                  f"folder, or `labapp down --name {name}`)")
        elif registry.owner_alive(entry):
            print(f"{name} in {_shown(entry.get('dir', '?'))} ({where}): still in use by process "
                  f"{entry['owner']['pid']} (stop it there, or run `labapp down --name {name}`)")
        else:
            _stop(path, entry, where)
    return 0


def cmd_status(args) -> int:
    """List the clusters in the registry, this folder's first, with the state of each process."""
    runtime, cwd = _here()
    for _, entry in _registered_clusters():
        owner = entry["owner"]["pid"]
        alive = "alive" if registry.owner_alive(entry) else "dead (run `labapp down`)"
        print(f"{entry['name']} in {_shown(entry['dir'])} ({_belongs(entry, runtime, cwd)}; "
              f"started by pid {owner}, {alive})")
        print(f"  API {entry.get('api_url')}  broker {entry.get('broker_url')}")
        for child in entry["children"]:
            state = "running" if registry.is_same_process(child) else "gone"
            print(f"  {child['component']:<8} pid {child['pid']:<8} {state}")
        seen = _workers_seen(Path(entry["dir"]), entry["children"])
        if seen:
            print(f"  workers the broker sees: {seen}")
    return 0


def _workers_seen(folder: Path, children: list[dict]) -> str:
    """The broker's live workers, those of other machines or commands marked (joined); '' if unknown."""
    from . import classroom, heartbeat

    try:
        url = (folder / "broker.url").read_text().splitlines()[0].strip()
        client = classroom.connect(url, timeout=1)
        try:
            names = [worker["name"] for worker in heartbeat.live_workers(client)]
        finally:
            client.close()
    except Exception:  # no embedded broker, or it is down: the table above says enough
        return ""
    # whole node names: another machine's `celery -n w1@%h` is w1@its-name, not our w1
    ours = {f"{child['component']}@{classroom.node_host()}" for child in children}
    return ", ".join(name if name in ours else f"{name} (joined)" for name in names)


def cmd_bench(args) -> int:
    """Measure throughput against worker count (see labapp.bench)."""
    from .bench import cli_main

    return cli_main(args)


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


def cmd_lab(args) -> int:
    """Open JupyterLab on the lessons, with the cluster's runtime folder at the project root."""
    _write_lab_overrides()
    root = Path(args.root).resolve()
    notebooks = root / "notebooks"
    env = dict(os.environ)
    env.setdefault("LABAPP_RUNTIME_DIR", str(root / ".labapp"))
    first = sorted(notebooks.glob("00_*.ipynb"))
    # lesson 00 open, and with it the file browser in notebooks/
    start_at = (f"/lab/tree/notebooks/{first[0].name}" if first else
                "/lab/tree/notebooks" if notebooks.exists() else "/lab")
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={root}",
               f"--LabApp.default_url={start_at}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    headless = sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if args.no_browser or headless:
        command.append("--no-browser")
    # one Ctrl-C stops the server (and its kernels, and so their clusters), as the README says;
    # Jupyter's default asks "Shut down? (y/[n])" and resumes after 5 s without an answer
    command.append("--ServerApp.answer_yes=True")
    command += args.extra
    os.execve(sys.executable, command, env)


def cmd_exercises(args) -> int:
    """Generate exercises/ from solutions/, or with --check report what is stale."""
    from . import exercises

    return exercises.cli(Path(args.root), args.check)


def cmd_reveal(args) -> int:
    """Publish an exercise's solution for students' reveal(), list or withdraw them."""
    from . import reveal

    return reveal.cli(Path(args.root), args.exercise, args.list, args.hide, args.store)


def cmd_pack(args) -> int:
    """Write the student pack: the project without solutions/ and without solution text."""
    from . import pack

    return pack.cli(Path(args.root), Path(args.student))


def _command(sub, name: str, func, help: str, description: str | None = None):
    """A subcommand's parser, wired to the function that runs it."""
    parser = sub.add_parser(name, help=help, description=description or help)
    parser.set_defaults(func=func)
    return parser


def _root_option(parser) -> None:
    parser.add_argument("--root", default=".", help="the project's folder (default: the current one)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``labapp`` command."""
    parser = argparse.ArgumentParser(
        prog="labapp",
        description="Flask + Celery Cluster Lab: an embedded Redis broker, a Flask API and "
                    "Celery workers on your machine.",
        epilog="Examples: `labapp up --workers 4`, `labapp bench --workers 1,2,4,8 --kind sleep`, "
               "`labapp down`; a class on a network: `labapp serve --public --bind 192.168.1.20` "
               "(instructor), `labapp join class.join --workers 2 --name ana` (student). Settings "
               "come from LABAPP_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"labapp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start a cluster in the foreground (Ctrl-C stops it)",
                        description="Start the broker, the API and N workers; print the URLs; "
                                    "Ctrl-C stops everything.")
    up.add_argument("--workers", type=_count, default=2, help="number of worker processes (default 2)")
    up.add_argument("--api-port", type=_port, default=None, help="API port (default: a free port)")
    up.add_argument("--broker", default=None, metavar="URL",
                    help="use this Redis (redis://:password@host:port/0) instead of starting one")
    up.add_argument("--name", default="default", help="cluster name, for several in one folder")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop clusters left behind by a notebook or process that died",
                          description="Stop this folder's clusters whose starting process (a notebook "
                                      "kernel, `labapp up`) died without stopping them. Clusters still in "
                                      "use, and other folders' clusters, are left alone unless named with "
                                      "--name or --all is given.")
    which = down.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true",
                       help="stop every cluster of every folder, including those still in use")
    which.add_argument("--name", default=None,
                       help="stop this cluster, even if in use (this folder's first, as `labapp url`)")
    down.set_defaults(func=cmd_down)

    _command(sub, "status", cmd_status, "list running clusters and their processes",
             "List the clusters this machine's registry knows (started by notebooks, `labapp up` "
             "or tests), this folder's first: which folder each belongs to, who started it, whether "
             "that process is still alive, the API and broker URLs, and whether each of their "
             "processes still runs.")

    bench = sub.add_parser("bench", help="measure throughput against the number of workers",
                           description="Run the same batch of tasks at each worker count and report "
                                       "throughput, speedup and efficiency.")
    bench.add_argument("--workers", default="1,2,4,8", help="worker counts, comma-separated (default 1,2,4,8)")
    bench.add_argument("--kind", choices=("sleep", "cpu"), default="sleep",
                       help="sleep: waiting (I/O-bound); cpu: busy computing (CPU-bound)")
    bench.add_argument("--tasks", type=int, default=None,
                       help="tasks per point (default: the same share per worker, so every point "
                            "lasts about as long)")
    bench.add_argument("--duration", type=int, default=100, metavar="MS", help="work per task in ms (default 100)")
    bench.add_argument("--broker", default=None, metavar="URL", help="benchmark against this Redis instead of an embedded one")
    bench.add_argument("--delivery", choices=DELIVERIES, default=None,
                       help="at_least_once (the lab's default: ack after the task, prefetch 1) or "
                            "early_ack (Celery's defaults: faster, a killed worker's tasks are lost)")
    bench.add_argument("--json", default=None, metavar="FILE", help="write the records as JSON")
    bench.add_argument("--plot", default=None, metavar="FILE.png", help="write the throughput plot as PNG")
    bench.set_defaults(func=cmd_bench)

    sv = _command(sub, "serve", cmd_serve, "instructor: run a classroom cluster that students' machines join",
                  "Start a cluster whose broker and API other machines reach (with --public and "
                  "--bind ADDRESS), write the join file that students' `labapp join` reads, and print "
                  "what to open in the firewall. Ctrl-C ends the class. The students' password (the "
                  "broker's 'worker' user, in the join file) is generated, or read from --password-file "
                  "or LABAPP_BROKER_PASSWORD (at least 16 characters), never from the command line; "
                  "with it and --broker-port fixed, a restarted class keeps its join file valid.")
    sv.add_argument("--public", action="store_true",
                    help="listen on --bind for other machines (without it, loopback only)")
    sv.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                    help="this machine's address on the class's network, e.g. 192.168.1.20")
    sv.add_argument("--workers", type=_count, default=2, help="workers on this machine (default 2)")
    sv.add_argument("--api-port", type=_port, default=None, help="API port (default: a free port)")
    sv.add_argument("--broker-port", type=_port, default=None, help="broker port (default: a free port)")
    sv.add_argument("--password-file", default=None, metavar="FILE",
                    help="read the students' broker password from FILE (default: generate a strong one)")
    sv.add_argument("--join-file", default=None, metavar="FILE",
                    help="also write the students' join file here (it is always in the cluster's folder)")
    sv.add_argument("--name", default="classroom", help="the class's name (default classroom)")

    jn = _command(sub, "join", cmd_join, "student: add this machine's workers to an instructor's class",
                  "Start N workers here that take tasks from the instructor's broker, named "
                  "NAME-w1@this-machine...; check first that the password works and that both run "
                  "the same version of the lab. Ctrl-C leaves: running tasks finish first.")
    jn.add_argument("source", metavar="FILE_OR_URL",
                    help="the join file from the instructor, or redis://worker@HOST:PORT/0 with the "
                         "password in LABAPP_BROKER_PASSWORD")
    jn.add_argument("--workers", type=_count, default=2, help="worker processes here (default 2)")
    jn.add_argument("--name", default=None,
                    help="your name in the class, in your workers' names (default: your login name)")

    ur = _command(sub, "url", cmd_url, "print a cluster's broker URL, for Flower or your own tools",
                  "Print the broker URL of a running cluster of this machine (this folder's first), "
                  "masked; --secret prints "
                  "it whole, e.g. CELERY_BROKER_URL=$(labapp url --secret) celery -A labapp.worker flower. "
                  "The URL is also in the file this prints, readable only by you.")
    ur.add_argument("--name", default=None,
                    help="the cluster (default: the one in ./.labapp, else the one in a folder below this one, "
                         "else the only one running)")
    ur.add_argument("--secret", action="store_true", help="print the URL with its password")
    ur.add_argument("--join", action="store_true", help="the students' URL of a classroom, not yours")

    lab = _command(sub, "lab", cmd_lab, "open JupyterLab on the lessons",
                   "Start JupyterLab on the project with lesson 00 open and the clusters' runtime "
                   "folder in .labapp/; Ctrl-C stops it, its kernels and their clusters. Options "
                   "it does not know go to `jupyter lab` as they are.")
    _root_option(lab)
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser; print the URL")
    lab.add_argument("extra", nargs=argparse.REMAINDER,
                     help="more options for jupyter lab, passed on as they are (e.g. --port=8890)")
    lab.set_defaults(func=cmd_lab)

    ex = _command(sub, "exercises", cmd_exercises, "generate exercises/ from solutions/ (--check: only report)",
                  "Write exercises/ from solutions/: solution regions become stubs, hidden checks and "
                  "outputs go. With --check, write nothing and exit 1 naming each stale, missing or "
                  "extra notebook.")
    ex.add_argument("--check", action="store_true", help="exit 1 if exercises/ is not what generation gives")
    _root_option(ex)

    rv = _command(sub, "reveal", cmd_reveal, "instructor: let students' reveal('exNN') show a solution",
                  "Publish the solution code of exNN to the reveal store (a folder, default "
                  "~/.cache/labapp/revealed, or a redis:// URL; LABAPP_REVEAL_FROM or --store), where "
                  "students' reveal('exNN') reads it.")
    rv.add_argument("exercise", nargs="?", help="the exercise to reveal, e.g. ex01")
    rv.add_argument("--list", action="store_true", help="show what is revealed")
    rv.add_argument("--hide", metavar="EXNN", default=None, help="withdraw a revealed exercise")
    rv.add_argument("--store", metavar="DIR_OR_URL", default=None,
                    help="the reveal store (default: LABAPP_REVEAL_FROM, else ~/.cache/labapp/revealed)")
    _root_option(rv)

    pk = _command(sub, "pack", cmd_pack, "write a copy of the project for students, without solutions",
                  "Copy the files git tracks, without solutions/, into a new or empty folder; refuse "
                  "(exit 1) if any solution line is found in the copy.")
    pk.add_argument("--student", required=True, metavar="DIR", help="new or empty folder for the pack")
    _root_option(pk)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``labapp`` command."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "lab":  # jupyter lab's own options pass through, e.g. --port=8890
        args.extra = [a for a in unknown + args.extra if a != "--"]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
