"""``labapp serve`` (the instructor's classroom cluster) and ``labapp join`` (a student's machine joins it)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from labapp.cli.common import (
    command,
    fail,
    port_number,
    run_in_foreground,
    shown,
    stop_on_sigterm,
    worker_count,
)
from labapp.i18n import _


def _broker_password(args) -> str | None:
    """The instructor's chosen broker password (file or environment), or None to generate one."""
    from labapp.engine import classroom_protocol

    if args.password_file:
        text = Path(args.password_file).read_text().strip()
        return text.splitlines()[0].strip() if text else ""
    return os.environ.get(classroom_protocol.PASSWORD_ENV) or None


def cmd_serve(args) -> int:
    """Run a classroom cluster that other machines join (the instructor's command)."""
    from labapp.cluster import LOOPBACK, Cluster, ClusterError
    from labapp.engine import classroom_protocol, runtime_folder
    from labapp.engine.celery_config import CONTROL_ENV

    if isinstance(args.public, str):  # `--public ADDRESS`: the address is the one to bind
        if args.bind not in LOOPBACK and args.bind != args.public:
            return fail(
                _("--public {public} and --bind {bind} name two addresses: use --public --bind ADDRESS").format(
                    public=args.public, bind=args.bind
                ),
                2,
            )
        args.bind, args.public = args.public, True
    if args.bind in ("0.0.0.0", "::"):
        return fail(
            _(
                "--bind {address} would open the lab on every network this machine is on: "
                "give the one address students reach, e.g. --bind 192.168.1.20"
            ).format(address=args.bind),
            2,
        )
    if args.bind not in LOOPBACK and not args.public:
        return fail(
            _("--bind {address} opens the lab to the network: add --public to say you mean it").format(
                address=args.bind
            ),
            2,
        )
    if args.public and args.bind in LOOPBACK:
        return fail(
            _(
                "--public needs --bind ADDRESS, this machine's address on the class's network "
                "(e.g. --bind 192.168.1.20); without --public the class stays on 127.0.0.1"
            ),
            2,
        )
    try:
        password = _broker_password(args)
    except OSError as exc:
        return fail(_("cannot read --password-file: {error}").format(error=exc), 2)
    if password is not None:
        problem = classroom_protocol.password_problem(password)
        if problem:
            source = args.password_file or classroom_protocol.PASSWORD_ENV
            return fail(
                _(
                    "the students' broker password from {source} is too weak: {problem}. "
                    "Leave it out and a strong one is generated"
                ).format(source=source, problem=problem),
                2,
            )
    os.environ[CONTROL_ENV] = "inspect"  # the class's workers take no orders from a student's machine
    try:
        cluster = Cluster(
            workers=args.workers,
            name=args.name,
            api_port=args.api_port,
            classroom=True,
            bind=args.bind,
            broker_port=args.broker_port,
            worker_password=password,
        )
    except ValueError as exc:
        return fail(exc, 2)

    def describe(cluster) -> list[str]:
        join_file = cluster.join_file
        if args.join_file:
            join_file = runtime_folder.write_private_file(Path(args.join_file), cluster.join_file.read_text())
        ports = _("TCP {broker} (broker) and {api} (API)").format(
            broker=cluster.broker.port, api=cluster.api_url.rsplit(":", 1)[1]
        )
        broker = f"redis://{classroom_protocol.WORKER_USER}:***@{cluster.bind}:{cluster.broker.port}/0"
        return [
            _("  API:       {url}  (Host names it answers to: {hosts})").format(
                url=cluster.public_api_url, hosts=cluster.settings.allowed_hosts or _("loopback only")
            ),
            _(
                "  broker:    {url}  (students' workers log in as user 'worker', which may do only what a worker "
                "needs: see docs/classroom.md)"
            ).format(url=broker),
            _("  join file: {file}  (it holds the password: hand it out privately, never post it)").format(
                file=join_file
            ),
            _(
                "  students:  labapp join {file} --workers 2 --name THEIR_NAME  (in their "
                "project folder, with their copy of the file)"
            ).format(file=join_file.name),
            _("  firewall:  open {ports} to the class's network only").format(ports=ports),
            _("  logs:      {folder}").format(folder=cluster.dir),
            _("ready: {name} at {url}, join file {file}").format(
                name=cluster.name, url=cluster.public_api_url, file=join_file
            ),
        ]

    def replace_the_dead() -> None:
        try:
            replace_dead_workers(cluster, say=lambda text: print(text, flush=True))
        except ClusterError as exc:
            print(_("could not start the worker again: {error}").format(error=exc), flush=True)

    # a class runs unattended: a worker that exits is started again, saying so
    return run_in_foreground(cluster, args.workers, describe, watch=replace_the_dead)


def replace_dead_workers(cluster, say=print) -> list[str]:
    """Start again each of the class's workers that exited, saying which and how it ended; return their names."""
    from labapp.engine import logfiles

    dead = [name for name, child in cluster.workers.items() if not child.alive]
    for name in dead:
        child = cluster.workers[name]
        say(
            _("worker {node} exited ({how}): starting it again (its log: {log})").format(
                node=cluster.node_name(name), how=logfiles.describe_exit(child.proc.returncode), log=child.log
            )
        )
    if dead:
        cluster.scale(cluster.requested_workers)
    return dead


def cmd_join(args) -> int:
    """Join an instructor's class with N workers of this machine (the student's command)."""
    from labapp.engine import classroom_protocol
    from labapp.engine.joiner import Joiner

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # redis://worker@HOST:PORT/0 (the password in LABAPP_BROKER_PASSWORD) is the safe way: no warning
    if args.source.startswith(("redis://", "rediss://")) and urlsplit(args.source).password is not None:
        print(
            _(
                "warning: a password on the command line is visible to every user of this machine "
                "(`ps`); prefer the join file or LABAPP_BROKER_PASSWORD"
            ),
            file=sys.stderr,
        )
    try:
        joiner = Joiner(args.source, workers=args.workers, name=args.name)
        print(
            _("joining the class at {where} as {name}...").format(
                where=classroom_protocol.where(joiner.url), name=joiner.name
            ),
            flush=True,
        )
        joiner.start()
    except classroom_protocol.JoinError as exc:
        return fail(exc)
    except ValueError as exc:
        return fail(exc, 2)
    except KeyboardInterrupt:
        print("\n" + _("interrupted while joining; left"), file=sys.stderr)
        return 130
    try:
        print(
            _("joined class {name} (API {url}) with {workers}; logs in {folder}").format(
                name=repr(joiner.info.get("name")),
                url=joiner.info.get("api_url"),
                workers=", ".join(joiner.node_names),
                folder=shown(joiner.dir),
            )
        )
        print(_("Press Ctrl-C to leave: running tasks finish first."), flush=True)
        code = joiner.watch(say=lambda text: print(text, flush=True))
        joiner.leave()
        print(_("left the class"), flush=True)  # as after Ctrl-C: the student sees it is over
        return code
    except KeyboardInterrupt:
        print(
            "\n"
            + _(
                "leaving: running tasks finish first (Ctrl-C again to stop now: they go back to the "
                "queue and run elsewhere)"
            ),
            flush=True,
        )
        try:
            joiner.leave()
        except KeyboardInterrupt:
            joiner.leave(now=True)
        print(_("left the class"), flush=True)
        return 0


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    sv = command(
        sub,
        "serve",
        cmd_serve,
        _("instructor: run a classroom cluster that students' machines join"),
        _(
            "Start a cluster whose broker and API other machines reach (with --public and "
            "--bind ADDRESS), write the join file that students' `labapp join` reads, and print "
            "what to open in the firewall. Ctrl-C ends the class. The students' password (the "
            "broker's 'worker' user, in the join file) is generated, or read from --password-file "
            "or LABAPP_BROKER_PASSWORD (at least 16 characters), never from the command line; "
            "with it and --broker-port fixed, a restarted class keeps its join file valid. "
            "A worker of the class that exits is started again, and the command says so."
        ),
    )
    sv.add_argument(
        "--public",
        nargs="?",
        const=True,
        default=False,
        metavar="ADDRESS",
        help=_("listen on --bind (or on ADDRESS, the same) for other machines (without it, loopback only)"),
    )
    sv.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDRESS",
        help=_("this machine's address on the class's network, e.g. 192.168.1.20"),
    )
    sv.add_argument("--workers", type=worker_count, default=2, help=_("workers on this machine (default 2)"))
    sv.add_argument("--api-port", type=port_number, help=_("API port (default: a free port)"))
    sv.add_argument("--broker-port", type=port_number, help=_("broker port (default: a free port)"))
    sv.add_argument(
        "--password-file",
        metavar="FILE",
        help=_("read the students' broker password from FILE (default: generate a strong one)"),
    )
    sv.add_argument(
        "--join-file",
        metavar="FILE",
        help=_("also write the students' join file here (it is always in the cluster's folder)"),
    )
    sv.add_argument("--name", default="classroom", help=_("the class's name (default classroom)"))

    jn = command(
        sub,
        "join",
        cmd_join,
        _("student: add this machine's workers to an instructor's class"),
        _(
            "Start N workers here that take tasks from the instructor's broker, named "
            "NAME-w1@this-machine...; check first that the password works and that both run "
            "the same version of the lab. Ctrl-C leaves: running tasks finish first."
        ),
    )
    jn.add_argument(
        "source",
        metavar="FILE_OR_URL",
        help=_(
            "the join file from the instructor, or redis://worker@HOST:PORT/0 with the "
            "password in LABAPP_BROKER_PASSWORD"
        ),
    )
    jn.add_argument("--workers", type=worker_count, default=2, help=_("worker processes here (default 2)"))
    jn.add_argument("--name", help=_("your name in the class, in your workers' names (default: your login name)"))
